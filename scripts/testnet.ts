/**
 * A local multi-node testnet on loopback: `deno task testnet [--nodes N]`.
 * Makes validator keys and a genesis, starts N real node processes (node 1 is
 * the bootstrap) under the start task's permission flags, prints their URLs,
 * writes <dir>/testnet.json for scripts, tests and the CLI, and stops them all
 * on Ctrl-C. Each run makes a new genesis, so nodes of two testnets never talk.
 */
import { fromHex, toHex } from "../src/keys/mod.ts";
import { makeGenesis, parseGenesis } from "../src/node/genesis.ts";
import {
  AUTHORITIES,
  makeChain,
  type SeededKey,
  seededKey,
  seedFileText,
  systemRandom,
} from "../src/node/genesis_build.ts";
import { baseEnv, ROOT, startTaskArgs } from "./node_process.ts";

export interface TestnetNode {
  name: string;
  id: string;
  http: string;
  metrics: string;
  p2p: string;
  /** The exchange API (port 8081's role). */
  exchange: string;
  dataDir: string;
  pid: number;
}

export interface TestnetDescription {
  chainId: string;
  genesis: string;
  keysDir: string;
  /** Seed files (hex) of the exchange's genesis accounts, by role: fees, exchange-master, fee-admin, agent-verifier, governance. */
  exchangeKeys: Record<string, string>;
  /** File holding the x-api-key every node of this testnet requires for writes to /api/v1/peers. */
  apiKeyFile: string;
  nodes: TestnetNode[];
}

/**
 * TCP relays between every ordered pair of nodes, run in this process, so a
 * test can cut the network between groups of nodes and heal it again.
 */
class LinkRelays {
  #listeners: Deno.Listener[] = [];
  #open = new Map<string, Set<Deno.Conn>>();
  #cut = new Set<string>();
  readonly addresses = new Map<string, string>();

  constructor(private readonly targets: string[]) {}

  start(): void {
    for (let i = 0; i < this.targets.length; i++) {
      for (let j = 0; j < this.targets.length; j++) {
        if (i === j) continue;
        const key = `${i}>${j}`;
        const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        this.#listeners.push(l);
        this.addresses.set(key, `127.0.0.1:${(l.addr as Deno.NetAddr).port}`);
        this.#open.set(key, new Set());
        void this.#serve(l, key, this.targets[j]);
      }
    }
  }

  async #serve(l: Deno.Listener, key: string, target: string): Promise<void> {
    for await (const inbound of l) {
      if (this.#cut.has(key)) {
        inbound.close();
        continue;
      }
      const [hostname, port] = target.split(":");
      let outbound: Deno.Conn;
      try {
        outbound = await Deno.connect({ hostname, port: Number(port) });
      } catch {
        inbound.close();
        continue;
      }
      const set = this.#open.get(key)!;
      set.add(inbound).add(outbound);
      const close = () => {
        for (const c of [inbound, outbound]) {
          set.delete(c);
          try {
            c.close();
          } catch { /* closed */ }
        }
      };
      inbound.readable.pipeTo(outbound.writable, { preventClose: true }).catch(() => {}).finally(close);
      outbound.readable.pipeTo(inbound.writable, { preventClose: true }).catch(() => {}).finally(close);
    }
  }

  /** Cuts every link between nodes of different groups (both directions) and refuses new ones. */
  partition(groups: number[][]): void {
    const groupOf = new Map(groups.flatMap((g, gi) => g.map((n) => [n, gi])));
    for (const key of this.#open.keys()) {
      const [i, j] = key.split(">").map(Number);
      if (groupOf.get(i) !== groupOf.get(j)) {
        this.#cut.add(key);
        for (const c of this.#open.get(key)!) {
          try {
            c.close();
          } catch { /* closed */ }
        }
        this.#open.get(key)!.clear();
      }
    }
  }

  heal(): void {
    this.#cut.clear();
  }

  close(): void {
    for (const l of this.#listeners) l.close();
    for (const set of this.#open.values()) {
      for (const c of set) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    }
  }
}

export interface RunningTestnet {
  description: TestnetDescription;
  /** Only with `relayed`: cut the links between groups of nodes (by index), then heal them. */
  partition(groups: number[][]): void;
  heal(): void;
  processes: Deno.ChildProcess[];
  /** Stderr text of node i so far. */
  log(i: number): string;
  /** Stops node i with a signal and waits for it. */
  stopNode(i: number, signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Starts node i again on the same data directory and ports. */
  /**
   * Starts node i again on its old ports. With `wipe`, its data directory is
   * emptied first (its key stays: it rejoins as the same validator); with
   * `dialPeers`, it is started with `--peer` for every other node, so it meets
   * them before it is ready (a state sync needs peers at start).
   */
  restartNode(i: number, o?: { wipe?: boolean; dialPeers?: boolean }): Promise<void>;
  /** Starts a node that `startNodes` left out (same as restartNode for one never started). */
  startNode(i: number, o?: { dialPeers?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export interface TestnetOptions {
  nodes: number;
  dir: string;
  /** First port (node i uses base+10i, +1, +2); 0 picks free ports. */
  basePort: number;
  env?: Record<string, string>;
  /** Extra `start` flags for every node. */
  args?: string[];
  /** Extra Deno runtime flags for every node (after `run`), e.g. `--cpu-prof` for a profile. */
  denoFlags?: string[];
  /** Route every peer link through relays in this process, so it can be cut (tests). */
  relayed?: boolean;
  /**
   * Give the genesis an exchange section and run the exchange API (default
   * true). Without one the chain is consensus only: any well-formed
   * transaction is ordered, none is checked by a ledger (consensus tests and
   * bench:testnet send `data` transactions from throwaway keys).
   */
  exchange?: boolean;
  quiet?: boolean;
  /** Chain settlement parameters written into the genesis (wasm/LEDGER.md, "Settlement"). */
  settlement?: { intervalMs?: number; verticesMax?: number };
  /** Start only the first N nodes (the others: startNode later); all by default. */
  startNodes?: number;
  /** Reuse the chain (genesis, keys, API key) already in `dir`, so its nodes resume where they stopped. */
  resume?: boolean;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

interface TestnetChain {
  genesisBytes: Uint8Array;
  validators: SeededKey[];
  apiKey: string;
  exchangeKeys: Record<string, string>;
}

/** A new chain in `dir`: keys (keys/*.seed), genesis.json and the API key every node requires for writes. */
function newChain(
  dir: string,
  nodes: number,
  withExchange: boolean,
  settlement: TestnetOptions["settlement"],
): TestnetChain {
  Deno.mkdirSync(`${dir}/keys`, { recursive: true, mode: 0o700 });
  const chain = makeChain(
    {
      network: "testnet-local",
      createdAt: new Date().toISOString(),
      validators: Array.from({ length: nodes }, (_, i) => `node${i + 1}`),
      // The authority keys are made either way; only the genesis decides whether the chain has the exchange.
      exchange: true,
      settlement,
    },
    systemRandom,
    Date.now(),
  );
  const genesisBytes = withExchange ? chain.genesis : makeGenesis(
    "testnet-local",
    new Date().toISOString(),
    chain.validators,
    undefined,
    settlement,
  );
  const exchangeKeys: Record<string, string> = {};
  for (const k of [...chain.validators, ...chain.authorities]) {
    Deno.writeTextFileSync(`${dir}/keys/${k.name}.seed`, seedFileText(k), { mode: 0o600 });
  }
  for (const k of chain.authorities) exchangeKeys[k.name] = `${dir}/keys/${k.name}.seed`;
  const apiKey = toHex(systemRandom(24));
  Deno.writeTextFileSync(`${dir}/keys/api-key`, apiKey + "\n", { mode: 0o600 });
  Deno.writeFileSync(`${dir}/genesis.json`, genesisBytes);
  return { genesisBytes, validators: [...chain.validators], apiKey, exchangeKeys };
}

/** The chain a previous run left in `dir`: same genesis, keys and API key, so its nodes resume where they stopped. */
function resumeChain(dir: string, nodes: number, withExchange: boolean): TestnetChain {
  const genesisBytes = Deno.readFileSync(`${dir}/genesis.json`);
  const genesis = parseGenesis(genesisBytes, `${dir}/genesis.json`);
  if (genesis.validators.length !== nodes) {
    throw new TestnetError(
      `${dir} holds a testnet of ${genesis.validators.length} nodes; --nodes ${nodes} needs a new one: add --fresh`,
    );
  }
  if ((genesis.exchange !== null) !== withExchange) {
    throw new TestnetError(`${dir} holds a testnet ${withExchange ? "without" : "with"} the exchange: add --fresh`);
  }
  const read = (name: string) => {
    try {
      return Deno.readTextFileSync(`${dir}/keys/${name}`).trim();
    } catch (cause) {
      throw new TestnetError(`${dir}/keys/${name} is missing, so this testnet cannot resume: add --fresh`, { cause });
    }
  };
  const validators = genesis.validators.map((v) => {
    const k = seededKey(v.name, fromHex(read(`${v.name}.seed`)));
    if (k.id !== v.id) throw new TestnetError(`${dir}/keys/${v.name}.seed is not ${v.name}'s key: add --fresh`);
    return k;
  });
  const exchangeKeys: Record<string, string> = {};
  for (const a of AUTHORITIES) {
    if (exists(`${dir}/keys/${a.name}.seed`)) exchangeKeys[a.name] = `${dir}/keys/${a.name}.seed`;
  }
  return { genesisBytes, validators, apiKey: read("api-key"), exchangeKeys };
}

/** A testnet that cannot start, said in one line (no stack trace). */
export class TestnetError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TestnetError";
  }
}

export async function startTestnet(o: TestnetOptions): Promise<RunningTestnet> {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 32) throw new Error("--nodes must be 1..32");
  const dir = o.dir.startsWith("/") ? o.dir : `${Deno.cwd()}/${o.dir}`;
  const withExchange = o.exchange ?? true;
  const made = o.resume && exists(`${dir}/genesis.json`)
    ? resumeChain(dir, o.nodes, withExchange)
    : newChain(dir, o.nodes, withExchange, o.settlement);
  const { genesisBytes, validators, apiKey, exchangeKeys } = made;
  const genesis = parseGenesis(genesisBytes, `${dir}/genesis.json`);
  const ports = validators.map((_, i) => (o.basePort
    ? {
      http: o.basePort + 10 * i,
      metrics: o.basePort + 10 * i + 1,
      p2p: o.basePort + 10 * i + 2,
      exchange: o.basePort + 10 * i + 3,
    }
    // 0: each node binds a free port itself and reports it (no window for another process to take it).
    : { http: 0, metrics: 0, p2p: 0, exchange: 0 })
  );
  const nodes: TestnetNode[] = validators.map((v, i) => ({
    name: v.name,
    id: v.id,
    http: `http://127.0.0.1:${ports[i].http}`,
    metrics: `http://127.0.0.1:${ports[i].metrics}/metrics`,
    p2p: `127.0.0.1:${ports[i].p2p}`,
    exchange: `http://127.0.0.1:${ports[i].exchange}`,
    dataDir: `${dir}/${v.name}`,
    pid: 0,
  }));
  const logs: string[] = nodes.map(() => "");
  let relays: LinkRelays | null = null;
  const processes: Deno.ChildProcess[] = [];

  const spawn = (i: number, extraArgs: string[] = []): Deno.ChildProcess => {
    const n = nodes[i];
    Deno.mkdirSync(n.dataDir, { recursive: true });
    Deno.writeFileSync(`${n.dataDir}/genesis.json`, genesisBytes);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        ...startTaskArgs(n.dataDir, `${ROOT}/main.ts`).flatMap((a, j) => (j === 0 ? [a, ...(o.denoFlags ?? [])] : [a])),
        "--data-dir",
        n.dataDir,
        "--http-port",
        String(ports[i].http),
        "--metrics-port",
        String(ports[i].metrics),
        "--p2p-port",
        String(ports[i].p2p),
        ...(withExchange ? ["--enable-exchange", "--exchange-port", String(ports[i].exchange)] : []),
        "--node-id",
        n.name,
        ...(o.args ?? []),
        ...extraArgs,
      ],
      env: {
        ...baseEnv(),
        NETWORK_MODE: "testnet",
        NODE_PRIVATE_KEY: toHex(validators[i].seed),
        QUDAG_API_KEY: apiKey,
        LOG_LEVEL: "info",
        ...o.env,
      },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    n.pid = child.pid;
    alive.add(i);
    child.status.then(() => alive.delete(i));
    logs[i] = "";
    (async () => {
      const dec = new TextDecoder();
      for await (const chunk of child.stderr) logs[i] += dec.decode(chunk, { stream: true });
    })();
    processes[i] = child;
    return child;
  };

  /** Waits for node i's "node ready" log line and takes its actual addresses (and ports) from it. */
  const waitReady = async (i: number) => {
    const deadline = Date.now() + 30_000;
    let exited = false;
    processes[i].status.then(() => exited = true);
    while (Date.now() < deadline && !exited) {
      const line = logs[i].split("\n").find((l) => l.includes('"msg":"node ready"'));
      if (line) {
        const ready = JSON.parse(line) as { http: string; metrics: string; p2p: string; exchange: string | null };
        const port = (url: string) => Number(url.replace(/\/metrics$/, "").split(":").pop());
        ports[i] = {
          http: port(ready.http),
          metrics: port(ready.metrics),
          p2p: port(ready.p2p),
          exchange: ready.exchange === null ? 0 : port(ready.exchange),
        };
        Object.assign(nodes[i], {
          http: ready.http,
          metrics: ready.metrics,
          p2p: `127.0.0.1:${ports[i].p2p}`,
          exchange: ready.exchange ?? "",
        });
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${nodes[i].name} ${exited ? "exited" : "not ready after 30 s"}:\n${logs[i]}`);
  };

  /** Nodes whose process is running. */
  const alive = new Set<number>();
  const started = (i: number) => alive.has(i);
  /** Tells node i to dial every other started node (through its relay when relayed). */
  const introduce = async (i: number) => {
    for (let j = 0; j < nodes.length; j++) {
      if (j === i || !started(j)) continue;
      const address = relays?.addresses.get(`${i}>${j}`) ?? nodes[j].p2p;
      const res = await fetch(`${nodes[i].http}/api/v1/peers`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": apiKey },
        body: JSON.stringify({ address }),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`${nodes[i].name} refused peer ${address}: ${res.status}`);
    }
  };

  const first = nodes.slice(0, o.startNodes ?? nodes.length);
  first.forEach((_, i) => spawn(i));
  try {
    await Promise.all(first.map((_, i) => waitReady(i)));
    if (o.relayed) {
      relays = new LinkRelays(nodes.map((n) => n.p2p));
      relays.start();
    }
    for (let i = 0; i < first.length; i++) await introduce(i);
  } catch (e) {
    // Leave nothing running when the testnet cannot start.
    for (const p of processes) {
      try {
        p.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await Promise.allSettled(processes.map((p) => p.status));
    relays?.close();
    throw e;
  }
  const description: TestnetDescription = {
    chainId: genesis.chainIdHex,
    genesis: `${dir}/genesis.json`,
    keysDir: `${dir}/keys`,
    apiKeyFile: `${dir}/keys/api-key`,
    exchangeKeys,
    nodes,
  };
  Deno.writeTextFileSync(`${dir}/testnet.json`, JSON.stringify(description, null, 2) + "\n");
  writeEnvFile(dir, description, apiKey);

  const restartNode = async (i: number, r: { wipe?: boolean; dialPeers?: boolean } = {}) => {
    if (r.wipe) Deno.removeSync(nodes[i].dataDir, { recursive: true });
    // Same ports as before: the others keep dialing its old peer address.
    const peers = r.dialPeers ? nodes.flatMap((n, j) => (j !== i && started(j) ? ["--peer", n.p2p] : [])) : [];
    spawn(i, peers);
    await waitReady(i);
    await introduce(i);
    for (let j = 0; j < nodes.length; j++) if (j !== i && started(j)) await introduce(j);
    Deno.writeTextFileSync(`${dir}/testnet.json`, JSON.stringify(description, null, 2) + "\n");
  };

  /** Bounded: a node that ignores the signal for 10 s is killed. */
  const stopNode = async (i: number, signal: Deno.Signal = "SIGTERM") => {
    try {
      processes[i].kill(signal);
    } catch { /* already gone */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), 10_000));
    const first = await Promise.race([processes[i].status, late]);
    clearTimeout(timer);
    if (first !== "late") return first;
    try {
      processes[i].kill("SIGKILL");
    } catch { /* gone */ }
    return await processes[i].status;
  };
  return {
    description,
    partition(groups) {
      if (!relays) throw new Error("partition() needs a testnet started with relayed: true");
      relays.partition(groups);
    },
    heal() {
      relays?.heal();
    },
    processes,
    log: (i) => logs[i],
    stopNode,
    restartNode,
    startNode: (i, r = {}) => restartNode(i, { dialPeers: r.dialPeers }),
    async stop() {
      await Promise.all(processes.map((p, i) => (p === undefined ? undefined : stopNode(i))));
      relays?.close();
    },
  };
}

/** Role secrets the CLI reads, by authority account name. */
const ROLE_ENV = AUTHORITIES.filter((a) => a.env !== null).map((a) => [a.name, a.env!] as const);

/**
 * `<dir>/env`: the exports a user needs to point the qudag CLI at this
 * testnet (`. .testnet/env`): node URLs, the API key, the role keys, and a
 * key store of its own for account keys. Mode 0600: it holds secrets.
 */
function writeEnvFile(dir: string, d: TestnetDescription, apiKey: string): void {
  const path = `${dir}/env`;
  let passphrase: string;
  try {
    passphrase = Deno.readTextFileSync(`${dir}/keys/cli-passphrase`).trim();
  } catch {
    passphrase = toHex(systemRandom(24));
    Deno.writeTextFileSync(`${dir}/keys/cli-passphrase`, passphrase + "\n", { mode: 0o600 });
  }
  const q = (v: string) => `'${v.replaceAll("'", "'\\''")}'`;
  const lines = [
    "# deno task testnet: the qudag CLI's settings for this testnet. Load with: . .testnet/env",
    `export QUDAG_NODE_URL=${q(d.nodes[0].http)}`,
    ...(d.nodes[0].exchange ? [`export QUDAG_EXCHANGE_URL=${q(d.nodes[0].exchange)}`] : []),
    `export QUDAG_API_KEY=${q(apiKey)}`,
    // Account keys made by `qudag exchange create-account` go to the CLI's own store, sealed with this passphrase.
    `export QUDAG_DATA_DIR=${q(`${dir}/cli`)}`,
    `export QUDAG_KEY_PASSPHRASE=${q(passphrase)}`,
    ...ROLE_ENV.flatMap(([name, env]) =>
      d.exchangeKeys[name] ? [`export ${env}=${q(Deno.readTextFileSync(d.exchangeKeys[name]).trim())}`] : []
    ),
  ];
  Deno.writeTextFileSync(path, lines.join("\n") + "\n", { mode: 0o600 });
  Deno.chmodSync(path, 0o600);
}

const USAGE = `usage: deno task testnet [--nodes N] [--dir DIR] [--base-port PORT] [--fresh]

Starts N nodes (default 4) on 127.0.0.1. A second run resumes the testnet in DIR (default .testnet) where it
stopped: same genesis, keys and data. --fresh deletes DIR first and starts a new chain.`;

async function main(args: string[]): Promise<number> {
  const known = new Set(["--nodes", "--dir", "--base-port", "--fresh", "--help"]);
  const unknown = args.find((a, i) => a.startsWith("--") && !known.has(a) && !known.has(args[i - 1]));
  if (unknown !== undefined) {
    console.error(`error: unknown flag ${unknown}\n\n${USAGE}`);
    return 2;
  }
  const flag = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
  };
  if (args.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  const dir = flag("--dir", ".testnet");
  const fresh = args.includes("--fresh");
  if (fresh) {
    try {
      Deno.removeSync(dir, { recursive: true });
      console.log(`--fresh: removed ${dir}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const resuming = !fresh && exists(`${dir}/genesis.json`);
  let net: RunningTestnet;
  try {
    net = await startTestnet({
      nodes: Number(flag("--nodes", "4")),
      dir,
      basePort: Number(flag("--base-port", "7100")),
      resume: true,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`error: ${msg}`);
    if (resuming && !(e instanceof TestnetError)) {
      console.error(`(resuming the testnet in ${dir}; --fresh starts a new one)`);
    }
    return 1;
  }
  const d = net.description;
  console.log(
    `testnet ${resuming ? "resumed" : "up"}: chain ${d.chainId}\ngenesis ${d.genesis}\nkeys    ${d.keysDir}\n`,
  );
  for (const n of d.nodes) {
    console.log(
      `${n.name}${
        n === d.nodes[0] ? " (bootstrap)" : ""
      }  http ${n.http}  exchange ${n.exchange}  metrics ${n.metrics}  p2p ${n.p2p}`,
    );
  }
  console.log(
    `\ndescription: ${d.genesis.replace(/genesis\.json$/, "testnet.json")}\n` +
      `CLI settings: . ${dir}/env   (then e.g. npx deno task qudag exchange status)\n` +
      "Ctrl-C stops every node; run again to resume, --fresh to start over.",
  );
  const stopped = Promise.withResolvers<void>();
  const stop = async () => {
    console.log("stopping…");
    await net.stop();
    stopped.resolve();
  };
  Deno.addSignalListener("SIGINT", () => void stop());
  Deno.addSignalListener("SIGTERM", () => void stop());
  await stopped.promise;
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
