/**
 * The `certificates.signatures` column (schema version 4), big-endian:
 *
 *   u32 count
 *   count times:  32 bytes  signer id (the hex validator id, decoded)
 *                 u32       signature length in bytes
 *                 length    signature
 *
 * No trailing bytes. Binary rather than JSON: a certificate of 700 ML-DSA-87
 * signatures is 3.3 MB this way and a third more in base64. Changing the
 * format needs a migration that rewrites the column.
 */
import { StorageError, type StoredCertificate } from "./types.ts";

type Signatures = StoredCertificate["signatures"];

const ID_BYTES = 32;
const U32_BYTES = 4;

/** Signer ids must be 64 lowercase hex digits (checkCertificate ensures it). */
export function encodeSignatures(signatures: Signatures): Uint8Array {
  let size = U32_BYTES;
  for (const s of signatures) size += ID_BYTES + U32_BYTES + s.signature.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, signatures.length);
  let at = U32_BYTES;
  for (const s of signatures) {
    out.set(Uint8Array.fromHex(s.validator), at);
    at += ID_BYTES;
    view.setUint32(at, s.signature.length);
    at += U32_BYTES;
    out.set(s.signature, at);
    at += s.signature.length;
  }
  return out;
}

/** Throws storage_corrupt, naming `what`, when the bytes do not follow the format exactly. */
export function decodeSignatures(bytes: Uint8Array, what: string): Signatures {
  const corrupt = (why: string) =>
    new StorageError("storage_corrupt", `${what}: signatures column is malformed: ${why}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < U32_BYTES) throw corrupt(`${bytes.length} bytes, too short for a count`);
  const count = view.getUint32(0);
  // Each entry takes at least 36 bytes, which bounds the loop by the input.
  if (count > (bytes.length - U32_BYTES) / (ID_BYTES + U32_BYTES)) {
    throw corrupt(`count ${count} does not fit in ${bytes.length} bytes`);
  }
  const out: { validator: string; signature: Uint8Array }[] = [];
  let at = U32_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + ID_BYTES + U32_BYTES > bytes.length) throw corrupt(`entry ${i} is cut short at byte ${at}`);
    const validator = bytes.subarray(at, at + ID_BYTES).toHex();
    at += ID_BYTES;
    const length = view.getUint32(at);
    at += U32_BYTES;
    if (at + length > bytes.length) throw corrupt(`signature ${i} claims ${length} bytes, ${bytes.length - at} remain`);
    out.push({ validator, signature: bytes.slice(at, at + length) });
    at += length;
  }
  if (at !== bytes.length) throw corrupt(`${bytes.length - at} trailing bytes`);
  return out;
}
