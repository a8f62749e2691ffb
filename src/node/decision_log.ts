/**
 * The node's durable record of consensus decisions: one commit for many. The
 * engine counts a poll once per vote that completes one; a durable commit per
 * poll synced the WAL dozens of times a second per node and blocked the event
 * loop for each sync (the largest blocker in bench/PROFILE_HISTORY.md, "The
 * soak's event-loop lag"). Here decisions are gathered and written, with the
 * accumulator of accepted transactions, in one commit by a timer; the WAL is
 * then synced on a thread (`Storage.syncCommitted`), and the decisions are
 * reported (clients, the ledger, the batcher) only after that sync: nothing
 * is told of a decision that a power failure could still take back. Until
 * then `has` names it, and what answers clients asks it first
 * (ConsensusService.txState, DagService.get). The timer fires
 * at the end of the turn when the node is quiet, and at least `intervalMs`
 * after the last commit under load, so a node syncs at most 1000 /
 * `intervalMs` times a second and a decision is reported at most that much
 * later. While a decision waits, `has` names it, so the node reports its
 * transaction as pending.
 *
 * What the engine tells peers is not held back: its votes are its
 * preferences, which can reflect a decision up to one commit before it is
 * durable. A crash in that window (at most 20 ms under load, and the sync) makes this node
 * forget the decision; after the restart it decides again from what its
 * peers hold, as it does for the confidence it had in undecided vertices
 * (not for the side it took in a contest: that is stored, below).
 * Until then its votes are those of a validator that forgot: they count
 * against the one faulty validator of four that the safety argument of
 * wasm/LEDGER.md ("Breaking a stalled split") allows. The seeded simulation's
 * crash scenario does not model this window (its store records at once).
 * Clients and the ledger never see such a decision.
 *
 * Contested sets' preferences (src/consensus/_preferences.ts) ride in the
 * same commits, so a restart finds the side this node voted for in each
 * contest as it was, but for the same window.
 *
 * A commit that fails keeps the decisions waiting and tries again after
 * `retryMs` (a full disk can clear); nothing is reported until it succeeds.
 * A sync that fails is followed by a durable commit, retried the same way.
 * `flush` commits durably at once, with the event loop waiting for the disk,
 * and reports what it carries in order (the commits still syncing first):
 * before a cut is recorded (a cut and what follows it come after the
 * decisions below it) and at start and stop.
 */
import type { Decision, PreferenceRecord } from "../consensus/mod.ts";
import { blake3 } from "../core/mod.ts";
import { fromHex, toHex } from "../keys/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Storage } from "../storage/mod.ts";

export interface DecisionLogOptions {
  storage: Storage;
  logger: Logger;
  nowMs: () => number;
  /** Called with the decisions of each commit once it is durable, in the order they were decided. */
  onDurable: (decisions: readonly Decision[]) => void;
  /** Wait before a failed commit is tried again. */
  retryMs?: number;
  /** The least time between two commits. */
  intervalMs?: number;
}

const RETRY_MS = 1_000;
const INTERVAL_MS = 20;
const TWO_256 = 1n << 256n;
const SUM_KEY = "accepted_tx_sum";

type Waiting = { d: Decision; atMs: number };

export class DecisionLog {
  readonly #o: DecisionLogOptions;
  /** Decided, not yet committed, each with the time it was decided. */
  #pending: Waiting[] = [];
  /** Preference changes not yet committed, in order. */
  #preferences: PreferenceRecord[] = [];
  /** Committed, their WAL sync under way: reported once it is done, in commit order. */
  #syncing: Waiting[][] = [];
  /** Ids of `#pending` and `#syncing`: not durable yet. */
  readonly #ids = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  /** When the last commit was made (by `nowMs`). */
  #lastCommitMs = -Infinity;
  /** Commits made, and decisions they held (for tests and metrics). */
  readonly stats = { commits: 0, decisions: 0, failures: 0 };

  constructor(o: DecisionLogOptions) {
    this.#o = o;
  }

  /**
   * Takes the decisions of one counted poll (or abandon): committed at the
   * end of this turn, or `intervalMs` after the last commit under load.
   */
  add(decisions: readonly Decision[]): void {
    if (decisions.length === 0) return;
    const at = this.#o.nowMs();
    for (const d of decisions) {
      this.#pending.push({ d, atMs: at });
      this.#ids.add(d.id);
    }
    this.#scheduleNext(at);
  }

  /** Takes contested sets' preference changes: committed with the next decisions, or on their own as decisions are. */
  addPreferences(records: readonly PreferenceRecord[]): void {
    if (records.length === 0) return;
    this.#preferences.push(...records);
    this.#scheduleNext(this.#o.nowMs());
  }

  /** The next commit: at the end of this turn, or `intervalMs` after the last one (time now: `nowMs`). */
  #scheduleNext(nowMs: number): void {
    this.#schedule(Math.max(0, this.#lastCommitMs + (this.#o.intervalMs ?? INTERVAL_MS) - nowMs));
  }

  /** Decided in this process and not durable yet (waiting for its commit or for that commit's sync). */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Decisions waiting for their commit. */
  get waiting(): number {
    return this.#pending.length;
  }

  /**
   * Commits what waits now, durably (the event loop waits for the disk), and
   * reports it, after the commits whose sync is under way (this one carries
   * them to disk too). Throws the storage error if the commit fails (the
   * decisions keep waiting, and a retry is scheduled).
   */
  flush(): void {
    this.#clearTimer();
    if (this.#pending.length === 0 && this.#preferences.length === 0 && this.#syncing.length === 0) return;
    const batch = this.#commit(true);
    const synced = this.#syncing;
    this.#syncing = [];
    for (const b of synced) this.#report(b);
    if (batch.length) this.#report(batch);
  }

  /** Commits what waits now (stop: a failure is logged; those decisions are decided again after a restart). */
  stop(): void {
    this.#stopped = true;
    try {
      this.flush();
    } catch (error) {
      this.#o.logger.error("decisions not stored at stop", { waiting: this.#pending.length, error: String(error) });
    }
    this.#clearTimer();
  }

  /**
   * The timer's commit: written without waiting for the disk, then the WAL
   * synced on a thread, then reported. The event loop no longer waits for
   * each sync (bench/PROFILE_HISTORY.md: a soak node spent about 6 % of its time in
   * them, 3 ms each at the median under load).
   */
  #commitAndSync(): void {
    if (this.#pending.length === 0 && this.#preferences.length === 0) return;
    const batch = this.#commit(false);
    this.#syncing.push(batch);
    this.#o.storage.syncCommitted().then(
      () => this.#syncedThrough(batch),
      (error) => {
        if (this.#stopped) return; // stop's durable commit carried them, or logged why not
        // Not known to be on disk: a durable commit carries them there (flush), retried until one succeeds.
        // A disk that fails a sync may have dropped the pages it held: the log says so (check the disk).
        this.#o.logger.error("decisions committed but the disk sync failed; committing durably (check the disk)", {
          waiting: batch.length,
          error: String(error),
        });
        if (!this.#stopped) this.#scheduleDurable(this.#o.retryMs ?? RETRY_MS);
      },
    );
  }

  /** A sync is done: the batches committed up to `batch` are on disk (a sync carries every earlier write). */
  #syncedThrough(batch: Waiting[]): void {
    const at = this.#syncing.indexOf(batch);
    if (at < 0) return; // reported already, by a later sync or a durable commit
    for (const b of this.#syncing.splice(0, at + 1)) this.#report(b);
  }

  /** Writes the waiting decisions in one commit; throws (keeping them, a retry scheduled) if it fails. */
  #commit(durable: boolean): Waiting[] {
    const batch = this.#pending;
    const preferences = this.#preferences;
    const storage = this.#o.storage;
    try {
      storage.transaction(() => {
        storage.putPreferences(preferences);
        const accepted: string[] = [];
        for (const { d, atMs } of batch) {
          // A decision restored at start is reported again; the table keeps the first (putDecision is final).
          const fresh = storage.putDecision({ id: d.id, subject: d.kind, status: d.status, decidedAtMs: atMs });
          if (fresh && d.kind === "tx" && d.status === "accepted") accepted.push(d.id);
        }
        addAcceptedTxs(storage, accepted);
        // Never an empty commit when durable: an empty one syncs nothing, and it must carry the syncing ones.
        if (durable && batch.length === 0) storage.setMeta(SUM_KEY, acceptedTxSum(storage));
      }, { durable, withGroup: true });
    } catch (error) {
      this.stats.failures++;
      // A durable commit may be all that can still carry commits whose sync failed: its retry is durable too.
      const retryMs = this.#o.retryMs ?? RETRY_MS;
      if (!this.#stopped) durable ? this.#scheduleDurable(retryMs) : this.#schedule(retryMs);
      throw error;
    }
    this.#pending = [];
    this.#preferences = [];
    this.#lastCommitMs = this.#o.nowMs();
    if (batch.length) {
      this.stats.commits++;
      this.stats.decisions += batch.length;
    }
    return batch;
  }

  #report(batch: Waiting[]): void {
    if (batch.length === 0) return; // a commit of preferences only
    for (const { d } of batch) this.#ids.delete(d.id);
    this.#o.onDurable(batch.map((p) => p.d));
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(delayMs: number): void {
    this.#arm(delayMs, () => this.#commitAndSync());
  }

  #scheduleDurable(delayMs: number): void {
    this.#clearTimer();
    this.#arm(delayMs, () => this.flush());
  }

  #arm(delayMs: number, commit: () => void): void {
    if (this.#timer !== null || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      try {
        commit();
      } catch (error) {
        this.#o.logger.error("decisions not stored; retrying", {
          waiting: this.#pending.length,
          retryMs: this.#o.retryMs ?? RETRY_MS,
          error: String(error),
        });
      }
    }, delayMs);
  }
}

/**
 * Keeps an order-independent accumulator of the accepted transactions (the
 * sum of their BLAKE3 ids mod 2^256) in the meta table, in the transaction
 * that records the decisions: equal on nodes that accepted the same set, and
 * read in constant time (the status endpoint shows it).
 */
function addAcceptedTxs(storage: Storage, ids: readonly string[]): void {
  let sum = 0n;
  for (const id of ids) sum += BigInt(`0x${toHex(blake3(fromHex(id)))}`);
  if (sum === 0n) return;
  const prior = BigInt(`0x${storage.getMeta(SUM_KEY) ?? "0"}`);
  storage.setMeta(SUM_KEY, ((prior + sum) % TWO_256).toString(16).padStart(64, "0"));
}

/** The accumulator of accepted transactions (see addAcceptedTxs): 64 hex digits. */
export function acceptedTxSum(storage: Storage): string {
  return storage.getMeta(SUM_KEY) ?? "0".repeat(64);
}
