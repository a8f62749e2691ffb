/** Why a node could not start: a stable code and a message that says what to change. */
export type NodeStartErrorCode =
  | "port_in_use"
  | "listen_failed"
  | "api_front_failed"
  | "identity_mismatch"
  | "exchange_unavailable"
  | "settlement_lag_too_long";

export class NodeStartError extends Error {
  readonly code: NodeStartErrorCode;
  constructor(code: NodeStartErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NodeStartError";
    this.code = code;
  }
}
