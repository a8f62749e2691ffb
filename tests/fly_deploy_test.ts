/**
 * scripts/fly/: deploy.sh --dry-run prints exactly the fly commands of the
 * seed's phases 1 to 6 and touches nothing; every node's fly.toml comes from
 * the one template (the repository's fly.toml is node1's); the image and the
 * configuration agree on names, paths and permissions.
 */
import assert from "node:assert/strict";
import { parse as parseToml } from "smol-toml";
import denoJson from "../deno.json" with { type: "json" };
import { ENV_NAMES } from "../src/config/mod.ts";
import { parseNodes, renderFlyToml, TEMPLATE_PATH } from "../scripts/fly/render.ts";
import { baseEnv, NODE_ALLOCATOR_ENV, ROOT } from "../scripts/node_process.ts";

const NODES = [
  { name: "node1", region: "yyz", size: 15 },
  { name: "node2", region: "yul", size: 15 },
  { name: "node3", region: "ord", size: 12 },
  { name: "node4", region: "ewr", size: 10 },
];
const FEES = "--f-min 0.001       --f-max 0.010       --f-min-verified 0.0025       --f-max-verified 0.005       " +
  "--time-constant-days 90       --usage-threshold 10000";

function expectedFlyCommands(out: string): string[] {
  const ssh = (app: string, cmd: string) => `fly ssh console --app ${app} --command "${cmd}"`;
  const lines = ["fly apps list --json"];
  for (const n of NODES) {
    const app = `qudag-${n.name}`;
    lines.push(
      `fly apps create ${app} --org personal`,
      `fly volumes list --app ${app} --json`,
      `fly volumes create qudag_data --size ${n.size} --region ${n.region} --app ${app} --yes`,
      `fly secrets list --app ${app} --json`,
      `fly secrets import --app ${app} --stage < ${out}/secrets/${n.name}.env`,
    );
  }
  const deploy = (n: string) =>
    `fly deploy ${ROOT} --config ${out}/fly/${n}/fly.toml --dockerfile ${ROOT}/Dockerfile --app qudag-${n} --ha=false`;
  lines.push(deploy("node1"), "fly status --app qudag-node1", deploy("node2"), deploy("node3"), deploy("node4"));
  const b = "qudag-node1";
  lines.push(
    ssh(b, "qudag exchange create-account --name genesis-treasury"),
    ssh(b, "qudag exchange mint --account genesis-treasury --amount 10000000"),
    ssh(b, "qudag exchange create-account --name alice"),
    ssh(b, "qudag exchange create-account --name bob"),
    ssh(b, "qudag exchange transfer --from genesis-treasury --to alice --amount 50000"),
    ssh(b, "qudag exchange transfer --from genesis-treasury --to bob --amount 30000"),
    ...NODES.map((n) => ssh(`qudag-${n.name}`, `qudag exchange configure-fees       ${FEES}`)),
    ssh(b, "qudag exchange verify-agent --account alice --proof-path /keys/alice-kyc.json"),
    ssh(b, "qudag exchange deploy-immutable --grace-period 24 --key-path /keys/governance.pem"),
    ssh(b, "qudag exchange immutable-status"),
  );
  for (const n of NODES) {
    for (const c of ["status", "accounts --format json", "fee-status --examples"]) {
      lines.push(ssh(`qudag-${n.name}`, `qudag exchange ${c}`));
    }
  }
  lines.push(...NODES.map((n) => `fly status --app qudag-${n.name}`));
  return lines;
}

Deno.test("deploy.sh --dry-run prints every fly command of phases 1-6 in order, and makes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qudag-fly-dry-" });
  try {
    const out = `${dir}/testnet`;
    const r = await new Deno.Command("bash", {
      // One stream, as a terminal shows it: the queries go to stderr (their output is captured).
      args: ["-c", `bash ${ROOT}/scripts/fly/deploy.sh --dry-run --out ${out} 2>&1`],
      cwd: dir,
      env: { ...baseEnv(), PATH: "/usr/bin:/bin", FLY: "/nonexistent/fly-must-not-run" },
      clearEnv: true,
    }).output();
    const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, text);
    const fly = text.split("\n").filter((l) => l.startsWith("+ fly ")).map((l) => l.slice(2));
    assert.deepEqual(fly, expectedFlyCommands(out));
    for (const phase of [1, 2, 3, 4, 5, 6]) assert.match(text, new RegExp(`^== phase ${phase}: `, "m"));
    assert.match(text, /^\+ qudag genesis init --validators node1,node2,node3,node4 --out .* --exchange/m);
    assert.match(text, /^\+ curl -fsS https:\/\/qudag-node1\.fly\.dev\/exchange\/status$/m);
    assert.match(text, /^\+ curl -fsS https:\/\/qudag-node1\.fly\.dev:9090\/metrics \| grep exchange$/m);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [], "a dry run writes nothing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deploy.sh refuses an unknown argument with its usage", async () => {
  const r = await new Deno.Command("bash", { args: [`${ROOT}/scripts/fly/deploy.sh`, "--bogus"] }).output();
  assert.equal(r.code, 2);
  assert.match(new TextDecoder().decode(r.stderr), /unknown argument --bogus[\s\S]*--dry-run/);
});

const template = Deno.readTextFileSync(TEMPLATE_PATH);
const nodes = parseNodes(NODES.map((n) => `${n.name}:${n.region}`).join(","));
type Toml = Record<string, unknown> & {
  env: Record<string, string>;
  files: { guest_path: string; local_path?: string; secret_name?: string }[];
  services: { internal_port: number; http_checks?: { path: string }[] }[];
  vm: { memory: string }[];
  mounts: { destination: string };
};
const render = (i: number, keyFiles = {}) =>
  renderFlyToml(template, {
    node: nodes[i],
    nodes,
    appPrefix: "qudag-",
    genesis: ".fly-testnet/genesis.json",
    authorities: "node1",
    keyFiles,
  });

Deno.test("the repository's fly.toml is node1's rendering of scripts/fly/fly.toml.template", () => {
  assert.equal(Deno.readTextFileSync(`${ROOT}/fly.toml`).trimEnd(), render(0).trimEnd());
});

Deno.test("every node's fly.toml: peers across apps, the genesis where the binary reads it, /health, [[vm]]", () => {
  const compileReads = /--allow-read=(\S+)/.exec(denoJson.tasks.compile)![1].split(",");
  for (let i = 0; i < nodes.length; i++) {
    const t = parseToml(render(i, i === 0 ? { "alice-kyc.json": "x/alice-kyc.json" } : {})) as unknown as Toml;
    assert.equal(t.app, `qudag-${nodes[i].name}`);
    assert.equal(t.env.NODE_ID, nodes[i].name);
    assert.deepEqual(
      t.env.QUDAG_PEERS.split(","),
      nodes.filter((_, j) => j !== i).map((n) => `qudag-${n.name}.internal:4001`),
    );
    // Every name the file sets is one the node reads (and checks).
    for (const name of Object.keys(t.env)) assert.ok(ENV_NAMES.includes(name), `${name} in [env] is read by the node`);
    const genesis = t.files.find((f) => f.guest_path === t.env.QUDAG_GENESIS_FILE);
    assert.ok(genesis?.local_path, "the genesis reaches the machine through [[files]]");
    assert.ok(compileReads.some((d) => genesis.guest_path.startsWith(`${d}/`)), "…where the binary may read it");
    const keys = t.files.filter((f) => f.guest_path.startsWith("/keys/")).map((f) => f.guest_path).sort();
    assert.deepEqual(keys, i === 0 ? ["/keys/alice-kyc.json", "/keys/governance.pem"] : []);
    assert.ok(compileReads.includes("/keys"));
    assert.equal(t.mounts.destination, "/data");
    assert.deepEqual(t.services.map((s) => s.internal_port), [8080, 8081, 9090]);
    assert.equal(t.services[0].http_checks?.[0].path, "/health");
    assert.match(t.vm[0].memory, /^\d+mb$/);
  }
});

Deno.test("the Dockerfile: npm ci, the compile task, qudag on the PATH, /health, names the node reads", () => {
  const d = Deno.readTextFileSync(`${ROOT}/Dockerfile`);
  assert.match(d, /RUN npm ci /);
  assert.match(d, /RUN \.\/node_modules\/\.bin\/deno task compile/);
  assert.match(d, /COPY scripts\/fly\/qudag \/usr\/local\/bin\/qudag/);
  assert.match(d, /CMD \["\/app\/qudag-server", "health", "--node", "http:\/\/127\.0\.0\.1:8080"\]/);
  assert.match(d, /useradd --system --uid 10001/);
  // Every ENV block: the node's names, and glibc's allocator settings (read by the C library, the same as local nodes').
  const blocks = [...d.matchAll(/^ENV ([\s\S]*?)\n(?=\S)/gm)].map((m) => m[1]);
  const allocator = blocks.find((b) => b.includes("MALLOC_ARENA_MAX"));
  assert.ok(allocator !== undefined, "the image sets the allocator");
  for (const [name, value] of Object.entries(NODE_ALLOCATOR_ENV)) {
    assert.match(allocator, new RegExp(`${name}=${value}\\b`));
  }
  const envBlock = blocks.find((b) => b.includes("QUDAG_DATA_DIR"))!;
  for (const [, name] of envBlock.matchAll(/([A-Z_]+)=/g)) assert.ok(ENV_NAMES.includes(name), `${name} is read`);
  assert.match(envBlock, /QUDAG_HTTP_HOST=::/, "HTTP on the private IPv6 network too");
  assert.match(envBlock, /QUDAG_METRICS_HOST=::/);
  // The compile task keeps node_modules' own Deno binary out of the single binary.
  for (const ex of ["node_modules/.bin", "node_modules/deno", "node_modules/@deno"]) {
    assert.ok(denoJson.tasks.compile.includes(`--exclude=${ex} `), ex);
  }
  // The build context is an allow-list: no secrets (genesis init's output, testnet keys) can reach it.
  const ignore = Deno.readTextFileSync(`${ROOT}/.dockerignore`).split("\n");
  assert.equal(ignore.find((l) => l.trim() !== "" && !l.startsWith("#")), "*");
  for (const copied of ["scripts/fly/qudag", "wasm/qudag_core.wasm", "native/src/"]) {
    assert.ok(ignore.includes(`!${copied}`), copied);
  }
});

Deno.test("the image's native library is built as build:native builds it, and the binary may open both of its builds", () => {
  const d = Deno.readTextFileSync(`${ROOT}/Dockerfile`);
  const ignore = Deno.readTextFileSync(`${ROOT}/.dockerignore`).split("\n");
  // The x86-64-v3 flags live in native/.cargo/config.toml: an image without it gets the baseline build, whose
  // ML-DSA-87 verify is about 60 % slower (native/README.md).
  assert.match(d, /COPY native\/\.cargo\/ \.cargo\//);
  assert.ok(ignore.includes("!native/.cargo/"));
  assert.match(d, /RUN sh \/src\/scripts\/build_native\.sh --locked/);
  assert.ok(ignore.includes("!scripts/build_native.sh"));
  assert.match(denoJson.tasks["build:native"], /scripts\/build_native\.sh/, "the same script");
  const libs = ["/app/libqudag_native.so", "/app/libqudag_native.x86-64-v4.so"];
  assert.match(d, /^COPY --from=native \/src\/native\/target\/release\/libqudag_native\*\.so \/app\/$/m, "both builds");
  const ffi = denoJson.tasks.compile.split(/\s+/).find((f) => f.startsWith("--allow-ffi="));
  assert.equal(ffi, `--allow-ffi=${libs.join(",")}`);
  assert.match(
    d,
    /QUDAG_NATIVE_LIB=\/app\/libqudag_native\.so /,
    "the v3 build is configured; the v4 one is found beside it",
  );
});
