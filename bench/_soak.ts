/**
 * Parts of bench/soak_bench.ts: the senders' setup (create and fund them, as
 * bench/_node_path.ts does), a signer that keeps signed transfers ahead of
 * an open-loop schedule, the open-loop sender itself, the latency sampler,
 * and one probe of a node (RSS, database size, metrics, status, checkpoint).
 *
 * Every loop here is bounded in count and stops on a shared `Stop`; every
 * HTTP request goes to a node of the local testnet (127.0.0.1) with a timeout.
 */
import {
  blake3,
  encodeTransaction,
  type TransactionPayload,
  transactionSigningMessage,
  type UnsignedTransaction,
} from "../src/core/mod.ts";
import { selectCryptoBackend } from "../src/crypto/mod.ts";
import { fromHex } from "../src/keys/mod.ts";
import type { RunningTestnet } from "../scripts/testnet.ts";
import {
  type Account,
  backendOf,
  type Exchange,
  NodeBusyError,
  percentile,
  pool,
  RefusedError,
  sleep,
} from "./_exchange.ts";

const RUV = 1_000_000n;
/** Minted to each sender: far more than a long soak's transfers and fees need. */
const SENDER_FUNDS = 10_000_000n * RUV;
/** What a transaction may pay at most (as the exchange tests sign). */
const MAX_FEE = 1n << 40n;
/** Waiting for the peer mesh. */
const MESH_TIME_MAX_MS = 30_000;
/** Each setup wait (accounts created everywhere, senders funded everywhere). */
const SETUP_TIME_MAX_MS = 180_000;
/** Setup submits in flight at once. */
const SETUP_CONCURRENCY = 8;
/** Any one HTTP request to a node. */
export const FETCH_TIME_MAX_MS = 30_000;
/** Signatures the feed awaits at once (the native signer runs them off the main thread). */
const SIGN_PARALLEL = 4;
/** How far ahead of the schedule the feed signs. */
const SIGN_LEAD_MS = 10_000;
/** Between two looks of an idle loop (the feed when ahead, a sender waiting for its due time). */
const IDLE_MS = 20;
/** A sender sleeps at most this long at once, so a stop is seen soon. */
const SLEEP_SLICE_MS = 500;
/**
 * Between two rounds of sample lookups. A sample's latency ends at the first round that sees it applied on every
 * node, so it counts at least half a round on average after the true one, plus the lookup's own time: 50 ms and
 * more here (125 ms and more when this was 250).
 */
const LOOKUP_ROUND_MS = 100;
/**
 * Samples being looked up at once; more are not taken until some finish. Above what the open loop (1 in
 * SAMPLE_EVERY of 1,000/s, for up to several seconds each) and the soak offer: a cap that bit would drop samples
 * offered while the nodes are slowest, and so bias the percentiles low.
 */
const SAMPLES_PENDING_MAX = 512;
/** A sample without a receipt on every node after this long is given up (and counted). */
const SAMPLE_TIME_MAX_MS = 120_000;
/** Calls of GET /api/v1/status per node per probe at a window's end. */
export const STATUS_CALLS = 3;
/** Between two looks at every node's RSS and status latency within a window (see WindowSamples). */
export const SAMPLE_EVERY_MS = 5_000;

/** Set once to stop every loop. */
export interface Stop {
  stop: boolean;
}

export type Sign = (a: Account, nonce: bigint, payload: TransactionPayload) => Promise<Uint8Array>;

/** Waits for the peer mesh, then creates `count` sender accounts and funds each (as the exchange tests do). */
export async function setUpSenders(
  net: RunningTestnet,
  x: Exchange,
  count: number,
  log: (line: string) => void,
): Promise<{ senders: Account[]; sign: Sign; backendNode: string; backendSigning: string }> {
  const d = net.description;
  const signing = await selectCryptoBackend({ requested: "auto" });
  const chainId = fromHex(d.chainId);
  const sign: Sign = async (a, nonce, payload) => {
    const unsigned = { chainId, account: a.id, nonce, timestampMs: 0n, maxFee: MAX_FEE, ...payload };
    const signature = await a.signer.sign(transactionSigningMessage(unsigned as UnsignedTransaction));
    return encodeTransaction({ ...unsigned, signature } as Parameters<typeof encodeTransaction>[0]);
  };
  const account = async (seed: Uint8Array): Promise<Account> => {
    const signer = await signing.backend.mlDsaSigner(seed);
    const id = blake3(signer.publicKey);
    return { signer, id, hex: id.toHex() };
  };

  // The peer mesh first: a vertex issued before it would wait for gossip.
  const meshDeadline = Date.now() + MESH_TIME_MAX_MS;
  let status: StatusView[] = [];
  while (Date.now() < meshDeadline) {
    status = await Promise.all(d.nodes.map((_, i) => getJson<StatusView>(`${d.nodes[i].http}/api/v1/status`)));
    if (status.every((s) => s.peers.length === d.nodes.length - 1)) break;
    await sleep(100);
  }
  if (!status.every((s) => s.peers.length === d.nodes.length - 1)) {
    throw new Error(`peer mesh incomplete after ${MESH_TIME_MAX_MS / 1000} s\n${x.logTail()}`);
  }

  log(`creating and funding ${count} sender accounts…`);
  const master = await account(fromHex(Deno.readTextFileSync(d.exchangeKeys["exchange-master"]).trim()));
  const senders = await Promise.all(
    Array.from({ length: count }, () => account(crypto.getRandomValues(new Uint8Array(32)))),
  );
  const creates = await Promise.all(
    senders.map((a, s) => sign(a, 0n, { kind: "create_account", name: `soak-${s}`, publicKey: a.signer.publicKey })),
  );
  await pool(creates.map((tx, s) => ({ tx, s })), SETUP_CONCURRENCY, async ({ tx, s }) => {
    await x.submit(s % d.nodes.length, tx);
  });
  await x.waitAccounts(
    "creating the senders",
    SETUP_TIME_MAX_MS,
    (accounts) => senders.filter((a) => !accounts.has(a.hex)).map((a) => a.hex.slice(0, 12)),
  );
  // The master's mints form one nonce chain: one node, in order.
  const masterNonce = BigInt((await x.get(0, `/accounts/${master.hex}`)).nextNonce);
  const mintDeadline = Date.now() + SETUP_TIME_MAX_MS;
  for (let s = 0; s < count; s++) {
    if (Date.now() > mintDeadline) throw new Error(`minting: ${s}/${count} submitted in ${SETUP_TIME_MAX_MS / 1000} s`);
    await x.submit(
      0,
      await sign(master, masterNonce + BigInt(s), { kind: "mint", to: senders[s].id, amount: SENDER_FUNDS }),
    );
  }
  await x.waitAccounts(
    "funding the senders",
    SETUP_TIME_MAX_MS,
    (accounts) =>
      senders.filter((a) => BigInt(accounts.get(a.hex)?.balanceUnits ?? "0") < SENDER_FUNDS).map((a) =>
        a.hex.slice(0, 12)
      ),
  );
  return { senders, sign, backendNode: backendOf(status[0]), backendSigning: signing.name };
}

/**
 * The open-loop schedule: transfer k is due `k / ratePerS` seconds after
 * `t0Ms`, sent by sender k mod S with that sender's nonce 1 + floor(k / S).
 */
export interface Schedule {
  t0Ms: number;
  ratePerS: number;
  senders: number;
  /** Transfers in the schedule at most. */
  count: number;
}

const dueMs = (s: Schedule, k: number) => s.t0Ms + (k * 1000) / s.ratePerS;
/** Transfers due by `atMs` (offered so far). */
export const dueBy = (s: Schedule, atMs: number) =>
  Math.max(0, Math.min(s.count, Math.floor(((atMs - s.t0Ms) * s.ratePerS) / 1000) + 1));

/**
 * Signs transfers in schedule order in the background, up to SIGN_LEAD_MS
 * ahead of the schedule and at most `bufferMax` held, so signing is never on
 * a submit's path unless the machine cannot keep up (then `late` counts it).
 */
export class SignedFeed {
  readonly #signed = new Map<number, Uint8Array>();
  readonly #waiters = new Map<number, (tx: Uint8Array | null) => void>();
  #next = 0;
  /** Transfers a sender had to wait for. */
  late = 0;

  constructor(
    private readonly schedule: Schedule,
    private readonly make: (k: number) => Promise<Uint8Array>,
    private readonly bufferMax: number,
    private readonly ctl: Stop,
  ) {}

  /** Signs until `upTo` transfers are signed (before the clock starts). */
  async prefill(upTo: number): Promise<void> {
    while (this.#next < Math.min(upTo, this.schedule.count) && this.#signed.size < this.bufferMax) await this.#batch();
  }

  /** The background loop: ends on stop or when the schedule is all signed. */
  async run(): Promise<void> {
    try {
      while (!this.ctl.stop && this.#next < this.schedule.count) {
        const ahead = dueBy(this.schedule, performance.now() + SIGN_LEAD_MS);
        if (this.#next < ahead && this.#signed.size < this.bufferMax) await this.#batch();
        else await sleep(IDLE_MS);
      }
    } finally {
      for (const give of this.#waiters.values()) give(null);
      this.#waiters.clear();
    }
  }

  /** Transfer k, signed; null once stopped. */
  get(k: number): Promise<Uint8Array | null> {
    const tx = this.#signed.get(k);
    if (tx !== undefined) {
      this.#signed.delete(k);
      return Promise.resolve(tx);
    }
    if (this.ctl.stop || k >= this.schedule.count) return Promise.resolve(null);
    this.late++;
    return new Promise((resolve) => this.#waiters.set(k, resolve));
  }

  async #batch(): Promise<void> {
    const from = this.#next;
    const to = Math.min(this.schedule.count, from + SIGN_PARALLEL);
    this.#next = to;
    const txs = await Promise.all(Array.from({ length: to - from }, (_, i) => this.make(from + i)));
    txs.forEach((tx, i) => {
      const give = this.#waiters.get(from + i);
      if (give === undefined) this.#signed.set(from + i, tx);
      else {
        this.#waiters.delete(from + i);
        give(tx);
      }
    });
  }
}

/** Transfers each sender keeps to send again, and how often one refusal for a lost nonce is answered so. */
const SENT_KEPT = 32;
const LOST_RETRIES_MAX = 5;

/**
 * One loop per sender: each of its transfers at its due time (or at once when
 * late), to the sender's node (s mod nodes), the next only after that node
 * answered the previous one, so nonces arrive in order.
 */
export async function sendOpenLoop(
  x: Exchange,
  feed: SignedFeed,
  schedule: Schedule,
  ctl: Stop,
  onSubmitted: (k: number, id: string, submittedMs: number) => void,
  onBusy?: () => void,
  /** How to submit one transaction to a node (default `x.submit`; a SubmitBatcher's gathers them into batches). */
  submitTo: (node: number, tx: Uint8Array) => Promise<string> = (node, tx) => x.submit(node, tx),
): Promise<void> {
  const nodes = x.nodes.length;
  await Promise.all(Array.from({ length: schedule.senders }, async (_, s) => {
    /** This sender's last transfers, oldest first: what it sends again when a node lost one. */
    const sent: Uint8Array[] = [];
    for (let k = s; k < schedule.count && !ctl.stop; k += schedule.senders) {
      for (let wait = dueMs(schedule, k) - performance.now(); wait > 0 && !ctl.stop;) {
        await sleep(Math.min(wait, SLEEP_SLICE_MS));
        wait = dueMs(schedule, k) - performance.now();
      }
      const tx = await feed.get(k);
      if (tx === null || ctl.stop) return;
      const at = performance.now();
      // A busy node is asked again with the same bytes (the account's later nonces wait behind it).
      for (let lost = 0;;) {
        try {
          onSubmitted(k, await submitTo(s % nodes, tx), at);
          break;
        } catch (error) {
          if (error instanceof RefusedError && error.code === "nonce_too_high" && lost++ < LOST_RETRIES_MAX) {
            // An earlier nonce answered "pending" was lost (its node synced again, or its vertex was refused):
            // as a client must, send the bytes not seen decided again (idempotent), then this one.
            for (const earlier of sent) await submitTo(s % nodes, earlier).catch(() => {});
            await sleep(1_000);
            continue;
          }
          if (!(error instanceof NodeBusyError)) throw error;
          if (ctl.stop) return;
          onBusy?.();
          await sleep(error.retryAfterS * 1000);
        }
      }
      sent.push(tx);
      if (sent.length > SENT_KEPT) sent.shift();
    }
  }));
}

interface Sample {
  id: string;
  submittedMs: number;
  /** Per node, when a lookup first saw its receipt. */
  seen: number[];
}

/**
 * Submit-to-applied latency of a few transfers: each sample is looked up on
 * every node (`GET /transactions/:id`) until all have its receipt. Bounded:
 * SAMPLES_PENDING_MAX samples at once, each given up after SAMPLE_TIME_MAX_MS.
 */
export class LatencySampler {
  readonly #pending: Sample[] = [];
  /** Latencies (s) of the samples finished since the last `take()`. */
  #done: number[] = [];
  #timedOut = 0;
  #lookups = 0;
  readonly refused = new Map<string, number>();

  constructor(private readonly x: Exchange, private readonly ctl: Stop) {}

  offer(id: string, submittedMs: number): void {
    if (this.#pending.length >= SAMPLES_PENDING_MAX) return;
    this.#pending.push({ id, submittedMs, seen: this.x.nodes.map(() => NaN) });
  }

  /** The samples finished since the last call, and the lookups made and samples given up meanwhile. */
  take(): { latenciesS: number[]; lookups: number; timedOut: number } {
    const out = { latenciesS: this.#done.sort((a, b) => a - b), lookups: this.#lookups, timedOut: this.#timedOut };
    this.#done = [];
    this.#lookups = 0;
    this.#timedOut = 0;
    return out;
  }

  async run(): Promise<void> {
    while (!this.ctl.stop) {
      // One request a node a round for every sample it has not shown applied yet (Exchange.receipts).
      await Promise.all(this.x.nodes.map(async (_, j) => {
        const waiting = this.#pending.filter((p) => Number.isNaN(p.seen[j]));
        if (waiting.length === 0) return;
        this.#lookups += waiting.length;
        const receipts = await this.x.receipts(j, waiting.map((p) => p.id));
        const now = performance.now();
        for (const p of waiting) {
          const r = receipts.get(p.id);
          if (r === undefined) continue;
          p.seen[j] = now;
          if (j === 0 && r.code !== "ok") this.refused.set(r.code, (this.refused.get(r.code) ?? 0) + 1);
        }
      }));
      const now = performance.now();
      for (let i = this.#pending.length - 1; i >= 0; i--) {
        const p = this.#pending[i];
        if (p.seen.every((t) => !Number.isNaN(t))) this.#done.push((Math.max(...p.seen) - p.submittedMs) / 1000);
        else if (now - p.submittedMs > SAMPLE_TIME_MAX_MS) this.#timedOut++;
        else continue;
        this.#pending.splice(i, 1);
      }
      await sleep(LOOKUP_ROUND_MS);
    }
  }
}

/** The fields of `GET /api/v1/status` this benchmark reads. */
export interface StatusView {
  peers: unknown[];
  crypto: { backend: string; build?: string | null };
  dag: { inMemory: number };
  settlement: { cut?: number } | null;
  exchange: { ledger: { stateHash: string; journalVertices: number; halted: string | null } | null };
}

export interface NodeProbe {
  rssMiB: number;
  /** V8 heap used (`process_heap_bytes`). */
  heapMiB: number;
  /** Memory outside the V8 heap that JavaScript objects hold (`process_external_memory_bytes`). */
  externalMiB: number;
  /** The WASM core's linear memory (`qudag_core_memory_bytes`). */
  coreMiB: number;
  /** The largest event-loop lag of the node's last 60 s (`qudag_event_loop_lag_max_seconds`), in ms. */
  lagMaxMs: number;
  dbMiB: number;
  /** `qudag_ledger_transactions_total` by result. */
  ledger: Record<string, number>;
  acceptedVertices: number;
  inMemoryMetric: number;
  inMemoryStatus: number;
  journalVertices: number;
  /** The STATUS_CALLS timed calls of `GET /api/v1/status`, in ms. */
  statusTimesMs: number[];
  stateHash: string;
  halted: string | null;
  checkpointSeq: number | null;
  checkpointDigest: string | null;
}

/** Polls until `done()` gives a value (not null); null after `timeMaxMs` (the caller reports it). */
export async function waitFor<T>(timeMaxMs: number, pollMs: number, done: () => Promise<T | null>): Promise<T | null> {
  const deadline = performance.now() + timeMaxMs;
  while (performance.now() < deadline) {
    const v = await done();
    if (v !== null) return v;
    await sleep(pollMs);
  }
  return null;
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIME_MAX_MS) });
  const body = await res.json();
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body as T;
}

/** The node's latest certified checkpoint (seq and digest), or null before the first. */
export async function latestCheckpoint(http: string): Promise<{ seq: number; digest: string } | null> {
  const res = await fetch(`${http}/api/v1/checkpoints/latest`, { signal: AbortSignal.timeout(FETCH_TIME_MAX_MS) });
  const body = await res.json();
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${http}/api/v1/checkpoints/latest: HTTP ${res.status} ${JSON.stringify(body)}`);
  return { seq: Number(body.statement.seq), digest: body.digest };
}

/** The digest of checkpoint `seq` on the node, or null when it has none. */
export async function checkpointDigest(http: string, seq: number): Promise<string | null> {
  const res = await fetch(`${http}/api/v1/checkpoints/${seq}`, { signal: AbortSignal.timeout(FETCH_TIME_MAX_MS) });
  const body = await res.json();
  return res.ok ? body.digest : null;
}

/**
 * A file under /proc, read by `cat`: Deno wants --allow-all to read /proc itself, while the task's
 * --allow-run (which starts the nodes) covers a child process reading it.
 */
export async function readProc(path: string): Promise<string> {
  const out = await new Deno.Command("cat", { args: [path], stdin: "null", stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`cat ${path}: ${new TextDecoder().decode(out.stderr).trim()}`);
  return new TextDecoder().decode(out.stdout);
}

/**
 * Every node's RSS and the time of one status call, looked at every SAMPLE_EVERY_MS through a window,
 * with the window-end probe's. One look is a point: a V8 heap swings by tens of MiB between two
 * collections, and a status call that lands in a long event-loop task waits for it. The window's median
 * is what the goals compare; the largest look is reported beside it.
 */
export class WindowSamples {
  #rss: number[][];
  #statusMs: number[][];

  constructor(nodes: number) {
    this.#rss = Array.from({ length: nodes }, () => []);
    this.#statusMs = Array.from({ length: nodes }, () => []);
  }

  add(i: number, rssMiB: number, statusMs: readonly number[]): void {
    this.#rss[i].push(rssMiB);
    this.#statusMs[i].push(...statusMs);
  }

  /** Per node: medians and maxima of the window's looks (null where a node gave none); starts a new window. */
  take(): { rssMiB: number[]; rssMaxMiB: number[]; statusMs: number[]; statusMaxMs: number[]; statusCalls: number[] } {
    const median = (v: number[]) => percentile([...v].sort((a, b) => a - b), 0.5);
    const out = {
      rssMiB: this.#rss.map(median),
      rssMaxMiB: this.#rss.map((v) => Math.max(...v)),
      statusMs: this.#statusMs.map(median),
      statusMaxMs: this.#statusMs.map((v) => Math.max(...v)),
      statusCalls: this.#statusMs.map((v) => v.length),
    };
    this.#rss = this.#rss.map(() => []);
    this.#statusMs = this.#statusMs.map(() => []);
    return out;
  }
}

/** One look at node i within a window: its RSS and one timed status call. */
export async function sampleNode(net: RunningTestnet, i: number): Promise<{ rssMiB: number; statusMs: number }> {
  const n = net.description.nodes[i];
  const start = performance.now();
  await getJson<StatusView>(`${n.http}/api/v1/status`);
  const statusMs = performance.now() - start;
  return { rssMiB: await rssMiB(n.pid), statusMs };
}

async function rssMiB(pid: number): Promise<number> {
  const m = (await readProc(`/proc/${pid}/status`)).match(/^VmRSS:\s+([0-9]+) kB$/m);
  if (m === null) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return Number(m[1]) / 1024;
}

function dbMiB(dataDir: string): number {
  let bytes = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      bytes += Deno.statSync(`${dataDir}/qudag.db${suffix}`).size;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return bytes / 2 ** 20;
}

function metricsOf(
  text: string,
): Pick<
  NodeProbe,
  "ledger" | "acceptedVertices" | "inMemoryMetric" | "heapMiB" | "externalMiB" | "coreMiB" | "lagMaxMs"
> {
  const ledger: Record<string, number> = {};
  for (const m of text.matchAll(/^qudag_ledger_transactions_total\{result="([a-z_]+)"\} ([0-9.e+]+)$/gm)) {
    ledger[m[1]] = Number(m[2]);
  }
  const one = (re: RegExp) => Number(text.match(re)?.[1] ?? NaN);
  return {
    ledger,
    acceptedVertices: one(/^qudag_consensus_vertices\{state="accepted"\} ([0-9.e+]+)$/m),
    inMemoryMetric: one(/^qudag_engine_vertices_in_memory ([0-9.e+]+)$/m),
    heapMiB: one(/^process_heap_bytes ([0-9.e+]+)$/m) / 2 ** 20,
    externalMiB: one(/^process_external_memory_bytes ([0-9.e+]+)$/m) / 2 ** 20,
    coreMiB: one(/^qudag_core_memory_bytes ([0-9.e+]+)$/m) / 2 ** 20,
    lagMaxMs: one(/^qudag_event_loop_lag_max_seconds ([0-9.e+-]+)$/m) * 1000,
  };
}

/** One look at node i: process, files, metrics, status (timed), latest checkpoint. */
export async function probeNode(net: RunningTestnet, i: number): Promise<NodeProbe> {
  const n = net.description.nodes[i];
  const metricsRes = await fetch(n.metrics, { signal: AbortSignal.timeout(FETCH_TIME_MAX_MS) });
  const metrics = metricsOf(await metricsRes.text());
  const times: number[] = [];
  let status: StatusView | null = null;
  for (let c = 0; c < STATUS_CALLS; c++) {
    const start = performance.now();
    status = await getJson<StatusView>(`${n.http}/api/v1/status`);
    times.push(performance.now() - start);
  }
  const ledger = status!.exchange.ledger;
  if (ledger === null) throw new Error(`${n.name} runs no exchange ledger`);
  const checkpoint = await latestCheckpoint(n.http);
  return {
    rssMiB: await rssMiB(n.pid),
    dbMiB: dbMiB(n.dataDir),
    ...metrics,
    inMemoryStatus: status!.dag.inMemory,
    journalVertices: ledger.journalVertices,
    statusTimesMs: times,
    stateHash: ledger.stateHash,
    halted: ledger.halted,
    checkpointSeq: checkpoint?.seq ?? null,
    checkpointDigest: checkpoint?.digest ?? null,
  };
}
