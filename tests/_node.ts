/**
 * Starts the real node as a subprocess with exactly the permission flags of
 * deno.json's `start` task (data directory swapped for a temporary one), and
 * follows its JSON log on stderr.
 */
import { baseEnv, ROOT, startTaskArgs } from "../scripts/node_process.ts";

export { startTaskArgs };

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export interface NodeProcess {
  child: Deno.ChildProcess;
  lines: LogLine[];
  /** Raw stderr text, for messages that are not JSON (start-up errors). */
  stderr(): string;
  stdout(): string;
  /** Resolves with the "node ready" line, or rejects when the process exits first or time runs out. */
  ready(timeoutMs?: number): Promise<{ http: string; metrics: string; line: LogLine }>;
  /** Sends a signal and waits for the exit status (bounded). */
  stop(signal?: Deno.Signal, timeoutMs?: number): Promise<Deno.CommandStatus>;
  status: Promise<Deno.CommandStatus>;
}

export function spawnNode(o: {
  dataDir: string;
  args?: string[];
  env?: Record<string, string>;
  script?: string;
  scriptArgs?: string[];
}): NodeProcess {
  const args = startTaskArgs(o.dataDir, o.script, o.scriptArgs ?? ["start", ...(o.args ?? [])]);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { ...baseEnv(), QUDAG_DATA_DIR: o.dataDir, ...o.env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: LogLine[] = [];
  let errText = "";
  let outText = "";
  const waiters: (() => void)[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>, isErr: boolean) => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      const text = dec.decode(chunk, { stream: true });
      if (!isErr) {
        outText += text;
        continue;
      }
      errText += text;
      buf += text;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          lines.push(JSON.parse(line));
        } catch { /* not a log line */ }
      }
      waiters.splice(0).forEach((w) => w());
    }
  };
  const pumps = Promise.all([pump(child.stdout, false), pump(child.stderr, true)]);
  const status = child.status.then(async (s) => {
    await pumps;
    waiters.splice(0).forEach((w) => w());
    return s;
  });
  let exited = false;
  status.then(() => exited = true);

  return {
    child,
    lines,
    status,
    stderr: () => errText,
    stdout: () => outText,
    async ready(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        const line = lines.find((l) => l.msg === "node ready");
        if (line) return { http: String(line.http), metrics: String(line.metrics), line };
        if (exited) throw new Error(`node exited before ready:\n${errText}`);
        if (Date.now() > deadline) throw new Error(`node not ready after ${timeoutMs} ms:\n${errText}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 100);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
    async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = 10_000) {
      if (!exited) {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
      const r = await Promise.race([status, timeout]);
      clearTimeout(timer);
      if (r === "timeout") {
        child.kill("SIGKILL");
        await status;
        throw new Error(`node did not exit within ${timeoutMs} ms of ${signal}`);
      }
      return r;
    },
  };
}

/** Runs the CLI once (with the start task's permissions) and returns code and output. */
export async function runCliOnce(
  dataDir: string,
  scriptArgs: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: startTaskArgs(dataDir, "main.ts", scriptArgs),
    cwd: ROOT,
    env: { ...baseEnv(), QUDAG_DATA_DIR: dataDir, ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
