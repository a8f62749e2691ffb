/**
 * The replica: follows one or more nodes' feeds (GET /api/v1/feed) by pull,
 * checks every event (verify.ts), replays the ledger (replay.ts), and on each
 * certified checkpoint whose statement matches the replay stores the new
 * verified state (store.ts) and serves it. Reads never see anything else.
 *
 * Work per `sync()` is bounded (`stepEventsMax` events); calls overlap into
 * one (single flight). An upstream that sends anything the checks refuse is
 * logged with its URL and the stable code, set aside for `retryAfterMs`, and
 * everything it sent since the last verified checkpoint is dropped; the next
 * step asks another upstream from that checkpoint's cursor (cursors are the
 * same on every node). One that gives no answer (unreachable, rate limited, a
 * 5xx status) is no liar: it is asked again after its Retry-After, else after
 * a backoff from `transientRetryMs` that doubles with each failure in a row, up
 * to `retryAfterMs`.
 */
import { Ledger, type LedgerGenesis } from "../src/core/ledger.ts";
import type { Genesis } from "../src/checkpoint/genesis.ts";
import type { CheckpointCertificate, SignatureCheck } from "../src/checkpoint/mod.ts";
/** The feed cursor (src/node/feed.ts): "<cut>.<index>". */
const FEED_CURSOR_RE = /^(0|[1-9][0-9]{0,15})\.(0|[1-9][0-9]{0,5})$/;
import { type EdgeReceipt, Replayer, type VerifiedState } from "./replay.ts";
import type { EdgeStore } from "./store.ts";
import {
  EdgeError,
  type EdgeErrorCode,
  type FeedEventJson,
  verifyCheckpointEvent,
  verifyVertexEvent,
} from "./verify.ts";

export type LogFn = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

export interface ReplicaOptions {
  readonly genesis: Genesis;
  readonly ledgerGenesis: LedgerGenesis | null;
  readonly upstreams: readonly string[];
  readonly store: EdgeStore;
  /** ML-DSA-87 verification (vertices, certificates, transactions). */
  readonly verify: SignatureCheck;
  readonly fetch?: typeof fetch;
  /** Wall clock, ms since the epoch (the age of the served state). */
  readonly nowMs: () => number;
  readonly log: LogFn;
  /** Events one sync step reads at most. */
  readonly stepEventsMax?: number;
  /** Events asked per feed page. */
  readonly pageEvents?: number;
  readonly upstreamTimeoutMs?: number;
  /** An upstream refused for what it sent is not asked again for this long (default 30 s). */
  readonly retryAfterMs?: number;
  /** The first wait after an upstream gave no answer, doubling with each such failure in a row (default 1 s). */
  readonly transientRetryMs?: number;
}

export interface UpstreamState {
  readonly url: string;
  /** Chain id checked against the genesis. */
  chainChecked: boolean;
  lastOkMs: number | null;
  lastError: { code: EdgeErrorCode; message: string; atMs: number } | null;
  /** Not asked before this time (ms since the epoch). */
  retryAtMs: number;
  /** Failures in a row that gave no answer (the backoff's exponent); 0 after a step that got its answers. */
  transientFailures: number;
}

/** What reads are answered from: a ledger whose state hash is a certified checkpoint's. */
export interface Served {
  readonly certificate: CheckpointCertificate;
  readonly ledger: Ledger | null;
  readonly verifiedAtMs: number;
}

export interface SyncReport {
  readonly upstream: string | null;
  readonly events: number;
  readonly checkpoints: number;
  readonly error: { code: EdgeErrorCode; message: string } | null;
  readonly caughtUp: boolean;
}

function cursorKey(c: string): [number, number] {
  const [s, i] = c.split(".").map(Number);
  return [s, i];
}

function after(a: string, b: string): boolean {
  const [as, ai] = cursorKey(a);
  const [bs, bi] = cursorKey(b);
  return as > bs || (as === bs && ai > bi);
}

export class Replica {
  readonly #o: ReplicaOptions;
  readonly #replayer: Replayer;
  readonly upstreams: UpstreamState[];
  #served: Served | null = null;
  /** The cursor of the last event applied (pending or verified). */
  #cursor: string;
  #running: Promise<SyncReport> | null = null;
  #next = 0;
  lastSync: SyncReport | null = null;
  lastSyncAtMs = 0;

  private constructor(o: ReplicaOptions, from: VerifiedState, verifiedAtMs: number) {
    this.#o = o;
    this.#replayer = new Replayer({
      chainId: o.genesis.chainId,
      ledgerGenesis: o.ledgerGenesis,
      verify: o.verify,
      committedReceipt: (t) => o.store.receipt(t),
      committedVertex: (id) => o.store.hasVertex(id),
    }, from);
    this.#cursor = from.cursor;
    this.upstreams = o.upstreams.map((url) => ({
      url: url.replace(/\/+$/, ""),
      chainChecked: false,
      lastOkMs: null,
      lastError: null,
      retryAtMs: 0,
      transientFailures: 0,
    }));
    this.#serve(from, verifiedAtMs);
  }

  /** A replica resumed from the store (or from the genesis on a first start). */
  static async open(o: ReplicaOptions): Promise<Replica> {
    const stored = await o.store.load(o.ledgerGenesis !== null);
    if (stored !== null) {
      o.log("info", "edge replica resumed from KV", {
        seq: stored.state.certificate?.statement.seq ?? 0,
        cursor: stored.state.cursor,
      });
    }
    return new Replica(o, stored?.state ?? Replayer.genesisState(), stored?.verifiedAtMs ?? 0);
  }

  /** The verified state reads come from, or null before the first verified checkpoint. */
  get served(): Served | null {
    return this.#served;
  }

  get cursor(): string {
    return this.#cursor;
  }

  get pendingVertices(): number {
    return this.#replayer.pendingVertices;
  }

  /** A receipt covered by the served checkpoint. */
  async receipt(txId: string): Promise<EdgeReceipt | null> {
    const r = await this.#o.store.receipt(txId);
    const seq = this.#served?.certificate.statement.seq ?? 0;
    return r !== null && r.cut <= seq ? r : null;
  }

  #serve(state: VerifiedState, verifiedAtMs: number): void {
    if (state.certificate === null) return;
    const old = this.#served?.ledger;
    this.#served = {
      certificate: state.certificate,
      ledger: state.ledger === null ? null : Ledger.import(state.ledger),
      verifiedAtMs,
    };
    old?.free();
  }

  /** One bounded step of following the upstreams; overlapping calls share one step. */
  sync(): Promise<SyncReport> {
    this.#running ??= this.#step().finally(() => this.#running = null);
    return this.#running;
  }

  #pick(): UpstreamState | null {
    const now = this.#o.nowMs();
    for (let k = 0; k < this.upstreams.length; k++) {
      const u = this.upstreams[(this.#next + k) % this.upstreams.length];
      if (u.retryAtMs <= now) {
        this.#next = (this.#next + k) % this.upstreams.length;
        return u;
      }
    }
    return null;
  }

  async #step(): Promise<SyncReport> {
    const u = this.#pick();
    let events = 0;
    let checkpoints = 0;
    let caughtUp = false;
    if (u === null) {
      return this.#report({ upstream: null, events, checkpoints, error: null, caughtUp });
    }
    try {
      if (!u.chainChecked) await this.#checkChain(u);
      const max = this.#o.stepEventsMax ?? 2_000;
      while (events < max && !caughtUp) {
        const page = await this.#page(u, Math.min(this.#o.pageEvents ?? 500, max - events));
        for (const e of page.events) {
          if (typeof e?.cursor !== "string" || !FEED_CURSOR_RE.test(e.cursor) || !after(e.cursor, this.#cursor)) {
            throw new EdgeError("edge_feed_out_of_order", `event ${JSON.stringify(e?.cursor)} after ${this.#cursor}`);
          }
          if (e.type === "vertex") {
            const v = await verifyVertexEvent(e, this.#o.genesis, this.#o.verify, (p) => this.#replayer.knows(p));
            await this.#replayer.apply(v);
          } else if (e.type === "checkpoint") {
            const cert = await verifyCheckpointEvent(e, this.#o.genesis, this.#o.verify);
            const commit = this.#replayer.commit(cert);
            const at = this.#o.nowMs();
            await this.#o.store.save(commit, at);
            this.#serve(commit.state, at);
            checkpoints++;
          } else {
            throw new EdgeError("edge_upstream_bad_response", `an event of unknown type ${JSON.stringify(e)}`);
          }
          this.#cursor = e.cursor;
          events++;
        }
        caughtUp = page.caughtUp || page.events.length === 0;
      }
      u.lastOkMs = this.#o.nowMs();
      u.transientFailures = 0;
      this.#next++;
      return this.#report({ upstream: u.url, events, checkpoints, error: null, caughtUp });
    } catch (error) {
      const e = error instanceof EdgeError
        ? error
        : new EdgeError("edge_upstream_bad_response", error instanceof Error ? error.message : String(error), {
          cause: error,
        });
      u.lastError = { code: e.code, message: e.message, atMs: this.#o.nowMs() };
      u.retryAtMs = this.#o.nowMs() + this.#retryDelayMs(u, e);
      this.#next++;
      // Everything since the last verified checkpoint came from this upstream: drop it.
      this.#replayer.reset();
      this.#cursor = this.#replayer.verified.cursor;
      this.#o.log(
        e.transient ? "warn" : "error",
        e.transient
          ? "edge replica got no answer from an upstream; asking again later, still serving the last verified checkpoint"
          : "edge replica refused an upstream; still serving the last verified checkpoint",
        {
          upstream: u.url,
          code: e.code,
          message: e.message,
          servedSeq: this.#served?.certificate.statement.seq ?? 0,
        },
      );
      return this.#report({
        upstream: u.url,
        events,
        checkpoints,
        error: { code: e.code, message: e.message },
        caughtUp,
      });
    }
  }

  /** How long `u` is set aside after `e`: its own Retry-After, a backoff for no answer, else `retryAfterMs`. */
  #retryDelayMs(u: UpstreamState, e: EdgeError): number {
    const refused = this.#o.retryAfterMs ?? 30_000;
    if (!e.transient) return refused;
    u.transientFailures++;
    if (e.retryAfterMs !== undefined) return e.retryAfterMs;
    const first = this.#o.transientRetryMs ?? 1_000;
    return Math.min(refused, first * 2 ** Math.min(u.transientFailures - 1, 20));
  }

  #report(r: SyncReport): SyncReport {
    this.lastSync = r;
    this.lastSyncAtMs = this.#o.nowMs();
    return r;
  }

  async #get(u: UpstreamState, path: string): Promise<unknown> {
    let res: Response;
    try {
      res = await (this.#o.fetch ?? fetch)(`${u.url}${path}`, {
        signal: AbortSignal.timeout(this.#o.upstreamTimeoutMs ?? 10_000),
        headers: { accept: "application/json" },
      });
    } catch (error) {
      throw new EdgeError("edge_upstream_unreachable", `${u.url}${path}: ${(error as Error).message}`, {
        cause: error,
        transient: true,
      });
    }
    if (res.status === 429 || res.status >= 500) {
      // No answer is no lie: a rate limit, a node that is busy or starting, a proxy that cannot reach it. Wait as
      // long as it asks (RFC 9110 Retry-After, seconds), else back off, then ask again.
      let code = "";
      try {
        code = String((await res.json())?.error?.code ?? "");
      } catch { /* not the API's error shape */ }
      const header = res.headers.get("retry-after");
      const seconds = header === null || header.trim() === "" ? NaN : Number(header);
      const retryAfterMs = Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 3_600) * 1000 : undefined;
      const later = retryAfterMs === undefined ? "" : `, retry after ${seconds} s`;
      throw new EdgeError(
        res.status === 429 ? "edge_upstream_rate_limited" : "edge_upstream_unavailable",
        `${u.url}${path}: ${res.status}${code === "" ? "" : ` ${code}`}${later}`,
        { retryAfterMs, transient: true },
      );
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch (error) {
      const name = (error as Error)?.name;
      if (name === "TimeoutError" || name === "AbortError") {
        // The answer stopped coming, which is no lie either.
        throw new EdgeError("edge_upstream_unreachable", `${u.url}${path}: ${(error as Error).message}`, {
          cause: error,
          transient: true,
        });
      }
      throw new EdgeError("edge_upstream_bad_response", `${u.url}${path}: ${res.status}, not JSON`, { cause: error });
    }
    if (!res.ok) {
      const code = (body as { error?: { code?: string } })?.error?.code;
      throw new EdgeError("edge_upstream_bad_response", `${u.url}${path}: ${res.status} ${code ?? ""}`.trim());
    }
    return body;
  }

  /** An upstream of another chain is refused before anything of it is read. */
  async #checkChain(u: UpstreamState): Promise<void> {
    const status = await this.#get(u, "/api/v1/status") as { chain?: { id?: unknown } };
    const id = status?.chain?.id;
    if (id !== this.#o.genesis.chainIdHex) {
      throw new EdgeError(
        "edge_genesis_mismatch",
        `${u.url} runs chain ${String(id).slice(0, 16)}…, this replica's genesis is chain ${
          this.#o.genesis.chainIdHex.slice(0, 16)
        }…`,
      );
    }
    u.chainChecked = true;
  }

  async #page(u: UpstreamState, limit: number): Promise<{ events: FeedEventJson[]; caughtUp: boolean }> {
    const body = await this.#get(u, `/api/v1/feed?after=${this.#cursor}&limit=${limit}`) as {
      events?: unknown;
      caughtUp?: unknown;
    };
    if (!Array.isArray(body?.events) || body.events.length > limit) {
      throw new EdgeError("edge_upstream_bad_response", `${u.url}: a feed page without a bounded event list`);
    }
    return { events: body.events as FeedEventJson[], caughtUp: body.caughtUp === true };
  }

  close(): void {
    this.#served?.ledger?.free();
    this.#replayer.close();
  }
}
