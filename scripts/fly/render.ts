/**
 * One fly.toml per node from scripts/fly/fly.toml.template (deploy.sh runs
 * this; the repository's own fly.toml is node1's rendering, checked by a
 * test). Placeholders are `{{NAME}}`; every one must be filled.
 *
 *   deno run --allow-read --allow-write --allow-env=FEE_ scripts/fly/render.ts \
 *     --out-dir DIR --genesis PATH --nodes node1:yyz,node2:yul,... [--app-prefix qudag-] \
 *     [--authorities node1] [--files-dir DIR] [--vm-memory 512mb]
 *
 * FEE_* come from the environment (the values the genesis was made with).
 */
import { parse as parseToml } from "smol-toml";

export const TEMPLATE_PATH = new URL("./fly.toml.template", import.meta.url).pathname;

/** The fee settings written into [env], with the seed's values as defaults. */
export const FEE_DEFAULTS: Readonly<Record<string, string>> = {
  FEE_MODEL_ENABLED: "true",
  FEE_F_MIN: "0.001",
  FEE_F_MAX: "0.010",
  FEE_F_MIN_VERIFIED: "0.0025",
  FEE_F_MAX_VERIFIED: "0.005",
  FEE_TIME_CONSTANT_DAYS: "90",
  FEE_USAGE_THRESHOLD: "10000",
};

/** Memory of each Machine: a node's peak RSS under bench:testnet with headroom (README "Deploy on Fly.io"). */
export const VM_MEMORY = "512mb";

/** Where the authority node's governance key file appears (the seed's `--key-path /keys/governance.pem`). */
export const GOVERNANCE_KEY_PATH = "/keys/governance.pem";
export const GOVERNANCE_KEY_SECRET = "GOVERNANCE_KEY_PEM";

export interface FlyNode {
  readonly name: string;
  readonly region: string;
}

export interface RenderOptions {
  readonly node: FlyNode;
  readonly nodes: readonly FlyNode[];
  readonly appPrefix: string;
  /** The genesis file as flyctl reads it (relative to the directory flyctl runs in). */
  readonly genesis: string;
  /** The node whose secrets hold the authority keys: it gets /keys/governance.pem. */
  readonly authorities: string;
  /** Files to place under /keys on this node: guest name -> local path. */
  readonly keyFiles?: Readonly<Record<string, string>>;
  readonly fees?: Readonly<Record<string, string>>;
  readonly vmMemory?: string;
  readonly peerPort?: number;
}

function tomlString(s: string): string {
  return JSON.stringify(s); // a TOML basic string is JSON's string syntax for these values
}

/** fly.toml text for one node. */
export function renderFlyToml(template: string, o: RenderOptions): string {
  const app = (n: FlyNode) => `${o.appPrefix}${n.name}`;
  const peers = o.nodes.filter((n) => n.name !== o.node.name).map((n) => `${app(n)}.internal:${o.peerPort ?? 4001}`);
  const files: string[] = [];
  if (o.node.name === o.authorities) {
    files.push(
      "",
      "# The governance key as a file (the seed's deploy-immutable --key-path), from a secret (base64).",
      "[[files]]",
      `  guest_path = ${tomlString(GOVERNANCE_KEY_PATH)}`,
      `  secret_name = ${tomlString(GOVERNANCE_KEY_SECRET)}`,
    );
  }
  for (const [name, local] of Object.entries(o.keyFiles ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) throw new RangeError(`key file name ${JSON.stringify(name)} is invalid`);
    files.push("", "[[files]]", `  guest_path = ${tomlString(`/keys/${name}`)}`, `  local_path = ${tomlString(local)}`);
  }
  if (files.length > 0) files.push("");
  const vars: Record<string, string> = {
    APP: app(o.node),
    REGION: o.node.region,
    NODE_ID: o.node.name,
    PEERS: peers.join(","),
    GENESIS: o.genesis,
    FILES: files.join("\n"),
    VM_MEMORY: o.vmMemory ?? VM_MEMORY,
    ...FEE_DEFAULTS,
    ...o.fees,
  };
  const text = template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new RangeError(`template placeholder {{${name}}} has no value`);
    return name === "FILES" ? v : v.replace(/["\\]/g, (c) => `\\${c}`);
  });
  parseToml(text); // a rendering flyctl could not read is a bug here, not on Fly
  return text;
}

/** `node1:yyz,node2:yul` (or space-separated) to nodes. */
export function parseNodes(spec: string): FlyNode[] {
  return spec.split(/[,\s]+/).filter((s) => s !== "").map((item) => {
    const [name, region] = item.split(":");
    if (!/^[a-z0-9-]{1,32}$/.test(name ?? "") || !/^[a-z]{3}$/.test(region ?? "")) {
      throw new RangeError(`node ${JSON.stringify(item)} is not NAME:REGION (e.g. node1:yyz)`);
    }
    return { name, region };
  });
}

function flag(args: string[], name: string, dflt?: string): string {
  const i = args.indexOf(name);
  const v = i >= 0 ? args[i + 1] : dflt;
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
}

function keyFilesIn(dir: string, localPrefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    for (const e of Deno.readDirSync(dir)) if (e.isFile) out[e.name] = `${localPrefix}/${e.name}`;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

if (import.meta.main) {
  const args = Deno.args;
  const nodes = parseNodes(flag(args, "--nodes"));
  const outDir = flag(args, "--out-dir");
  const filesDir = flag(args, "--files-dir", "");
  const fees: Record<string, string> = {};
  for (const k of Object.keys(FEE_DEFAULTS)) {
    const v = Deno.env.get(k);
    if (v !== undefined && v !== "") fees[k] = v;
  }
  const template = Deno.readTextFileSync(TEMPLATE_PATH);
  for (const node of nodes) {
    const text = renderFlyToml(template, {
      node,
      nodes,
      appPrefix: flag(args, "--app-prefix", "qudag-"),
      genesis: flag(args, "--genesis"),
      authorities: flag(args, "--authorities", nodes[0].name),
      keyFiles: filesDir ? keyFilesIn(`${filesDir}/${node.name}/keys`, `${filesDir}/${node.name}/keys`) : {},
      fees,
      vmMemory: flag(args, "--vm-memory", VM_MEMORY),
    });
    Deno.mkdirSync(`${outDir}/${node.name}`, { recursive: true });
    Deno.writeTextFileSync(`${outDir}/${node.name}/fly.toml`, text);
    console.log(`${outDir}/${node.name}/fly.toml`);
  }
}
