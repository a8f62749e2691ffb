import { MissingParentError } from "./concurrency.ts";

export type LedgerHaltCode = "ledger_out_of_step" | "ledger_core_fault" | "checkpoint_mismatch";

/** Why the ledger stopped following consensus. */
export interface LedgerHalt {
  readonly code: LedgerHaltCode;
  readonly message: string;
  /** The vertex it was applying, if any. */
  readonly vertex: string | null;
}

/** The service cannot follow consensus: the store or the caller broke an ordering promise. */
export class LedgerServiceError extends Error {
  readonly code: LedgerHaltCode;
  constructor(message: string, code: LedgerHaltCode = "ledger_out_of_step", options?: ErrorOptions) {
    super(`Cannot apply to the exchange ledger: ${message}`, options);
    this.name = "LedgerServiceError";
    this.code = code;
  }
}

/** The halt a failure while applying `vertex` (null: none in particular) causes. */
export function haltOf(error: unknown, vertex: string | null): LedgerHalt {
  const code: LedgerHaltCode = error instanceof LedgerServiceError
    ? error.code
    : error instanceof MissingParentError
    ? "ledger_out_of_step"
    : "ledger_core_fault";
  const message = error instanceof Error ? error.message : String(error);
  return { code, message, vertex };
}
