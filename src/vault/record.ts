/**
 * A vault secret as people write it, its limits, and how a version is put in
 * bytes before it is encrypted. The HTTP schemas (src/http/vault.ts) use the
 * same limits, and the service checks them again for every other caller.
 */

export const VAULT_LIMITS = Object.freeze({
  labelChars: 256,
  usernameChars: 256,
  urlChars: 2048,
  tagChars: 64,
  tags: 32,
  notesChars: 16 * 1024,
  valueChars: 64 * 1024,
  /** A search query: at most this many characters, split on white space into at most `terms` terms. */
  queryChars: 256,
  terms: 8,
});

/** Versions kept per secret: an update past this deletes the oldest (for real, as a delete does). */
export const VAULT_VERSIONS_KEPT = 20;
/** Secrets one vault holds. */
export const VAULT_SECRETS_MAX = 100_000;

/** The whole record of one version: what is encrypted. */
export interface VaultRecord {
  readonly label: string;
  readonly username: string | null;
  readonly url: string | null;
  readonly tags: readonly string[];
  readonly notes: string | null;
  readonly value: string;
}

/** An update: omitted fields keep their value, null clears an optional one. */
export interface VaultPatch {
  readonly label?: string;
  readonly username?: string | null;
  readonly url?: string | null;
  readonly tags?: readonly string[];
  readonly notes?: string | null;
  readonly value?: string;
}

export type VaultErrorCode = "invalid_request" | "not_found" | "vault_locked" | "vault_full" | "vault_corrupt";

export class VaultError extends Error {
  readonly code: VaultErrorCode;
  constructor(code: VaultErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "VaultError";
    this.code = code;
  }
}

/** Names the field and the rule, never the value. */
function check(ok: boolean, field: string, rule: string): void {
  if (!ok) throw new VaultError("invalid_request", `${field}: ${rule}`);
}

function checkText(v: unknown, field: string, max: number, min = 0): void {
  check(typeof v === "string", field, "must be a string");
  check((v as string).length >= min && (v as string).length <= max, field, `must be ${min}..${max} characters`);
}

function checkOptional(v: unknown, field: string, max: number): void {
  if (v !== null) checkText(v, field, max);
}

export function checkRecord(r: VaultRecord): void {
  checkText(r.label, "label", VAULT_LIMITS.labelChars, 1);
  checkOptional(r.username, "username", VAULT_LIMITS.usernameChars);
  checkOptional(r.url, "url", VAULT_LIMITS.urlChars);
  check(Array.isArray(r.tags) && r.tags.length <= VAULT_LIMITS.tags, "tags", `at most ${VAULT_LIMITS.tags} tags`);
  for (const t of r.tags) checkText(t, "tags", VAULT_LIMITS.tagChars, 1);
  checkOptional(r.notes, "notes", VAULT_LIMITS.notesChars);
  checkText(r.value, "value", VAULT_LIMITS.valueChars, 1);
}

export function applyPatch(r: VaultRecord, p: VaultPatch): VaultRecord {
  const fields = ["label", "username", "url", "tags", "notes", "value"] as const;
  check(fields.some((f) => p[f] !== undefined), "body", `give at least one of ${fields.join(", ")}`);
  return {
    label: p.label ?? r.label,
    username: p.username === undefined ? r.username : p.username,
    url: p.url === undefined ? r.url : p.url,
    tags: p.tags ?? r.tags,
    notes: p.notes === undefined ? r.notes : p.notes,
    value: p.value ?? r.value,
  };
}

export function encodeRecord(r: VaultRecord): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify([r.label, r.username, r.url, r.tags, r.notes, r.value]),
  );
}

export function decodeRecord(bytes: Uint8Array): VaultRecord {
  const [label, username, url, tags, notes, value] = JSON.parse(new TextDecoder().decode(bytes)) as [
    string,
    string | null,
    string | null,
    string[],
    string | null,
    string,
  ];
  return { label, username, url, tags, notes, value };
}

/** Search terms of a query: lower-cased words, bounded. */
export function queryTerms(q: string): string[] {
  checkText(q, "q", VAULT_LIMITS.queryChars);
  const terms = q.toLowerCase().split(/\s+/).filter((t) => t.length > 0);
  check(terms.length <= VAULT_LIMITS.terms, "q", `at most ${VAULT_LIMITS.terms} words`);
  return terms;
}
