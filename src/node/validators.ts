/**
 * The genesis validator set with one cache of ML-DSA-87 verifiers: whoever
 * checks a validator's signature (vertices, votes, checkpoint signatures)
 * asks here, so each key is imported once.
 */
import type { CryptoBackend, MlDsaVerifier } from "../crypto/backend.ts";
import type { Genesis, GenesisValidator } from "./genesis.ts";

export class ValidatorSet {
  readonly #byId: ReadonlyMap<string, GenesisValidator>;
  readonly #backend: CryptoBackend;
  readonly #verifiers = new Map<string, Promise<MlDsaVerifier>>();

  constructor(genesis: Genesis, backend: CryptoBackend) {
    this.#byId = new Map(genesis.validators.map((v) => [v.id, v]));
    this.#backend = backend;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Hex ids, in genesis order. */
  ids(): string[] {
    return [...this.#byId.keys()];
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  nameOf(id: string): string | undefined {
    return this.#byId.get(id)?.name;
  }

  /** The verifier of a validator's key, imported once; null for an id outside the set. */
  verifier(id: string): Promise<MlDsaVerifier> | null {
    let v = this.#verifiers.get(id);
    if (v === undefined) {
      const validator = this.#byId.get(id);
      if (validator === undefined) return null;
      v = this.#backend.mlDsaVerifier(validator.publicKey);
      // A failed import is not kept: a passing error must not disable a validator.
      v.catch(() => this.#verifiers.delete(id));
      this.#verifiers.set(id, v);
    }
    return v;
  }

  /** True when `signature` over `message` verifies with validator `id`'s key (false for an unknown id). */
  async verify(id: string, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const v = this.verifier(id);
    return v !== null && (await v).verify(message, signature);
  }
}
