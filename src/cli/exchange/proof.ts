/**
 * Agent proof documents (\`verify-agent --proof-path FILE\`), JSON:
 *
 *   {
 *     "format": "qudag-agent-proof/1",
 *     "account": "alice",                  // the account's name or 64-hex id; must be the --account
 *     "issuedAt": "2026-11-21T12:00:00Z",  // ISO 8601, not in the future
 *     "issuer": "kyc-provider-x",          // optional string
 *     "evidence": { ... }                  // a non-empty JSON object: what was checked
 *   }
 *
 * The attestation on the ledger carries BLAKE3-256 of the file's exact bytes
 * (keep the file: it is the proof) and an expiry (--expiry-days, default 365).
 */
import { CliError } from "../_errors.ts";
import { type Json, NAME_RE } from "./context.ts";

export const PROOF_FORMAT = "qudag-agent-proof/1";
const PROOF_BYTES_MAX = 1 << 20;

/** Checks a proof document (see the module comment); returns its account reference. */
export function checkProof(bytes: Uint8Array, path: string, nowMs = Date.now()): { account: string } {
  const bad = (what: string) => new CliError("proof_invalid", `${path} is not a valid agent proof: ${what}`);
  if (bytes.length > PROOF_BYTES_MAX) throw bad(`it is ${bytes.length} bytes, at most ${PROOF_BYTES_MAX}`);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw bad("not UTF-8 JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad("not a JSON object");
  const d = doc as Json;
  if (d.format !== PROOF_FORMAT) throw bad(`format is ${JSON.stringify(d.format)}, expected "${PROOF_FORMAT}"`);
  if (typeof d.account !== "string" || !(NAME_RE.test(d.account) || /^[0-9a-fA-F]{64}$/.test(d.account))) {
    throw bad("account must be an account name or a 64-hex-digit id");
  }
  const issued = typeof d.issuedAt === "string" ? Date.parse(d.issuedAt) : NaN;
  if (!Number.isFinite(issued)) throw bad("issuedAt must be an ISO 8601 date");
  if (issued > nowMs + 300_000) throw bad(`issuedAt ${d.issuedAt} is in the future`);
  if (d.issuer !== undefined && typeof d.issuer !== "string") throw bad("issuer must be a string");
  const ev = d.evidence;
  if (typeof ev !== "object" || ev === null || Array.isArray(ev) || Object.keys(ev).length === 0) {
    throw bad("evidence must be a non-empty JSON object");
  }
  return { account: d.account };
}
