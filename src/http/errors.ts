/**
 * The one place where error codes become HTTP statuses. Every error a client
 * can cause leaves as JSON `{ error: { code, message, requestId } }`.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { CoreError, LEDGER_REFUSAL_CODES } from "../core/mod.ts";

export class ApiError extends Error {
  readonly code: string;
  readonly status: ContentfulStatusCode;
  readonly details?: Record<string, unknown>;
  constructor(status: ContentfulStatusCode, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Status for each stable code that can surface from a lower layer. */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  not_found: 404,
  method_not_allowed: 405,
  body_too_large: 413,
  invalid_json: 400,
  invalid_request: 400,
  unauthorized: 401,
  rate_limited: 429,
  not_ready: 503,
  shutting_down: 503,
  mempool_full: 503,
  node_busy: 503,
  wrong_chain: 422,
  api_key_required: 403,
  storage_locked: 503,
  storage_closed: 503,
  storage_io: 503,
  storage_corrupt: 500,
  storage_conflict: 409,
  crypto_bad_length: 400,
  crypto_bad_key: 400,
  crypto_unsupported: 501,
  crypto_backend_unavailable: 503,
  ledger_halted: 503,
  unsupported_media_type: 415,
  input_too_large: 413,
  // The vault (src/vault) and the node's own keys (src/keys): closed, locked, missing, full.
  vault_locked: 503,
  vault_full: 507,
  vault_corrupt: 500,
  key_not_found: 404,
  key_exists: 409,
  key_invalid: 400,
  key_passphrase_missing: 503,
  key_passphrase_wrong: 503,
  key_file_corrupt: 500,
  key_io: 503,
  key_store_full: 507,
  key_wrong_algorithm: 422,
  envelope_invalid: 400,
  decrypt_failed: 422,
  // A submission the exchange ledger refuses (dry run before consensus): the client's transaction is invalid.
  ...Object.fromEntries(LEDGER_REFUSAL_CODES.map((c) => [c, 422 as const])),
};

export function statusForCode(code: string): ContentfulStatusCode {
  return STATUS_BY_CODE[code] ?? 500;
}

export interface ErrorBody {
  error: { code: string; message: string; requestId?: string; details?: Record<string, unknown> };
}

/** Maps anything thrown to a status and a JSON body; unknown errors hide their message. */
export function toErrorResponse(err: unknown, requestId?: string): { status: ContentfulStatusCode; body: ErrorBody } {
  if (err instanceof ApiError) {
    return {
      status: err.status,
      body: { error: { code: err.code, message: err.message, requestId, details: err.details } },
    };
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const code = status === 413
      ? "body_too_large"
      : status === 401
      ? "unauthorized"
      : status === 415
      ? "unsupported_media_type"
      : /malformed json/i.test(err.message)
      ? "invalid_json"
      : "invalid_request";
    const message = code === "invalid_json"
      ? "the body is not valid JSON"
      : code === "unsupported_media_type"
      ? "the body's content-type is not one this route takes (see /openapi.json)"
      : err.message || "request refused";
    return { status, body: { error: { code, message, requestId } } };
  }
  // The core refuses bad bytes with a stable code: the client sent something malformed.
  if (err instanceof CoreError) {
    return { status: 422, body: { error: { code: err.code, message: err.message, requestId } } };
  }
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && code in STATUS_BY_CODE) {
    return {
      status: statusForCode(code),
      body: { error: { code, message: (err as Error).message, requestId } },
    };
  }
  return {
    status: 500,
    body: { error: { code: "internal", message: "internal error; see the node log for this request id", requestId } },
  };
}
