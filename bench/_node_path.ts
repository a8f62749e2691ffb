/**
 * The whole node path of an rUv transfer, for bench/ledger_bench.ts: a real
 * local testnet (scripts/testnet.ts, the start task's flags, every node on
 * 127.0.0.1), the exchange set up as tests/exchange_testnet_test.ts does
 * (create accounts, mint), then pre-signed transfers submitted to the
 * exchange API's `POST /transactions`, spread over the nodes with bounded
 * concurrency, until every node's ledger has applied all of them.
 *
 * What is timed: from the first submit until every node's ledger shows every
 * sender's next nonce past its last transfer, i.e. every transfer applied
 * there (a refusal after the nonce check also consumes the nonce,
 * wasm/LEDGER.md, so afterwards each node's `qudag_ledger_transactions_total`
 * must count every setup transaction and transfer as ok and nothing refused,
 * or the run fails). Completion is read by polling each node's
 * `GET /accounts` pages; the end time is the response time of the poll that
 * saw a node complete (so the rate is, if anything, a little low).
 * Submit-to-applied latency is sampled by lookups of a few transfers on every
 * node, one `GET /transactions?ids=` a node a round (applied = the node
 * returns a receipt).
 * Signing is done before the clock starts and reported on its own.
 *
 * Senders: S accounts, transfer i is sent by account i mod S with the next
 * nonce of that account, to account (i + 1) mod S. A nonce n + 1 is valid only
 * if nonce n's carrier vertex is in its causal past (LEDGER.md "Order
 * independence"), so each sender's transfers go to one node, submitted one
 * after the other in nonce order: n + 1 only once the node answered for n, so
 * its dry run finds n on its way and takes n + 1 at once (it would otherwise
 * wait for n, src/node/mod.ts), and carries it on top of n's carrier. With
 * S >= N every sender sends one transfer (no nonce chains at all).
 *
 * Bounds: every wait is bounded in time (setup and measurement each), every
 * loop in count; every node is stopped in a finally, also on error.
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
import { startTestnet } from "../scripts/testnet.ts";
import {
  type Account,
  ACCOUNTS_PAGE,
  backendOf,
  Exchange,
  FETCH_TIME_MAX_MS,
  percentile,
  POLL_MS,
  pool,
  sleep,
} from "./_exchange.ts";

import process from "node:process";

const RUV = 1_000_000n;
/** Minted to each sender: far more than its transfers and their fees need. */
const SENDER_FUNDS = 1_000_000n * RUV;
/** Each transfer moves 1 rUv. */
const TRANSFER_AMOUNT = RUV;
/** What a transaction may pay at most (as the exchange tests sign). */
const MAX_FEE = 1n << 40n;
/** Most transfers one run may submit (the node's mempool holds 100,000). */
export const NODE_TRANSFERS_MAX = 50_000;

/**
 * Node settings of every benchmark's testnet: one load generator on one
 * address is the operator measuring, not a client to ration, so per-client
 * HTTP limits are off (their cost per request is a token-bucket lookup).
 */
export const BENCH_NODE_ENV: Readonly<Record<string, string>> = Object.freeze({ QUDAG_HTTP_RATE_LIMIT: "false" });
/** Waiting for the peer mesh. */
const MESH_TIME_MAX_MS = 30_000;
/** Each setup wait (accounts created everywhere, senders funded everywhere). */
const SETUP_TIME_MAX_MS = 120_000;
/** Setup submits in flight at once. */
const LOOKUP_CONCURRENCY = 8;

export interface NodePathOptions {
  /** Transfers to submit and wait for. */
  transfers: number;
  /** Sender accounts; >= transfers means one transfer per sender. */
  senders: number;
  nodes: number;
  /** Submits in flight at once. */
  concurrency: number;
  /** Transfers whose submit-to-applied time is sampled by lookups. */
  samples: number;
  /** From the first submit until every node applied everything; an error after. */
  timeMaxMs: number;
  /** Progress lines (setup steps). */
  log: (line: string) => void;
}

export interface NodePathResult {
  nodes: number;
  transfers: number;
  senders: number;
  /** "one transfer per sender", or "consecutive nonces, up to K per sender". */
  mode: string;
  crypto_backend_node: string;
  crypto_backend_signing: string;
  setup_s: number;
  signing_s: number;
  signing_per_s: number;
  /** Submits in flight at once. */
  submit_concurrency: number;
  submit_s: number;
  submit_per_s: number;
  /** First submit until the last node applied the last transfer. */
  applied_all_s: number;
  transfers_per_s: number;
  /** Per node, first submit until it had applied everything. */
  applied_by_node_s: number[];
  /** CPU time this process (submits, polls, lookups) used from the first submit to the end: it shares the cores. */
  client_cpu_s: number;
  latency_samples: number;
  /** Submit until applied on every node. */
  latency_all_nodes_s: { p50: number; p99: number };
  /** Submit until applied on the node it was sent to. */
  latency_submit_node_s: { p50: number; p99: number };
  /** Mean time of one round of sample lookups: the latency figures' resolution. */
  lookup_round_ms: number;
  /**
   * Submit until applied on every node, for every transfer, read from the
   * completion polls (a sender's next nonce); resolution one poll
   * (`completion_poll_ms` plus the time the poll takes).
   */
  latency_all_transfers_s: { p50: number; p99: number };
  completion_poll_ms: number;
  same_state_hash: boolean;
  state_hash: string;
}

/** At most `n` holders at once; waiters are served in arrival order (at most one per sender waits). */
class Permits {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async take(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
  give(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

export async function measureNodePath(o: NodePathOptions): Promise<NodePathResult> {
  const { transfers: N, nodes: NODES } = o;
  const S = Math.min(o.senders, N);
  const perSenderMax = Math.ceil(N / S);
  const mode = S >= N
    ? "one transfer per sender (no nonce chains)"
    : `consecutive nonces, up to ${perSenderMax} per sender; each sender's to one node, in nonce order`;
  const setupStart = performance.now();
  const signing = await selectCryptoBackend({ requested: "auto" });

  const dir = Deno.makeTempDirSync({ prefix: "qudag-bench-ledger-" });
  o.log(`node path: starting ${NODES} nodes…`);
  const net = await startTestnet({ nodes: NODES, dir, basePort: 0, quiet: true, env: { ...BENCH_NODE_ENV } });
  try {
    const d = net.description;
    const x = new Exchange(net, Deno.readTextFileSync(d.apiKeyFile).trim());
    const chainId = fromHex(d.chainId);
    const sign = async (a: Account, nonce: bigint, payload: TransactionPayload) => {
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
    let status: { peers: unknown[]; crypto: { backend: string; build?: string | null } }[] = [];
    while (Date.now() < meshDeadline) {
      status = await Promise.all(
        d.nodes.map(async (n) =>
          await (await fetch(`${n.http}/api/v1/status`, { signal: AbortSignal.timeout(FETCH_TIME_MAX_MS) })).json()
        ),
      );
      if (status.every((s) => s.peers.length === NODES - 1)) break;
      await sleep(100);
    }
    if (!status.every((s) => s.peers.length === NODES - 1)) {
      throw new Error(`peer mesh incomplete after ${MESH_TIME_MAX_MS / 1000} s\n${x.logTail()}`);
    }

    // Setup, as the exchange tests do: create the senders, then mint to each.
    o.log(`node path: creating and funding ${S} sender accounts…`);
    const master = await account(fromHex(Deno.readTextFileSync(d.exchangeKeys["exchange-master"]).trim()));
    const senders = await Promise.all(
      Array.from({ length: S }, () => account(crypto.getRandomValues(new Uint8Array(32)))),
    );
    const creates = await Promise.all(
      senders.map((a, s) => sign(a, 0n, { kind: "create_account", name: `bench-${s}`, publicKey: a.signer.publicKey })),
    );
    await pool(creates.map((tx, s) => ({ tx, s })), LOOKUP_CONCURRENCY, async ({ tx, s }) => {
      await x.submit(s % NODES, tx);
    });
    await x.waitAccounts(
      "creating the senders",
      SETUP_TIME_MAX_MS,
      (accounts) => senders.filter((a) => !accounts.has(a.hex)).map((a) => a.hex.slice(0, 12)),
    );
    const masterNonce = BigInt((await x.get(0, `/accounts/${master.hex}`)).nextNonce);
    // The master's mints form one nonce chain: one node, in order.
    const mintDeadline = Date.now() + SETUP_TIME_MAX_MS;
    for (let s = 0; s < S; s++) {
      if (Date.now() > mintDeadline) throw new Error(`minting: ${s}/${S} submitted in ${SETUP_TIME_MAX_MS / 1000} s`);
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
    const setupS = (performance.now() - setupStart) / 1000;

    // Pre-sign the transfers (not timed as node work; reported apart).
    o.log(`node path: signing ${N} transfers (${signing.name})…`);
    const signStart = performance.now();
    const memo = new Uint8Array();
    const txs = await Promise.all(Array.from({ length: N }, (_, i) => {
      const s = i % S;
      const nonce = 1n + BigInt(Math.floor(i / S));
      return sign(senders[s], nonce, { kind: "transfer", to: senders[(s + 1) % S].id, amount: TRANSFER_AMOUNT, memo });
    }));
    const signingS = (performance.now() - signStart) / 1000;

    // Measure.
    o.log(`node path: submitting ${N} transfers to ${NODES} nodes…`);
    const sampleEvery = Math.max(1, Math.ceil(N / Math.max(1, o.samples)));
    const submittedAt = new Array<number>(N).fill(NaN);
    const ids = new Array<string>(N).fill("");
    /** Sample i -> per node, when a lookup first saw its receipt. */
    const seen = new Map<number, number[]>();
    const ctl = { stop: false };
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + o.timeMaxMs;
    let submitEnd = NaN;

    // One loop per sender, its transfers in nonce order, one in flight at a time; `permits` bounds
    // the submits in flight over all senders and serves them first come first served, so every
    // sender advances at the same pace and the submit tail is not left to a few senders.
    const permits = new Permits(Math.min(o.concurrency, S));
    const submitting = Promise.all(senders.map(async (_, s) => {
      for (let i = s; i < N && !ctl.stop; i += S) {
        await permits.take();
        try {
          if (ctl.stop) return;
          submittedAt[i] = performance.now();
          ids[i] = await x.submit(s % NODES, txs[i]);
        } finally {
          permits.give();
        }
        if (i % sampleEvery === 0) seen.set(i, new Array<number>(NODES).fill(NaN));
      }
    })).then(() => void (submitEnd = performance.now()));

    // A poll reads every account: with more than a page of them, poll less often, so that the
    // nodes' work answering it stays about the same share of the run.
    const completionPollMs = POLL_MS * Math.ceil((S + 16) / ACCOUNTS_PAGE);
    const appliedAt = new Array<number>(NODES).fill(NaN);
    const appliedCount = new Array<number>(NODES).fill(0);
    /** Per node and sender, how many of its transfers the node applied (from the nonce polls). */
    const appliedOfSender = Array.from({ length: NODES }, () => new Array<number>(S).fill(0));
    /** Per node and transfer, when a poll first showed it applied (its sender's nonce past it). */
    const appliedSeen = Array.from({ length: NODES }, () => new Array<number>(N).fill(NaN));
    const polling = (async () => {
      while (!ctl.stop && appliedAt.some(Number.isNaN)) {
        if (performance.now() > deadline) {
          throw new Error(
            `transfers not applied on every node ${o.timeMaxMs / 1000} s after the first submit: applied ${
              appliedCount.map((c, i) => `${d.nodes[i].name} ${c}/${N}`).join(", ")
            }; submitted ${ids.filter((id) => id !== "").length}/${N}\n${x.logTail()}`,
          );
        }
        await Promise.all(d.nodes.map(async (_, j) => {
          if (!Number.isNaN(appliedAt[j])) return;
          const accounts = await x.accounts(j);
          const now = performance.now();
          let applied = 0;
          senders.forEach((a, s) => {
            // Nonce 0 was the create_account; transfer k of sender s is transfer s + k * S, nonce k + 1.
            const k = Math.min(Number(BigInt(accounts.get(a.hex)?.nextNonce ?? "1") - 1n), perSenderMax);
            for (let done = appliedOfSender[j][s]; done < k; done++) {
              if (s + done * S < N) appliedSeen[j][s + done * S] = now;
            }
            appliedOfSender[j][s] = Math.max(k, appliedOfSender[j][s]);
            applied += k;
          });
          appliedCount[j] = applied;
          if (applied >= N) appliedAt[j] = now;
        }));
        await sleep(completionPollMs);
      }
    })();

    let lookupRounds = 0;
    let lookupMs = 0;
    const sampleCodes = new Map<string, number>();
    const sampling = (async () => {
      const pendingSamples = () => [...seen].filter(([, at]) => at.some(Number.isNaN));
      while (!ctl.stop && performance.now() < deadline) {
        const pending = pendingSamples();
        if (pending.length === 0 && !Number.isNaN(submitEnd)) return;
        const roundStart = performance.now();
        await Promise.all(x.nodes.map(async (_, j) => {
          const waiting = pending.filter(([, at]) => Number.isNaN(at[j]));
          if (waiting.length === 0) return;
          const receipts = await x.receipts(j, waiting.map(([i]) => ids[i]));
          const now = performance.now();
          for (const [i, at] of waiting) {
            const r = receipts.get(ids[i]);
            if (r === undefined) continue;
            at[j] = now;
            if (j === 0) sampleCodes.set(r.code, (sampleCodes.get(r.code) ?? 0) + 1);
          }
        }));
        lookupRounds++;
        lookupMs += performance.now() - roundStart;
        await sleep(POLL_MS);
      }
    })();

    try {
      // All three at once: a failure of any is seen at once, and none is left unhandled.
      await Promise.all([submitting, polling, sampling]);
    } finally {
      ctl.stop = true;
      await Promise.allSettled([submitting, polling, sampling]);
    }
    const tEnd = Math.max(...appliedAt);
    const cpu = process.cpuUsage(cpu0);
    const refused = [...sampleCodes].filter(([code]) => code !== "ok");
    if (refused.length) throw new Error(`sampled receipts not ok: ${JSON.stringify(Object.fromEntries(refused))}`);
    if ([...seen.values()].some((at) => at.some(Number.isNaN))) {
      throw new Error(`some sampled transfers had no receipt on every node before the deadline`);
    }

    const samples = [...seen];
    const everywhere = samples.map(([i, at]) => (Math.max(...at) - submittedAt[i]) / 1000).sort((a, b) => a - b);
    const atSubmitNode = samples.map(([i, at]) => (at[(i % S) % NODES] - submittedAt[i]) / 1000).sort((a, b) => a - b);
    const everyTransfer = submittedAt.map((at, i) => (Math.max(...appliedSeen.map((n) => n[i])) - at) / 1000);
    everyTransfer.sort((a, b) => a - b);
    // Every setup transaction (S create_account, S mint) and every transfer ok on every node, nothing refused.
    const okExpected = 2 * S + N;
    const results = await Promise.all(d.nodes.map((_, j) => x.ledgerResults(j)));
    results.forEach((r, j) => {
      if (r.ok !== okExpected || Object.keys(r).some((code) => code !== "ok")) {
        throw new Error(
          `${d.nodes[j].name}'s ledger results ${JSON.stringify(r)}: expected ${okExpected} ok, nothing else`,
        );
      }
    });
    const statuses = await Promise.all(d.nodes.map((_, j) => x.get(j, "/status")));
    const halted = statuses.map((s, j) => [d.nodes[j].name, s.halted]).filter(([, h]) => h !== null);
    if (halted.length) throw new Error(`ledger halted on ${JSON.stringify(halted)}`);
    x.close();
    const round3 = (v: number) => Math.round(v * 1000) / 1000;
    return {
      nodes: NODES,
      transfers: N,
      senders: S,
      mode,
      crypto_backend_node: backendOf(status[0]),
      crypto_backend_signing: signing.name,
      setup_s: round3(setupS),
      signing_s: round3(signingS),
      signing_per_s: Math.round(N / signingS),
      submit_concurrency: Math.min(o.concurrency, S),
      submit_s: round3((submitEnd - t0) / 1000),
      submit_per_s: Math.round(N / ((submitEnd - t0) / 1000)),
      applied_all_s: round3((tEnd - t0) / 1000),
      transfers_per_s: Math.round(N / ((tEnd - t0) / 1000)),
      applied_by_node_s: appliedAt.map((t) => round3((t - t0) / 1000)),
      client_cpu_s: round3((cpu.user + cpu.system) / 1e6),
      latency_samples: samples.length,
      latency_all_nodes_s: { p50: round3(percentile(everywhere, 0.5)), p99: round3(percentile(everywhere, 0.99)) },
      latency_submit_node_s: {
        p50: round3(percentile(atSubmitNode, 0.5)),
        p99: round3(percentile(atSubmitNode, 0.99)),
      },
      lookup_round_ms: Math.round(lookupMs / Math.max(1, lookupRounds)),
      completion_poll_ms: completionPollMs,
      latency_all_transfers_s: {
        p50: round3(percentile(everyTransfer, 0.5)),
        p99: round3(percentile(everyTransfer, 0.99)),
      },
      same_state_hash: statuses.every((s) => s.stateHash === statuses[0].stateHash),
      state_hash: statuses[0].stateHash,
    };
  } finally {
    await net.stop();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* left behind: a temporary directory */ }
  }
}
