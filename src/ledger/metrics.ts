import type { LedgerOutcome } from "../core/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Counter, Gauge, Registry } from "../metrics/mod.ts";

/** The exchange ledger's metrics (names and labels are part of the node's interface). */
export interface LedgerMetrics {
  readonly transactions: Counter;
  readonly duplicates: Counter;
  readonly supply: Gauge;
  readonly accounts: Gauge;
  readonly vertices: Gauge;
  readonly journal: Gauge;
  readonly held: Gauge;
  readonly halted: Gauge;
  readonly cutSeq: Gauge;
  readonly coreMemory: Gauge;
}

/** Registers the ledger's metrics in `r`. */
export function ledgerMetrics(r: Registry): LedgerMetrics {
  return {
    transactions: r.counter(
      "qudag_ledger_transactions_total",
      "Transactions the exchange ledger applied (ok) or refused (the refusal code), first application only.",
      ["result"],
    ),
    duplicates: r.counter(
      "qudag_ledger_duplicate_transactions_total",
      "Transactions carried again by a later accepted vertex; kind=concurrent when the carriers are concurrent.",
      ["kind"],
    ),
    supply: r.gauge("qudag_ledger_supply_units", "rUv in circulation (minted - burned), smallest units."),
    accounts: r.gauge("qudag_ledger_accounts", "Accounts on the exchange ledger."),
    vertices: r.gauge("qudag_ledger_applied_vertices", "Accepted vertices applied to the exchange ledger."),
    journal: r.gauge(
      "qudag_ledger_journal_vertices",
      "Vertices in the ledger core's journal (unsettled effects): bounded by settlement, not by history.",
    ),
    held: r.gauge("qudag_ledger_vertices_in_memory", "Applied vertices whose concurrency records are held."),
    halted: r.gauge("qudag_ledger_halted", "1 when the exchange ledger stopped applying vertices (see the log)."),
    cutSeq: r.gauge("qudag_ledger_cut_sequence", "The last cut the exchange ledger folded in."),
    coreMemory: r.gauge("qudag_core_memory_bytes", "The WASM core's linear memory in bytes (grows, never shrinks)."),
  };
}

/** Counts one outcome of applying a transaction carried by `vertex`; logs a concurrent duplicate or a refusal. */
export function countOutcome(m: LedgerMetrics, logger: Logger, out: LedgerOutcome, vertex: string): void {
  if (out.concurrentDuplicate) {
    m.duplicates.inc({ kind: "concurrent" });
    logger.warn("transaction carried by two concurrent accepted vertices; first receipt kept", {
      txId: out.id.toHex(),
      vertex,
      firstVertex: out.vertex.toHex(),
    });
  } else if (out.duplicate) {
    m.duplicates.inc({ kind: "duplicate" });
  } else {
    m.transactions.inc({ result: out.code });
    if (out.code !== "ok") {
      logger.debug("ledger refused a transaction", { txId: out.id.toHex(), code: out.code, vertex });
    }
  }
}
