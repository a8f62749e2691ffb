/**
 * `deno task fly:rehearse [--short] [--keep]`: scripts/fly/deploy.sh against a
 * stand-in `fly` on this host, end to end, as root.
 *
 * - A hub network namespace with a bridge on a private IPv6 range like Fly's
 *   6PN (fdaa::/16) and a DNS server at fdaa::3 answering `<app>.internal`.
 * - `fly deploy` makes each app's Machine (machine.ts): a network namespace
 *   with its 6PN address, a root laid out like the image, the image's command
 *   line with the compile task's permission flags, as uid 10001, data at /data.
 * - `fly secrets import/set` feed the machine's environment; `fly ssh console
 *   --app A --command C` runs C inside A's machine.
 * - deploy.sh runs phases 1-6 (the seed's phase 4-6 commands on the machines),
 *   then the seed's phase 6 block runs verbatim, and every node must agree.
 *   Without --short, deploy.sh runs a second time: nothing is made twice, the
 *   nodes restart from their volumes and still agree.
 * - Everything started is stopped and every namespace deleted, also on failure.
 */
import { ROOT } from "../../node_process.ts";
import { stopMachine } from "./machine.ts";
import { DNS_ADDRESS, FlyState, HUB_NETNS, SIXPN_PREFIX_LEN } from "./state.ts";
import { HUB_BRIDGE } from "./machine.ts";

const APPS = ["qudag-node1", "qudag-node2", "qudag-node3", "qudag-node4"];
/** The whole rehearsal must end within this; a stuck step fails it instead of hanging CI. */
const REHEARSAL_TIMEOUT_MS = 15 * 60_000;

const short = Deno.args.includes("--short");
const keep = Deno.args.includes("--keep");

function say(text: string): void {
  console.log(`\n### rehearsal: ${text}`);
}

async function sh(cmd: string, args: string[], o: { env?: Record<string, string>; quiet?: boolean } = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    env: o.env,
    stdin: "null",
    stdout: o.quiet ? "piped" : "inherit",
    stderr: o.quiet ? "piped" : "inherit",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout ?? new Uint8Array()) };
}

async function must(cmd: string, args: string[], what: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${what}: ${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

function netnsList(): string[] {
  try {
    return [...Deno.readDirSync("/run/netns")].map((e) => e.name).filter((n) => n.startsWith("qrh-"));
  } catch {
    return [];
  }
}

async function preflight(): Promise<void> {
  if (Deno.uid() !== 0) throw new Error("the rehearsal needs root (network and mount namespaces)");
  for (const tool of ["ip", "nsenter", "unshare", "setpriv", "chroot", "mount", "setsid", "bash"]) {
    if ((await sh("sh", ["-c", `command -v ${tool}`], { quiet: true })).code !== 0) {
      throw new Error(`the rehearsal needs ${tool} on the PATH`);
    }
  }
  const left = netnsList();
  if (left.length > 0) {
    throw new Error(
      `network namespaces ${left.join(", ")} exist: another rehearsal runs, or one was killed; ` +
        "remove them with `ip netns delete NAME` once nothing runs in them (`ip netns pids NAME`)",
    );
  }
}

async function makeHub(): Promise<void> {
  await must("ip", ["netns", "add", HUB_NETNS], "hub");
  await must("ip", ["-n", HUB_NETNS, "link", "set", "lo", "up"], "hub lo");
  await must("ip", ["-n", HUB_NETNS, "link", "add", HUB_BRIDGE, "type", "bridge"], "bridge");
  await must(
    "ip",
    ["-n", HUB_NETNS, "addr", "add", `${DNS_ADDRESS}/${SIXPN_PREFIX_LEN}`, "dev", HUB_BRIDGE, "nodad"],
    "bridge address",
  );
  await must("ip", ["-n", HUB_NETNS, "link", "set", HUB_BRIDGE, "up"], "bridge up");
}

function shim(path: string, text: string): void {
  Deno.writeTextFileSync(path, text, { mode: 0o755 });
  Deno.chmodSync(path, 0o755);
}

async function startDns(env: Record<string, string>): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("nsenter", {
    args: [
      `--net=/run/netns/${HUB_NETNS}`,
      Deno.execPath(),
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--allow-run=ps",
      `${ROOT}/scripts/fly/rehearse/dns.ts`,
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  if (!first.value?.includes("listening")) throw new Error(`dns server did not start: ${first.value}`);
  // Keep draining its query log so it never blocks on a full pipe.
  void (async () => {
    while (!(await reader.read()).done) { /* drained */ }
  })();
  console.log(first.value.trim());
  return child;
}

/** An agent proof for alice, as a user would place it for the machine's /keys (deploy.sh ships it). */
function writeAliceProof(out: string): void {
  const dir = `${out}/files/node1/keys`;
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(
    `${dir}/alice-kyc.json`,
    JSON.stringify(
      {
        format: "qudag-agent-proof/1",
        account: "alice",
        issuedAt: new Date(Date.now() - 60_000).toISOString(),
        issuer: "rehearsal-kyc",
        evidence: { checked: "identity document", reference: "rehearsal" },
      },
      null,
      2,
    ) + "\n",
  );
}

/** Reads one node's view through `fly ssh console` (the CLI on the machine), as JSON. */
async function onMachine(env: Record<string, string>, app: string, command: string): Promise<Record<string, unknown>> {
  const r = await new Deno.Command(`${env.QUDAG_REHEARSAL_BIN}/fly`, {
    args: ["ssh", "console", "--app", app, "--command", command],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(r.stdout);
  if (!r.success) throw new Error(`${app}: ${command}: ${new TextDecoder().decode(r.stderr)}${text}`);
  return JSON.parse(text);
}

/** Every node reports the same ledger, with the seed's results, and is connected to the three others. */
async function checkAgreement(env: Record<string, string>, boots: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const views = await Promise.all(APPS.map(async (app) => ({
      app,
      exchange: await onMachine(env, app, "qudag exchange status --json"),
      node: await onMachine(env, app, "qudag status --json"),
    })));
    const hashes = new Set(views.map((v) => v.exchange.stateHash));
    const peers = views.map((v) => (v.node.peers as unknown[]).length);
    const locked = views.every((v) => v.exchange.lock !== null);
    if (hashes.size === 1 && peers.every((p) => p === APPS.length - 1) && locked) {
      const e = views[0].exchange;
      if (e.supply !== "10000000") throw new Error(`supply is ${e.supply}, expected the seed's 10000000 rUv`);
      const nodeBoots = views.map((v) => (v.node.node as { boots: number }).boots);
      if (nodeBoots.some((b) => b !== boots)) throw new Error(`boots per node ${nodeBoots}, expected ${boots} each`);
      console.log(
        `all ${APPS.length} nodes agree: state hash ${[...hashes][0]}, supply ${e.supply} rUv, ` +
          `${e.accountCount} accounts, configuration locked, each with ${APPS.length - 1} peers, boot ${boots}`,
      );
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`nodes disagree after 60 s: hashes ${[...hashes].join(" ")}, peers ${peers}, locked ${locked}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function teardown(state: FlyState | null, dns: Deno.ChildProcess | null, work: string | null): Promise<void> {
  say("teardown: stopping every machine, the DNS server, deleting the namespaces");
  await Promise.all(
    (state?.apps() ?? []).map((app) =>
      stopMachine(state!, app.name).catch((e) => console.error(`stopping ${app.name}: ${(e as Error).message}`))
    ),
  );
  if (dns) {
    try {
      dns.kill("SIGTERM");
    } catch { /* gone */ }
    await dns.status;
  }
  for (const ns of netnsList()) {
    const pids = (await sh("ip", ["netns", "pids", ns], { quiet: true })).stdout.split("\n").filter((p) => p);
    for (const pid of pids) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* gone */ }
    }
    await sh("ip", ["netns", "delete", ns], { quiet: true });
  }
  const left = netnsList();
  if (left.length > 0) console.error(`left behind: ${left.join(", ")}`);
  // Machine roots hold bind mounts only inside their own (private, now ended) mount namespaces.
  if (work && !keep) await sh("rm", ["-rf", "--one-file-system", work], { quiet: true });
  else if (work) console.log(`kept ${work} (--keep)`);
}

async function rehearse(): Promise<void> {
  const started = Date.now();
  let state: FlyState | null = null;
  let dns: Deno.ChildProcess | null = null;
  let work: string | null = null;
  const timer = setTimeout(() => {
    console.error(`rehearsal: still running after ${REHEARSAL_TIMEOUT_MS / 60_000} min; stopping everything`);
    void teardown(state, dns, work).finally(() => Deno.exit(1));
  }, REHEARSAL_TIMEOUT_MS);
  try {
    await preflight();
    work = await Deno.makeTempDir({ prefix: "qudag-rehearsal-" });
    const stateDir = `${work}/fly`;
    const bin = `${work}/bin`;
    const out = `${work}/out`;
    Deno.mkdirSync(stateDir);
    Deno.mkdirSync(bin);
    state = new FlyState(stateDir);
    const deno = Deno.execPath();
    shim(
      `${bin}/fly`,
      `#!/bin/sh\n# flyctl stand-in (scripts/fly/rehearse/fly.ts)\nexec ${deno} run --allow-read --allow-write ` +
        `--allow-run --allow-env ${ROOT}/scripts/fly/rehearse/fly.ts "$@"\n`,
    );
    shim(
      `${bin}/curl`,
      `#!/bin/sh\n# curl stand-in: https://<app>.fly.dev over the rehearsal's network (scripts/fly/rehearse/curl.ts)\n` +
        `exec nsenter --net=/run/netns/${HUB_NETNS} ${deno} run --allow-read --allow-env --allow-net ` +
        `${ROOT}/scripts/fly/rehearse/curl.ts "$@"\n`,
    );
    const env: Record<string, string> = {
      PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/bin"}`,
      HOME: Deno.env.get("HOME") ?? "/root",
      QUDAG_REHEARSAL_STATE: stateDir,
      QUDAG_REHEARSAL_BIN: bin,
      NO_COLOR: "1",
      RUST_BACKTRACE: "0",
      ...(keep ? { QUDAG_REHEARSAL_KEEP: "1" } : {}),
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    };

    say(`a private IPv6 network like Fly's 6PN: hub ${HUB_NETNS}, bridge ${HUB_BRIDGE}, DNS at [${DNS_ADDRESS}]:53`);
    await makeHub();
    dns = await startDns(env);
    writeAliceProof(out);

    say("scripts/fly/deploy.sh (phases 1-6) against the stand-in fly");
    const deployed = await new Deno.Command("bash", {
      args: [`${ROOT}/scripts/fly/deploy.sh`, "--out", out],
      cwd: work,
      env,
      clearEnv: true,
      stdin: "null",
    }).spawn().status;
    if (!deployed.success) throw new Error(`deploy.sh failed (exit ${deployed.code})`);

    say("the seed's phase 6 commands, verbatim (scripts/fly/rehearse/seed_phase6.sh)");
    const seed = Deno.readTextFileSync(`${ROOT}/scripts/fly/rehearse/seed_phase6.sh`);
    // The seed leaves `fly logs --follow &` running; the runner ends those jobs after the last command.
    const phase6 = await new Deno.Command("bash", {
      args: ["-c", `${seed}\nstatus=$?\nsleep 1\nkill $(jobs -p) 2>/dev/null\nwait 2>/dev/null\nexit $status`],
      cwd: work,
      env,
      clearEnv: true,
      stdin: "null",
    }).spawn().status;
    if (!phase6.success) throw new Error(`the seed's phase 6 commands failed (exit ${phase6.code})`);

    say("every node agrees");
    await checkAgreement(env, 1);

    if (!short) {
      say("deploy.sh again: idempotent (nothing made twice), nodes restart from their volumes");
      const again = await new Deno.Command("bash", {
        args: [`${ROOT}/scripts/fly/deploy.sh`, "--out", out],
        cwd: work,
        env,
        clearEnv: true,
        stdin: "null",
      }).spawn().status;
      if (!again.success) throw new Error(`the second deploy.sh failed (exit ${again.code})`);
      await checkAgreement(env, 2);
    }
    say(`passed in ${((Date.now() - started) / 1000).toFixed(0)} s${short ? " (short form)" : ""}`);
  } finally {
    clearTimeout(timer);
    await teardown(state, dns, work);
  }
}

if (import.meta.main) {
  try {
    await rehearse();
  } catch (e) {
    console.error(`\nrehearsal failed: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
