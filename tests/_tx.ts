/**
 * Signed exchange transactions for the multi-process tests: an ML-DSA-87 key
 * from a seed, and one way to build, sign and encode a transaction.
 */
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import {
  blake3,
  encodeTransaction,
  type TransactionPayload,
  transactionSigningMessage,
  type UnsignedTransaction,
} from "../src/core/mod.ts";

export interface Key {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** BLAKE3-256 of the public key: the account id. */
  id: Uint8Array;
}

export function keyFromSeed(seed: Uint8Array): Key {
  const { publicKey, secretKey } = ml_dsa87.keygen(seed);
  return { publicKey, secretKey, id: blake3(publicKey) };
}

/** The signed encoding of `payload` from `key`'s account with `nonce` on chain `chainId`. */
export function signTransaction(
  chainId: Uint8Array,
  key: Key,
  nonce: bigint,
  payload: TransactionPayload,
  maxFee = 1n << 40n,
): Uint8Array {
  const unsigned = { chainId, account: key.id, nonce, timestampMs: 0n, maxFee, ...payload } as UnsignedTransaction;
  return encodeTransaction({
    ...unsigned,
    signature: ml_dsa87.sign(transactionSigningMessage(unsigned), key.secretKey),
  });
}
