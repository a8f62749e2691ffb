import type { SignedVertex, Signer, Verifier, VertexBody, VertexCodec } from "./types.ts";
import { Writer } from "./_writer.ts";

/**
 * The engine's own vertex encoding, kept for the simulation, the engine tests
 * and the bench: the id is a hash of the length-prefixed body (everything but
 * the signature) and the signature covers the id. The node uses the WASM
 * core's canonical encoding instead (src/core), through its own codec.
 */

/** Computes a vertex id from its body bytes. */
export interface Hasher {
  idOf(bytes: Uint8Array): string;
}

export function vertexBodyBytes(v: VertexBody): Uint8Array {
  const w = new Writer().str("qudag/vertex-body/v1").str(v.author).u53(v.timestampMs).list(v.parents);
  w.u32(v.txs.length);
  for (const tx of v.txs) w.str(tx.id).str(tx.conflictKey).list(tx.deps);
  return w.bytes();
}

export function vertexSigningBytes(vertexId: string): Uint8Array {
  return new Writer().str("qudag/vertex-sig/v1").str(vertexId).bytes();
}

/**
 * A codec that signs with `signer` (so `build` only makes vertices authored by
 * `signer.validatorId`) and checks signatures with `verifier`. Whether the
 * author is a genesis validator is the engine's check, not the codec's.
 */
export function createReferenceCodec(signer: Signer, verifier: Verifier, hasher: Hasher): VertexCodec {
  return {
    build(body: VertexBody): SignedVertex {
      if (body.author !== signer.validatorId) {
        throw new Error(`Cannot build a vertex authored by ${body.author}: this codec signs as ${signer.validatorId}`);
      }
      const id = hasher.idOf(vertexBodyBytes(body));
      return { ...body, id, signature: signer.sign(vertexSigningBytes(id)) };
    },
    check(v: SignedVertex): "ok" | "bad_id" | "bad_signature" {
      if (hasher.idOf(vertexBodyBytes(v)) !== v.id) return "bad_id";
      return verifier.verify(v.author, vertexSigningBytes(v.id), v.signature) ? "ok" : "bad_signature";
    },
  };
}
