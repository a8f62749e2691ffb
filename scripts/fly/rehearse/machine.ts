/**
 * A stand-in Fly Machine on this host: its own network namespace with one
 * address on the rehearsal's 6PN (fdaa::/16, bridged to the hub namespace
 * where the DNS server answers `<app>.internal`), its own mount namespace and
 * root directory laid out like the image (/app/qudag-server, `qudag` on the
 * PATH, /etc/qudag and /keys from [[files]], the volume at /data, /etc from a
 * few copied files), and the image's command line run as the image's user
 * (uid 10001) with the environment Fly gives a machine: image ENV, [env],
 * secrets, FLY_*. /app/qudag-server is `deno run` with exactly the compile
 * task's permission flags, standing in for the compiled binary.
 *
 * Safety: a machine's root holds bind mounts of host directories only inside
 * its private mount namespace, which ends with its process; roots are removed
 * with --one-file-system after every process in them has exited.
 */
import { compileTaskRunFlags, ROOT } from "../../node_process.ts";
import {
  alive,
  type App,
  DNS_ADDRESS,
  flyId,
  FlyState,
  type Machine,
  machineAddress,
  SIXPN_PREFIX_LEN,
  type Volume,
} from "./state.ts";

export const HUB_BRIDGE = "qrhbr0";
const UID = 10001;

/** What the Dockerfile's runtime stage says a container is: ENV, ENTRYPOINT, CMD, USER, WORKDIR. */
export interface ImageFacts {
  readonly env: Record<string, string>;
  readonly entrypoint: string[];
  readonly cmd: string[];
  readonly user: string;
  readonly workdir: string;
}

/** Reads the facts from the last stage of a Dockerfile (the runtime image). */
export function imageFacts(dockerfile: string): ImageFacts {
  const text = dockerfile.replace(/\\\n/g, " ");
  const stages = text.split(/^FROM /m);
  const last = stages[stages.length - 1];
  const env: Record<string, string> = {};
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  let user = "root";
  let workdir = "/";
  for (const line of last.split("\n")) {
    const m = /^(ENV|ENTRYPOINT|CMD|USER|WORKDIR)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, op, arg] = m;
    if (op === "ENV") { for (const kv of arg.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g)) env[kv[1]] = kv[2]; }
    else if (op === "ENTRYPOINT") entrypoint = JSON.parse(arg);
    else if (op === "CMD") cmd = JSON.parse(arg);
    else if (op === "USER") user = arg.trim();
    else workdir = arg.trim();
  }
  return { env, entrypoint, cmd, user, workdir };
}

async function run(cmd: string, args: string[], what: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`${what}: ${cmd} ${args.join(" ")}: ${dec.decode(out.stderr).trim()}`);
  return dec.decode(out.stdout);
}

function netnsExists(name: string): boolean {
  try {
    Deno.statSync(`/run/netns/${name}`);
    return true;
  } catch {
    return false;
  }
}

/** The machine's network namespace, linked to the hub's bridge, with its 6PN address; made once per app. */
export async function ensureMachineNetwork(app: App): Promise<{ netns: string; ip: string }> {
  const netns = `qrh-${app.name}`;
  const ip = machineAddress(app.index);
  if (netnsExists(netns)) return { netns, ip };
  const hubSide = `qrh${app.index}h`;
  await run("ip", ["netns", "add", netns], "network");
  await run(
    "ip",
    ["-n", "qrh-hub", "link", "add", hubSide, "type", "veth", "peer", "name", "eth0", "netns", netns],
    "veth",
  );
  await run("ip", ["-n", "qrh-hub", "link", "set", hubSide, "master", HUB_BRIDGE, "up"], "bridge");
  await run("ip", ["-n", netns, "link", "set", "lo", "up"], "lo");
  await run("ip", ["-n", netns, "addr", "add", `${ip}/${SIXPN_PREFIX_LEN}`, "dev", "eth0", "nodad"], "address");
  await run("ip", ["-n", netns, "link", "set", "eth0", "up"], "eth0");
  return { netns, ip };
}

/** Host directories the stand-in binary needs, bound read-only at the same paths: the repo, node_modules, native/. */
function hostPaths(): string[] {
  const paths = [ROOT];
  for (const p of [`${ROOT}/node_modules`, `${ROOT}/native/target`]) {
    try {
      const real = Deno.realPathSync(p);
      if (!paths.some((q) => real === q || real.startsWith(`${q}/`))) paths.push(real);
    } catch { /* absent: the node falls back to WebCrypto, as the image would not */ }
  }
  return paths;
}

function sq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The image's /app/qudag-server, standing in for the compiled binary: deno run with the compile task's flags. */
function serverShim(): string {
  const deno = Deno.realPathSync(`${ROOT}/node_modules/.bin/deno`);
  return [
    "#!/bin/sh",
    "# Stand-in for the compiled qudag-server: deno run with exactly the compile task's permission flags.",
    `exec ${sq(deno)} run ${compileTaskRunFlags().map(sq).join(" ")} ${sq(`${ROOT}/main.ts`)} "$@"`,
    "",
  ].join("\n");
}

export interface MachineFile {
  readonly guestPath: string;
  readonly content: Uint8Array;
}

/** Lays out the machine's root directory: like the image, plus the files Fly writes at boot. */
function layRoot(root: string, files: readonly MachineFile[], env: Record<string, string>): void {
  for (const d of ["usr", "etc", "proc", "dev", "tmp", "data", "keys", "app", "root", "run", "etc/qudag", "localbin"]) {
    Deno.mkdirSync(`${root}/${d}`, { recursive: true });
  }
  for (const l of ["bin", "lib", "lib64", "sbin"]) {
    try {
      Deno.symlinkSync(Deno.readLinkSync(`/${l}`), `${root}/${l}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
  Deno.chmodSync(`${root}/tmp`, 0o1777);
  for (const f of ["group", "hosts", "nsswitch.conf", "ld.so.cache", "localtime"]) {
    try {
      Deno.copyFileSync(`/etc/${f}`, `${root}/etc/${f}`);
    } catch { /* optional */ }
  }
  Deno.writeTextFileSync(
    `${root}/etc/passwd`,
    Deno.readTextFileSync("/etc/passwd") + `qudag:x:${UID}:${UID}::/data:/usr/sbin/nologin\n`,
  );
  Deno.writeTextFileSync(`${root}/etc/group`, Deno.readTextFileSync("/etc/group") + `qudag:x:${UID}:\n`);
  // Fly's resolver answers <app>.internal: here the rehearsal's DNS server on the hub.
  Deno.writeTextFileSync(`${root}/etc/resolv.conf`, `nameserver ${DNS_ADDRESS}\n`);
  Deno.writeTextFileSync(`${root}/app/qudag-server`, serverShim(), { mode: 0o755 });
  Deno.chmodSync(`${root}/app/qudag-server`, 0o755);
  try {
    Deno.copyFileSync(`${ROOT}/native/target/release/libqudag_native.so`, `${root}/app/libqudag_native.so`);
  } catch { /* not built: WebCrypto */ }
  Deno.copyFileSync(`${ROOT}/scripts/fly/qudag`, `${root}/localbin/qudag`);
  Deno.chmodSync(`${root}/localbin/qudag`, 0o755);
  for (const f of files) {
    const path = `${root}${f.guestPath}`;
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    Deno.writeFileSync(path, f.content, { mode: 0o644 });
    Deno.chmodSync(path, 0o644);
  }
  const envText = Object.entries(env).map(([k, v]) => `${k}=${sq(v)}`).join("\n") + "\n";
  Deno.writeTextFileSync(`${root}/run/machine.env`, envText, { mode: 0o600 });
}

/** The machine's init: private mounts, then the image's command as the image's user, in its WORKDIR. */
function initScript(root: string, volumeDir: string, image: ImageFacts, command: string[]): string {
  const binds = hostPaths().flatMap((p) => [
    `mkdir -p ${sq(root + p)}`,
    `mount --bind ${sq(p)} ${sq(root + p)}`,
    `mount -o remount,bind,ro ${sq(root + p)}`,
  ]);
  const userSwitch = image.user === "root" ? "" : `setpriv --reuid=${UID} --regid=${UID} --clear-groups `;
  return [
    "set -eu",
    `R=${sq(root)}`,
    'mount --bind /usr "$R/usr"',
    'mount -o remount,bind,ro "$R/usr"',
    'mount --bind "$R/localbin" "$R/usr/local/bin"',
    'mount --rbind /dev "$R/dev"',
    'mount --bind /proc "$R/proc"',
    `mount --bind ${sq(volumeDir)} "$R/data"`,
    ...binds,
    `exec env -i PATH=/usr/sbin:/usr/bin:/bin chroot "$R" /bin/sh -c ${
      sq(
        `set -a; . /run/machine.env; set +a; cd ${image.workdir}; exec ${userSwitch}${command.map(sq).join(" ")}`,
      )
    }`,
    "",
  ].join("\n");
}

export interface StartOptions {
  readonly state: FlyState;
  readonly app: App;
  readonly region: string;
  readonly image: ImageFacts;
  /** The process command of fly.toml [processes] (replaces CMD), or CMD. */
  readonly command: string[];
  readonly env: Record<string, string>;
  readonly files: readonly MachineFile[];
  readonly volume: Volume;
  readonly ports: Record<string, number>;
}

/** Starts (or replaces) the app's machine; resolves once its process runs (health is the caller's check). */
export async function startMachine(o: StartOptions): Promise<Machine> {
  const previous = o.state.machine(o.app.name);
  if (previous) await stopMachine(o.state, o.app.name);
  const { netns, ip } = await ensureMachineNetwork(o.app);
  const id = previous?.id ?? flyId();
  const dir = o.state.appDir(o.app.name);
  const root = `${dir}/root-${Date.now()}`;
  const volumeDir = o.state.volumeDir(o.app.name, o.volume);
  Deno.mkdirSync(volumeDir, { recursive: true });
  Deno.chownSync(volumeDir, UID, UID);
  const env = {
    ...o.image.env,
    ...o.env,
    FLY_APP_NAME: o.app.name,
    FLY_REGION: o.region,
    FLY_PRIVATE_IP: ip,
    FLY_MACHINE_ID: id,
    // The stand-in binary is deno run: its module cache lives in the machine's /tmp.
    DENO_DIR: "/tmp/deno",
    NO_COLOR: "1",
  };
  layRoot(root, o.files, env);
  const command = [...o.image.entrypoint, ...o.command];
  Deno.writeTextFileSync(`${root}.init.sh`, initScript(root, volumeDir, o.image, command), { mode: 0o700 });
  const log = `${dir}/machine.log`;
  // Detached (setsid), so it outlives this `fly deploy`; its PID is the node's after the execs. Inherited
  // descriptors (a caller's flock on the CPU lock, say) are closed: a machine holds nothing of its starter.
  const out = await run("sh", [
    "-c",
    `exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&-; setsid nsenter --net=/run/netns/${netns} unshare --mount --propagation private sh ${
      sq(`${root}.init.sh`)
    } ` +
    `>>${sq(log)} 2>&1 </dev/null & echo $!`,
  ], "start");
  const pid = Number(out.trim());
  const machine: Machine = {
    id,
    app: o.app.name,
    region: o.region,
    privateIp: ip,
    netns,
    pid,
    state: "started",
    version: (previous?.version ?? 0) + 1,
    updatedAt: new Date().toISOString(),
    ports: o.ports,
    root,
    log,
  };
  o.state.setMachine(o.app.name, machine);
  return machine;
}

/** Stops the machine (SIGTERM, SIGKILL after 15 s) and removes its root once nothing runs in it. */
export async function stopMachine(state: FlyState, app: string): Promise<void> {
  const m = state.machine(app);
  if (!m) return;
  if (alive(m.pid)) {
    try {
      Deno.kill(m.pid, "SIGTERM");
    } catch { /* gone */ }
    const deadline = Date.now() + 15_000;
    while (alive(m.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(m.pid)) {
      try {
        Deno.kill(m.pid, "SIGKILL");
      } catch { /* gone */ }
      while (alive(m.pid)) await new Promise((r) => setTimeout(r, 50));
    }
  }
  await removeRoot(m.root);
  state.setMachine(app, { ...m, pid: 0, state: "stopped", updatedAt: new Date().toISOString() });
}

/** Removes a machine root: never crossing into another file system (a leftover mount is left alone). */
export async function removeRoot(root: string): Promise<void> {
  if (Deno.env.get("QUDAG_REHEARSAL_KEEP") === "1") return;
  await new Deno.Command("rm", { args: ["-rf", "--one-file-system", root, `${root}.init.sh`] }).output();
}

/** The machine's environment as `fly ssh console` sessions see it. */
export function machineEnv(m: Machine): Record<string, string> {
  const env: Record<string, string> = {};
  const text = Deno.readTextFileSync(`${m.root}/run/machine.env`);
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i <= 0) continue;
    env[line.slice(0, i)] = line.slice(i + 1).replace(/^'|'$/g, "").replaceAll(`'\\''`, "'");
  }
  return env;
}

/** `nsenter` arguments that run `argv` inside the machine (its mount and network namespaces, root, cwd), as root. */
export function consoleArgv(m: Machine, argv: string[]): string[] {
  const env = { ...machineEnv(m), PATH: "/usr/local/bin:/usr/sbin:/usr/bin:/bin", HOME: "/root" };
  return [
    "nsenter",
    "-t",
    String(m.pid),
    "-m",
    "-n",
    "-r",
    "-w",
    "--",
    "/usr/bin/env",
    "-i",
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...argv,
  ];
}
