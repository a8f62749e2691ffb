/**
 * Sealed envelopes: data encrypted to an ML-KEM-768 public key (KEM, then
 * HKDF-SHA-256, then AES-256-GCM), the format of POST /api/v1/crypto/encrypt
 * and of the vault's wrapped data keys. ENVELOPE.md beside this file gives the
 * format byte by byte and a test vector (checked by envelope_test.ts against
 * an independent implementation).
 *
 *   magic "QENV" | version 1 | suite 1 | recipient key id (32) | KEM ciphertext (1,088) | AES-GCM ciphertext + tag
 *
 * The AES key and nonce both come from HKDF over the KEM's fresh shared
 * secret, bound to the whole header (recipient and KEM ciphertext included);
 * the header and the caller's associated data are authenticated by GCM.
 */
import { blake3 } from "../core/mod.ts";
import { concatBytes } from "../bytes.ts";
import { type CryptoBackend, ML_KEM } from "../crypto/backend.ts";

export const ENVELOPE_MAGIC = new Uint8Array([0x51, 0x45, 0x4e, 0x56]); // "QENV"
export const ENVELOPE_VERSION = 1;
/** ML-KEM-768 + HKDF-SHA-256 + AES-256-GCM. */
export const ENVELOPE_SUITE = 1;
const KEM_CT_BYTES = ML_KEM[768].ciphertextBytes;
const KEY_ID_BYTES = 32;
export const ENVELOPE_HEADER_BYTES = 4 + 1 + 1 + KEY_ID_BYTES + KEM_CT_BYTES; // 1,126
const TAG_BYTES = 16;
/** Bytes an envelope adds to its plaintext. */
export const ENVELOPE_OVERHEAD_BYTES = ENVELOPE_HEADER_BYTES + TAG_BYTES; // 1,142
export const ENVELOPE_INFO = new TextEncoder().encode("qudag/envelope/v1");

export type EnvelopeErrorCode = "envelope_invalid" | "decrypt_failed";

export class EnvelopeError extends Error {
  readonly code: EnvelopeErrorCode;
  constructor(code: EnvelopeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EnvelopeError";
    this.code = code;
  }
}

/** AES-256 key (32 bytes) and GCM nonce (12 bytes) from the shared secret, bound to the header. */
async function schedule(
  sharedSecret: Uint8Array,
  header: Uint8Array,
): Promise<{ key: CryptoKey; iv: Uint8Array<ArrayBuffer> }> {
  const ikm = await crypto.subtle.importKey("raw", sharedSecret.slice(), "HKDF", false, ["deriveBits"]);
  const okm = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: concatBytes(ENVELOPE_INFO, header) },
      ikm,
      (32 + 12) * 8,
    ),
  );
  const key = await crypto.subtle.importKey("raw", okm.slice(0, 32), "AES-GCM", false, ["encrypt", "decrypt"]);
  return { key, iv: okm.slice(32, 44) };
}

/** The recipient's key id: BLAKE3-256 of its 1,184-byte encapsulation key (as the key store names keys). */
export function recipientKeyId(encapsulationKey: Uint8Array): Uint8Array {
  return blake3(encapsulationKey);
}

export interface SealOptions {
  /** Authenticated, not stored: the same bytes must be given to open it. */
  associatedData?: Uint8Array;
  /** ML-KEM encapsulation randomness m (32 bytes), for test vectors only; omitted draws it fresh. */
  kemRandomness?: Uint8Array;
}

/** Encrypts `plaintext` to the ML-KEM-768 `encapsulationKey`. */
export async function sealEnvelope(
  backend: CryptoBackend,
  encapsulationKey: Uint8Array,
  plaintext: Uint8Array,
  o: SealOptions = {},
): Promise<Uint8Array> {
  const { ciphertext: kemCt, sharedKey } = await backend.mlKemEncaps(768, encapsulationKey, o.kemRandomness);
  const header = concatBytes(
    ENVELOPE_MAGIC,
    new Uint8Array([ENVELOPE_VERSION, ENVELOPE_SUITE]),
    recipientKeyId(encapsulationKey),
    kemCt,
  );
  const { key, iv } = await schedule(sharedKey, header);
  const body = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: concatBytes(header, o.associatedData ?? new Uint8Array(0)) },
      key,
      plaintext.slice(),
    ),
  );
  return concatBytes(header, body);
}

export interface ParsedEnvelope {
  /** Hex id of the recipient key. */
  readonly keyId: string;
  readonly kemCiphertext: Uint8Array;
  readonly header: Uint8Array;
  readonly body: Uint8Array;
}

/** Reads an envelope's header; envelope_invalid when it is not one this version makes. */
export function parseEnvelope(envelope: Uint8Array): ParsedEnvelope {
  if (envelope.length < ENVELOPE_OVERHEAD_BYTES) {
    throw new EnvelopeError(
      "envelope_invalid",
      `an envelope is at least ${ENVELOPE_OVERHEAD_BYTES} bytes, this one is ${envelope.length}`,
    );
  }
  if (!ENVELOPE_MAGIC.every((b, i) => envelope[i] === b)) {
    throw new EnvelopeError("envelope_invalid", 'not an envelope: it does not start with "QENV"');
  }
  if (envelope[4] !== ENVELOPE_VERSION || envelope[5] !== ENVELOPE_SUITE) {
    throw new EnvelopeError(
      "envelope_invalid",
      `envelope version ${envelope[4]} suite ${
        envelope[5]
      } is not supported (expected ${ENVELOPE_VERSION}, ${ENVELOPE_SUITE})`,
    );
  }
  return {
    keyId: envelope.subarray(6, 6 + KEY_ID_BYTES).toHex(),
    kemCiphertext: envelope.slice(6 + KEY_ID_BYTES, ENVELOPE_HEADER_BYTES),
    header: envelope.slice(0, ENVELOPE_HEADER_BYTES),
    body: envelope.slice(ENVELOPE_HEADER_BYTES),
  };
}

/**
 * Opens an envelope with the recipient's decapsulation key (the expanded
 * 2,400-byte key the backend made from the 64-byte seed). decrypt_failed when
 * it was sealed to another key, or modified, or the associated data differs.
 */
export async function openEnvelope(
  backend: CryptoBackend,
  decapsulationKey: Uint8Array,
  envelope: Uint8Array,
  associatedData: Uint8Array = new Uint8Array(0),
): Promise<Uint8Array> {
  const p = parseEnvelope(envelope);
  const sharedKey = await backend.mlKemDecaps(768, decapsulationKey, p.kemCiphertext);
  const { key, iv } = await schedule(sharedKey, p.header);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: concatBytes(p.header, associatedData) },
        key,
        p.body.slice(),
      ),
    );
  } catch (cause) {
    throw new EnvelopeError(
      "decrypt_failed",
      "the envelope does not open with this key: sealed to another key, modified, or other associated data",
      { cause },
    );
  }
}
