/**
 * The consensus engine: drives src/consensus from network messages, with
 * the transport, clock, randomness, storage and signature checks injected.
 */
export { Engine, type EngineConfig, type EngineDeps, type EngineStats } from "./engine.ts";
export { MemoryDecisionStore } from "./memory_store.ts";
export { createReferenceCodec, type Hasher, vertexBodyBytes, vertexSigningBytes } from "./reference_codec.ts";
export type {
  Clock,
  DecisionStore,
  Rng,
  Sender,
  SignedVertex,
  Signer,
  Verifier,
  VertexBody,
  VertexCodec,
  Vote,
} from "./types.ts";
