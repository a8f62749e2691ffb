/** JSON-lines logger: one object per line with time, level, msg and fields. */

export type Level = "trace" | "debug" | "info" | "warn" | "error";

const RANK: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  trace(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  enabled(level: Level): boolean;
}

export interface LoggerOptions {
  level: Level;
  /** Where lines go; stderr by default (see StderrLines) so stdout stays for command output. */
  write?: (line: string, level: Level) => void;
  /** Time source, injected so tests can pin it. */
  now?: () => Date;
}

const encoder = new TextEncoder();
const RESERVED = new Set(["time", "level", "msg"]);

function jsonSafe(_key: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

/**
 * Lines to stderr, gathered for up to FLUSH_MS and written at once: under
 * load a node logs a line per request, each request is a turn of the event
 * loop of its own, and one write per line (or per turn) was a system call
 * each, about 1 % of a node's busy time in the profile at 1,000 transfers/s
 * (bench/PROFILE.md, change 60). A warn or error line is written at once, after what is
 * gathered, and so is what is gathered when the process exits normally (the
 * unload event); a crash loses at most the last FLUSH_MS of info lines.
 */
/** How long a gathered line may wait to be written. */
const FLUSH_MS = 20;

class StderrLines {
  #pending: string[] = [];
  #scheduled = false;
  #hooked = false;

  write(line: string, now: boolean): void {
    this.#pending.push(line);
    if (now) return this.flush();
    if (!this.#hooked) {
      this.#hooked = true;
      globalThis.addEventListener?.("unload", () => this.flush());
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Unref'd: a line waiting to be written does not keep the process alive (unload writes it).
    Deno.unrefTimer(setTimeout(() => this.flush(), FLUSH_MS));
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join("\n") + "\n";
    this.#pending = [];
    const bytes = encoder.encode(text);
    for (let at = 0; at < bytes.length;) at += Deno.stderr.writeSync(bytes.subarray(at));
  }
}

const stderrLines = new StderrLines();

function errorFields(e: unknown): LogFields {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { error: e.message, error_name: e.name, ...(code !== undefined ? { error_code: code } : {}) };
  }
  return { error: String(e) };
}

export function createLogger(options: LoggerOptions, base: LogFields = {}): Logger {
  const min = RANK[options.level];
  const write = options.write ?? ((line: string, level: Level) => stderrLines.write(line, RANK[level] >= RANK.warn));
  const now = options.now ?? (() => new Date());
  const emit = (level: Level, msg: string, fields?: LogFields) => {
    if (RANK[level] < min) return;
    const record: LogFields = { time: now().toISOString(), level, msg };
    for (const [k, v] of Object.entries({ ...base, ...fields })) {
      if (k === "err") Object.assign(record, errorFields(v));
      // A field may not overwrite the line's own time, level or msg.
      else record[RESERVED.has(k) ? `field_${k}` : k] = typeof v === "bigint" ? v.toString() : v;
    }
    let line: string;
    try {
      // Without a replacer V8 takes its fast path; a bigint deeper down throws, and the replacer handles it.
      try {
        line = JSON.stringify(record);
      } catch {
        line = JSON.stringify(record, jsonSafe);
      }
    } catch (e) {
      // A logger never throws: a field that cannot be serialised (a cycle) is replaced.
      line = JSON.stringify({ time: now().toISOString(), level, msg, log_error: (e as Error).message });
    }
    write(line, level);
  };
  return {
    trace: (m, f) => emit("trace", m, f),
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(options, { ...base, ...fields }),
    enabled: (level) => RANK[level] >= min,
  };
}

/** A logger that drops everything, for tests and commands that must stay quiet. */
export const silentLogger: Logger = createLogger({ level: "error", write: () => {} });
