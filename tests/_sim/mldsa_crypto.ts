/**
 * Real ML-DSA-87 (FIPS 204) signatures for the simulation, from
 * @noble/post-quantum, with BLAKE3 vertex ids. Slow (tens of ms per
 * signature in pure JS), so only a small scenario uses it; it proves the
 * engine's signed-vertex and signed-vote paths against the real scheme.
 */
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { blake3 } from "@noble/hashes/blake3.js";
import type { Signer, Verifier } from "../../src/engine/mod.ts";
import { toHex } from "./fake_crypto.ts";
import type { SimCrypto } from "./scenario.ts";

function keysFor(label: string) {
  return ml_dsa87.keygen(blake3(new TextEncoder().encode(`qudag-sim-key/${label}`)));
}

export function mlDsaCrypto(validators: readonly string[]): SimCrypto & { publicKeyBytes: number } {
  const keys = new Map(validators.map((id) => [id, keysFor(id)] as const));
  const signer = (id: string, secretKey: Uint8Array): Signer => ({
    validatorId: id,
    // Deterministic signing keeps the run reproducible from its seed.
    sign: (message) => ml_dsa87.sign(message, secretKey, { extraEntropy: false }),
  });
  const verifier: Verifier = {
    isValidator: (id) => keys.has(id),
    verify: (id, message, signature) => {
      const k = keys.get(id);
      if (k === undefined || signature.length !== ml_dsa87.lengths.signature) return false;
      try {
        return ml_dsa87.verify(signature, message, k.publicKey);
      } catch {
        return false;
      }
    },
  };
  const outsiderKeys = keysFor("outsider");
  return {
    signerFor: (id) => signer(id, (keys.get(id) ?? outsiderKeys).secretKey),
    outsider: () => signer("outsider", outsiderKeys.secretKey),
    verifier,
    hasher: { idOf: (bytes) => toHex(blake3(bytes)) },
    publicKeyBytes: keys.values().next().value?.publicKey.length ?? 0,
  };
}
