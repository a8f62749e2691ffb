/**
 * A stand-in for flyctl, for `deno task fly:rehearse`: the commands
 * scripts/fly/deploy.sh and the seed's phases use, acting on machines of this
 * host (machine.ts) instead of Fly's. Unknown commands or flags fail loudly,
 * so the rehearsal never passes over something the real flyctl would do.
 *
 *   apps list --json | apps create NAME [--org ORG]
 *   volumes list --app A [--json] | volumes create NAME --size GB --region R --app A [--yes]
 *   secrets list --app A [--json] | secrets import --app A [--stage] (stdin) | secrets set K=V... --app A [--stage]
 *   deploy [DIR] --config FILE [--dockerfile FILE] --app A [--ha=false]
 *   status --app A | logs --app A [--follow|-f|--no-tail]
 *   ssh console --app A [--command CMD]
 */
import { parse as parseToml } from "smol-toml";
import { consoleArgv, imageFacts, type MachineFile, startMachine } from "./machine.ts";
import { alive, flyId, FlyState, HUB_NETNS, type Secret } from "./state.ts";

class FlyError extends Error {}

interface Args {
  positionals: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set([
  "--app",
  "-a",
  "--org",
  "--size",
  "--region",
  "-r",
  "--config",
  "-c",
  "--dockerfile",
  "--command",
  "-C",
]);
const BOOL_FLAGS = new Set(["--json", "-j", "--yes", "-y", "--stage", "--follow", "-f", "--no-tail"]);

function parse(argv: string[]): Args {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const name = a.startsWith("-") && eq > 0 ? a.slice(0, eq) : a;
    if (name === "--ha") {
      flags.set("--ha", eq > 0 ? a.slice(eq + 1) : true);
    } else if (VALUE_FLAGS.has(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new FlyError(`flag needs an argument: ${name}`);
      flags.set(name, v);
    } else if (BOOL_FLAGS.has(a)) {
      flags.set(a, true);
    } else if (a.startsWith("-")) {
      throw new FlyError(`unknown flag: ${a} (this stand-in knows only what deploy.sh and the seed use)`);
    } else positionals.push(a);
  }
  return { positionals, flags };
}

function str(a: Args, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = a.flags.get(n);
    if (typeof v === "string") return v;
  }
  return undefined;
}

function appOf(state: FlyState, a: Args) {
  const name = str(a, "--app", "-a");
  if (!name) throw new FlyError("the app name could not be found: pass --app");
  const app = state.app(name);
  if (!app) throw new FlyError(`Could not find App "${name}"`);
  return app;
}

/** flyctl's `secrets import` format: NAME=VALUE lines, # comments, "quoted" and """multi-line""" values. */
export function parseSecrets(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("#") || line.trim() === "") continue;
    const eq = line.indexOf("=");
    if (eq < 0) throw new FlyError(`Secrets must be provided as NAME=VALUE pairs (${line} is invalid)`);
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).replace(/^ +/, "");
    if (value.startsWith('"""')) {
      const parts = [value.slice(3)];
      while (++i < lines.length && !lines[i].endsWith('"""')) parts.push(lines[i]);
      parts.push((lines[i] ?? "").slice(0, -3));
      value = parts.join("\n");
    } else if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out[key] = value;
  }
  return out;
}

function digest(value: string): string {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(value)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

async function setSecrets(state: FlyState, a: Args, values: Record<string, string>): Promise<void> {
  const app = appOf(state, a);
  const stage = a.flags.has("--stage");
  const secrets = state.secrets(app.name);
  for (const [k, v] of Object.entries(values)) secrets[k] = { value: v, staged: stage };
  state.setSecrets(app.name, secrets);
  console.log(
    stage
      ? "Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the secrets to take effect."
      : "Secrets are deployed",
  );
  if (!stage && state.machine(app.name)?.state === "started") await deploy(state, a, true);
}

type FlyToml = {
  app?: string;
  primary_region?: string;
  env?: Record<string, string>;
  files?: { guest_path: string; local_path?: string; secret_name?: string; raw_value?: string }[];
  mounts?: { source: string; destination: string } | { source: string; destination: string }[];
  processes?: Record<string, string>;
  services?: { internal_port: number; ports?: { port: number }[]; http_checks?: { path: string }[] }[];
};

/** The config last deployed, so a secrets change redeploys what runs. */
function lastConfig(state: FlyState, app: string): { config: FlyToml; workdir: string } | null {
  try {
    return JSON.parse(Deno.readTextFileSync(`${state.appDir(app)}/deployed.json`));
  } catch {
    return null;
  }
}

async function deploy(state: FlyState, a: Args, redeploy = false): Promise<void> {
  const app = appOf(state, a);
  let config: FlyToml;
  let workdir: string;
  let dockerfile: string;
  if (redeploy) {
    const last = lastConfig(state, app.name);
    if (!last) return;
    ({ config, workdir } = last);
    dockerfile = `${workdir}/Dockerfile`;
  } else {
    // `fly deploy [WORKING_DIRECTORY]`: flyctl changes into it; local paths are read from there.
    workdir = a.positionals[1] ? Deno.realPathSync(a.positionals[1]) : Deno.cwd();
    const file = str(a, "--config", "-c") ?? `${workdir}/fly.toml`;
    config = parseToml(Deno.readTextFileSync(file)) as FlyToml;
    dockerfile = str(a, "--dockerfile") ?? `${workdir}/Dockerfile`;
    if (config.app && config.app !== app.name) {
      console.error(`note: ${file} names app ${config.app}; deploying to ${app.name} (--app)`);
    }
    if (a.flags.get("--ha") !== "false") {
      throw new FlyError("this stand-in makes one machine per app: pass --ha=false (a volume-backed node has one)");
    }
  }
  const image = imageFacts(Deno.readTextFileSync(dockerfile));
  const mounts = Array.isArray(config.mounts) ? config.mounts : config.mounts ? [config.mounts] : [];
  if (mounts.length !== 1 || mounts[0].destination !== "/data") {
    throw new FlyError("a Fly Machine mounts exactly one volume; expected [mounts] at /data");
  }
  const volume = state.volumes(app.name).find((v) => v.name === mounts[0].source);
  if (!volume) throw new FlyError(`app ${app.name} has no volume named ${mounts[0].source}: fly volumes create first`);
  // Deploying applies staged secrets.
  const secrets = state.secrets(app.name);
  const env: Record<string, string> = { ...config.env };
  for (const [k, s] of Object.entries(secrets)) {
    env[k] = s.value;
    secrets[k] = { ...s, staged: false };
  }
  state.setSecrets(app.name, secrets);
  const files: MachineFile[] = (config.files ?? []).map((f) => {
    let content: Uint8Array;
    if (f.local_path !== undefined) {
      const path = f.local_path.startsWith("/") ? f.local_path : `${workdir}/${f.local_path}`;
      content = Deno.readFileSync(path);
    } else if (f.secret_name !== undefined) {
      const s = secrets[f.secret_name];
      if (!s) throw new FlyError(`[[files]] ${f.guest_path}: no secret named ${f.secret_name}`);
      content = Uint8Array.fromBase64(s.value.trim());
    } else if (f.raw_value !== undefined) content = new TextEncoder().encode(f.raw_value);
    else throw new FlyError(`[[files]] ${f.guest_path} has no local_path, secret_name or raw_value`);
    return { guestPath: f.guest_path, content };
  });
  const process = config.processes?.app;
  const command = process ? process.split(/\s+/).filter((w) => w !== "") : image.cmd;
  const ports: Record<string, number> = {};
  for (const s of config.services ?? []) for (const p of s.ports ?? []) ports[String(p.port)] = s.internal_port;
  Deno.writeTextFileSync(`${state.appDir(app.name)}/deployed.json`, JSON.stringify({ config, workdir }));
  console.log(`==> Deploying ${app.name} (stand-in machine, image from ${dockerfile})`);
  const m = await startMachine({
    state,
    app,
    region: config.primary_region ?? "yyz",
    image,
    command,
    env,
    files,
    volume,
    ports,
  });
  // Fly waits for the service checks: /health on the first service's internal port.
  const check = config.services?.[0];
  const path = check?.http_checks?.[0]?.path ?? "/";
  const url = `http://[${m.privateIp}]:${check?.internal_port ?? 8080}${path}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (!alive(m.pid)) {
      state.setMachine(app.name, { ...m, state: "failed" });
      throw new FlyError(`machine ${m.id} exited before passing its health check; logs:\n${tail(m.log, 30)}`);
    }
    if (await probe(url)) break;
    if (Date.now() > deadline) throw new FlyError(`machine ${m.id} failed its health check ${url} for 90 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`  Machine ${m.id} [app] update finished: success (health check ${path} passing, 6PN ${m.privateIp})`);
}

/** An HTTP GET from the hub namespace (where Fly's proxy and checks would reach the machine from). */
async function probe(url: string): Promise<boolean> {
  const out = await new Deno.Command("nsenter", {
    args: [
      `--net=/run/netns/${HUB_NETNS}`,
      Deno.execPath(),
      "eval",
      `const r = await fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(2000) }).catch(() => null);` +
      "Deno.exit(r && r.ok ? 0 : 1);",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

function tail(path: string, lines: number): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Splits a --command string into words as flyctl's ssh does: quotes group, no shell, no expansion. */
export function shellWords(cmd: string): string[] {
  const words: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let any = false;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < cmd.length) cur += cmd[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      any = true;
    } else if (c === "\\" && i + 1 < cmd.length) {
      cur += cmd[++i];
      any = true;
    } else if (/\s/.test(c)) {
      if (any || cur) words.push(cur);
      cur = "";
      any = false;
    } else cur += c;
  }
  if (quote) throw new FlyError(`unterminated quote in --command ${cmd}`);
  if (any || cur) words.push(cur);
  return words;
}

async function ssh(state: FlyState, a: Args): Promise<number> {
  if (a.positionals[1] !== "console") throw new FlyError(`unknown command: ssh ${a.positionals[1] ?? ""}`);
  const app = appOf(state, a);
  const m = state.machine(app.name);
  if (!m || m.state !== "started" || !alive(m.pid)) throw new FlyError(`app ${app.name} has no started machine`);
  const cmd = str(a, "--command", "-C");
  const argv = cmd === undefined ? ["/bin/sh"] : shellWords(cmd);
  const [bin, ...args] = consoleArgv(m, argv);
  // An interactive console without --command reads its commands from this process's stdin.
  const child = new Deno.Command(bin, { args, stdin: "inherit", stdout: "inherit", stderr: "inherit" }).spawn();
  return (await child.status).code;
}

async function logs(state: FlyState, a: Args): Promise<void> {
  const app = appOf(state, a);
  const m = state.machine(app.name);
  if (!m) throw new FlyError(`app ${app.name} has no machine`);
  const follow = !a.flags.has("--no-tail") && (a.flags.has("--follow") || a.flags.has("-f"));
  const file = await Deno.open(m.log);
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) {
      if (!follow) break;
      await new Promise((r) => setTimeout(r, 300));
      continue;
    }
    await Deno.stdout.write(buf.subarray(0, n).map((b) => b));
  }
  file.close();
}

function status(state: FlyState, a: Args): void {
  const app = appOf(state, a);
  const m = state.machine(app.name);
  const running = m !== null && m.state === "started" && alive(m.pid);
  console.log(`App\n  Name     = ${app.name}\n  Owner    = ${app.org}\n  Hostname = ${app.name}.fly.dev\n`);
  if (!m) {
    console.log("No machines are available on this app");
    return;
  }
  console.log("Machines");
  console.log("PROCESS\tID\tVERSION\tREGION\tSTATE\tCHECKS\tLAST UPDATED");
  console.log(
    `app\t${m.id}\t${m.version}\t${m.region}\t${running ? "started" : m.state === "started" ? "failed" : m.state}\t` +
      `${running ? "1 total, 1 passing" : "1 total, 1 critical"}\t${m.updatedAt}`,
  );
}

export async function main(argv: string[]): Promise<number> {
  const state = FlyState.fromEnv();
  const a = parse(argv);
  const [group, verb] = a.positionals;
  const json = a.flags.has("--json") || a.flags.has("-j");
  switch (`${group} ${verb ?? ""}`.trim()) {
    case "apps list":
      console.log(JSON.stringify(state.apps().map((x) => ({ Name: x.name, Organization: { Slug: x.org } }))));
      return 0;
    case "apps create": {
      const name = a.positionals[2];
      if (!name) throw new FlyError("apps create needs a name");
      if (state.app(name)) throw new FlyError(`Name "${name}" is already taken`);
      state.createApp(name, str(a, "--org") ?? "personal");
      console.log(`New app created: ${name}`);
      return 0;
    }
    case "volumes list": {
      const vols = state.volumes(appOf(state, a).name);
      console.log(
        json
          ? JSON.stringify(vols.map((v) => ({ id: v.id, name: v.name, size_gb: v.sizeGb, region: v.region })))
          : vols.map((v) => `${v.id}\t${v.name}\t${v.sizeGb}GB\t${v.region}`).join("\n"),
      );
      return 0;
    }
    case "volumes create": {
      const app = appOf(state, a);
      const name = a.positionals[2];
      const size = Number(str(a, "--size") ?? "1");
      const region = str(a, "--region", "-r");
      if (!name || !region || !Number.isInteger(size) || size < 1 || size > 500) {
        throw new FlyError("volumes create NAME --size 1..500 --region R --app A");
      }
      const vols = state.volumes(app.name);
      const v = { id: `vol_${flyId()}`, name, sizeGb: size, region };
      state.setVolumes(app.name, [...vols, v]);
      console.log(`        ID: ${v.id}\n      Name: ${name}\n    Region: ${region}\n   Size GB: ${size}`);
      return 0;
    }
    case "secrets list": {
      const s = state.secrets(appOf(state, a).name);
      const rows = Object.entries(s).map(([name, x]) => ({
        name,
        digest: digest(x.value),
        status: x.staged ? "Staged" : "Deployed",
      }));
      console.log(json ? JSON.stringify(rows) : rows.map((r) => `${r.name}\t${r.digest}\t${r.status}`).join("\n"));
      return 0;
    }
    case "secrets import": {
      const text = await new Response(Deno.stdin.readable).text();
      const values = parseSecrets(text);
      if (Object.keys(values).length === 0) throw new FlyError("requires at least one SECRET=VALUE pair");
      await setSecrets(state, a, values);
      return 0;
    }
    case "secrets set": {
      const values: Record<string, string> = {};
      for (const kv of a.positionals.slice(2)) {
        const eq = kv.indexOf("=");
        if (eq <= 0) throw new FlyError(`Secrets must be provided as NAME=VALUE pairs (${kv} is invalid)`);
        values[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      await setSecrets(state, a, values);
      return 0;
    }
    case "status":
      status(state, a);
      return 0;
    case "logs":
      await logs(state, a);
      return 0;
  }
  if (group === "deploy") {
    await deploy(state, a);
    return 0;
  }
  if (group === "ssh") return await ssh(state, a);
  throw new FlyError(`unknown command: ${a.positionals.join(" ")} (this stand-in knows only what deploy.sh uses)`);
}

export type { Secret };

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`Error: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
