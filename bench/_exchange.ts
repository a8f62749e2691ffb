/**
 * The load generator's client of a testnet's exchange API (bench:ledger,
 * bench:soak): submissions one by one or in batches, receipts looked up many
 * at a time, accounts read page by page, and the small helpers the benchmarks
 * share (sleep, percentile, a bounded pool). Every request is bounded in time.
 */
import type { MlDsaSigner } from "../src/crypto/mod.ts";
import { LOOKUP_IDS_MAX } from "../src/http/exchange_batch.ts";
import type { RunningTestnet } from "../scripts/testnet.ts";
import { Http1ConnectionError, Http1Pool, type Http1Response } from "./_http1.ts";

/** Most sender accounts (each needs a create_account and a mint in the setup). */
export const NODE_SENDERS_MAX = 10_000;
/** Between two polls of the accounts (per page), and between two rounds of sample lookups. */
export const POLL_MS = 200;
/** Page size of `GET /accounts` (the API's maximum). */
export const ACCOUNTS_PAGE = 1_000;
/** Bound on the pages read per node per poll (ACCOUNTS_PAGE each). */
const ACCOUNT_PAGES_MAX = Math.ceil((NODE_SENDERS_MAX + 16) / ACCOUNTS_PAGE) + 1;
/** Any one HTTP request to a node. */
export const FETCH_TIME_MAX_MS = 30_000;
/** Kept-alive connections per node for submissions (the senders wait their turn for one). */
const SUBMIT_CONNECTIONS = 32;
const decoder = new TextDecoder();
/** Node log lines quoted in an error. */
const LOG_TAIL_LINES = 6;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

/** Runs `job` over `items` with at most `limit` in flight; stops at the first failure. */
export async function pool<T>(items: readonly T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await job(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  }));
}

/** A node refused a transaction with a stable code. */
export class RefusedError extends Error {
  constructor(readonly node: string, readonly code: string, message: string) {
    super(message);
    this.name = "RefusedError";
  }
}

/** A node refused a submission for now (503 node_busy): try the same bytes again after `retryAfterS`. */
export class NodeBusyError extends Error {
  constructor(readonly node: string, readonly retryAfterS: number) {
    super(`${node} is busy; retry after ${retryAfterS} s`);
    this.name = "NodeBusyError";
  }
}

export interface Account {
  signer: MlDsaSigner;
  id: Uint8Array;
  hex: string;
}

interface AccountView {
  id: string;
  name: string;
  balanceUnits: string;
  nextNonce: string;
}

/** A node's crypto backend as its status names it, with the native library's build ("native (x86-64-v4)"). */
export function backendOf(status: { crypto: { backend: string; build?: string | null } }): string {
  const { backend, build } = status.crypto;
  return build ? `${backend} (${build})` : backend;
}

/**
 * Gathers the submissions made to each node within `windowMs` into one batch request (at most BATCH_MAX); each
 * caller gets its own transaction's result, as from `Exchange.submit`.
 */
export class SubmitBatcher {
  static readonly BATCH_MAX = 128;
  readonly #queues = new Map<number, { tx: Uint8Array; done: (r: string | Error) => void }[]>();
  batches = 0;

  constructor(private readonly x: Exchange, private readonly windowMs: number) {}

  submit(node: number, tx: Uint8Array): Promise<string> {
    return new Promise<string | Error>((done) => {
      let queue = this.#queues.get(node);
      if (queue === undefined) {
        queue = [];
        this.#queues.set(node, queue);
        setTimeout(() => this.#flush(node), this.windowMs);
      }
      queue.push({ tx, done });
      if (queue.length >= SubmitBatcher.BATCH_MAX) this.#flush(node);
    }).then((r) => r instanceof Error ? Promise.reject(r) : r);
  }

  #flush(node: number): void {
    const queue = this.#queues.get(node);
    if (queue === undefined) return;
    this.#queues.delete(node);
    this.batches++;
    this.x.submitBatch(node, queue.map((q) => q.tx)).then(
      (results) => results.forEach((r, i) => queue[i].done(r)),
      (error) => queue.forEach((q) => q.done(error instanceof Error ? error : new Error(String(error)))),
    );
  }
}

export class Exchange {
  /** Kept-alive connections for submissions, by origin (a node started again may listen elsewhere). */
  readonly #pools = new Map<string, Http1Pool>();

  constructor(private readonly net: RunningTestnet, private readonly apiKey: string) {}

  get nodes() {
    return this.net.description.nodes;
  }

  /** Closes the submissions' connections. */
  close(): void {
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
  }

  #pool(node: number): Http1Pool {
    const origin = this.nodes[node].exchange;
    let pool = this.#pools.get(origin);
    if (pool === undefined) this.#pools.set(origin, pool = new Http1Pool(origin, SUBMIT_CONNECTIONS));
    return pool;
  }

  async submit(node: number, tx: Uint8Array): Promise<string> {
    let res: Http1Response;
    try {
      res = await this.#pool(node).request(
        "POST",
        "/api/v1/exchange/transactions",
        { "content-type": "application/octet-stream", "x-api-key": this.apiKey },
        tx,
        FETCH_TIME_MAX_MS,
      );
    } catch (e) {
      // Not listening: starting again to sync (sync.resync_after_ms). A node that stays down stalls the run.
      if (e instanceof Http1ConnectionError) throw new NodeBusyError(this.nodes[node].name, 1);
      throw e;
    }
    const body = JSON.parse(decoder.decode(res.body));
    if (res.status === 503 && body?.error?.code === "node_busy") {
      throw new NodeBusyError(this.nodes[node].name, Number(res.headers.get("retry-after") ?? 1) || 1);
    }
    // A node that stopped itself to sync again (sync.resync_after_ms) is back within seconds: ask it again.
    if (res.status === 503 && body?.error?.code === "shutting_down") throw new NodeBusyError(this.nodes[node].name, 1);
    if (res.status < 200 || res.status > 299 || typeof body.id !== "string") {
      throw new RefusedError(
        this.nodes[node].name,
        String(body?.error?.code ?? `http_${res.status}`),
        `${this.nodes[node].name} refused a transaction: HTTP ${res.status} ${JSON.stringify(body)}`,
      );
    }
    return body.id;
  }

  /**
   * Submits up to 128 transactions in one request (`POST /transactions/batch`); one result per transaction, in
   * order: its id, a NodeBusyError, or an Error saying why it was refused.
   */
  async submitBatch(node: number, txs: readonly Uint8Array[]): Promise<(string | Error)[]> {
    const res = await fetch(`${this.nodes[node].exchange}/api/v1/exchange/transactions/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": this.apiKey },
      body: JSON.stringify({ transactions: txs.map((tx) => tx.toBase64()) }),
      signal: AbortSignal.timeout(FETCH_TIME_MAX_MS),
    });
    const body = await res.json();
    if (!res.ok || !Array.isArray(body.results) || body.results.length !== txs.length) {
      throw new Error(`${this.nodes[node].name} refused a batch: HTTP ${res.status} ${JSON.stringify(body)}`);
    }
    return (body.results as { id?: string; error?: { code: string; details?: { retryAfterS?: number } } }[]).map(
      (r) => {
        if (typeof r.id === "string") return r.id;
        if (r.error?.code === "node_busy") {
          return new NodeBusyError(this.nodes[node].name, Number(r.error.details?.retryAfterS ?? 1) || 1);
        }
        return new Error(`${this.nodes[node].name} refused a transaction: ${JSON.stringify(r)}`);
      },
    );
  }

  /**
   * The node's receipts of `ids` (`GET /transactions?ids=`, LOOKUP_IDS_MAX ids a request: one request a round
   * rather than one per transaction, which made the measurement itself about as many requests as the load); an id
   * the node has no receipt for yet is absent.
   */
  async receipts(node: number, ids: readonly string[]): Promise<Map<string, { code: string }>> {
    const out = new Map<string, { code: string }>();
    for (let at = 0; at < ids.length; at += LOOKUP_IDS_MAX) {
      const chunk = ids.slice(at, at + LOOKUP_IDS_MAX);
      let res: Response;
      try {
        res = await fetch(`${this.nodes[node].exchange}/api/v1/exchange/transactions?ids=${chunk.join(",")}`, {
          signal: AbortSignal.timeout(FETCH_TIME_MAX_MS),
        });
      } catch (e) {
        if (e instanceof TypeError) return out; // not listening: starting again to sync (sync.resync_after_ms)
        throw e;
      }
      const body = await res.json();
      if (res.status === 503 && body?.error?.code === "shutting_down") return out;
      if (!res.ok) {
        throw new Error(
          `${this.nodes[node].name} lookup of ${chunk.length} ids: HTTP ${res.status} ${JSON.stringify(body)}`,
        );
      }
      for (const t of body.transactions as { id: string; receipt: { code: string } | null }[]) {
        if (t.receipt !== null) out.set(t.id, t.receipt);
      }
    }
    return out;
  }

  async get(node: number, path: string) {
    const res = await fetch(`${this.nodes[node].exchange}/api/v1/exchange${path}`, {
      signal: AbortSignal.timeout(FETCH_TIME_MAX_MS),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`${this.nodes[node].name} GET ${path}: HTTP ${res.status} ${JSON.stringify(body)}`);
    return body;
  }

  /** Every account on the node, by id. */
  async accounts(node: number): Promise<Map<string, AccountView>> {
    const out = new Map<string, AccountView>();
    let after: string | null = null;
    for (let page = 0; page < ACCOUNT_PAGES_MAX; page++) {
      const body: { accounts: AccountView[]; next: string | null } = await this.get(
        node,
        `/accounts?limit=${ACCOUNTS_PAGE}${after === null ? "" : `&after=${after}`}`,
      );
      for (const a of body.accounts) out.set(a.id, a);
      if (body.next === null) return out;
      after = body.next;
    }
    throw new Error(`${this.nodes[node].name} lists more than ${ACCOUNT_PAGES_MAX} pages of accounts`);
  }

  /** Polls every node until `done` holds for its accounts; throws after `timeMaxMs` saying what is missing. */
  async waitAccounts(
    what: string,
    timeMaxMs: number,
    missing: (accounts: Map<string, AccountView>) => string[],
  ): Promise<void> {
    const deadline = Date.now() + timeMaxMs;
    let left: string[][] = [];
    while (Date.now() < deadline) {
      left = await Promise.all(this.nodes.map(async (_, i) => missing(await this.accounts(i))));
      if (left.every((l) => l.length === 0)) return;
      await sleep(POLL_MS);
    }
    const worst = left.findIndex((l) => l.length === Math.max(...left.map((x) => x.length)));
    throw new Error(
      `${what}: not done on every node after ${timeMaxMs / 1000} s; ${this.nodes[worst].name} still lacks ${
        left[worst].length
      } (${left[worst].slice(0, 3).join(", ")}…)\n${this.logTail()}`,
    );
  }

  /** The node's ledger results so far, by code (its `qudag_ledger_transactions_total` metric). */
  async ledgerResults(node: number): Promise<Record<string, number>> {
    const res = await fetch(this.nodes[node].metrics, { signal: AbortSignal.timeout(FETCH_TIME_MAX_MS) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${this.nodes[node].name} metrics: HTTP ${res.status}`);
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^qudag_ledger_transactions_total\{result="([a-z_]+)"\} ([0-9]+)$/gm)) {
      out[m[1]] = Number(m[2]);
    }
    return out;
  }

  /** The last warnings and errors of every node's log, for an error message. */
  logTail(): string {
    return this.nodes.map((n, i) => {
      const lines = this.net.log(i).split("\n").filter((l) => /"level":"(warn|error)"/.test(l));
      return `${n.name}: ${lines.slice(-LOG_TAIL_LINES).join("\n  ") || "(no warnings)"}`;
    }).join("\n");
  }
}
