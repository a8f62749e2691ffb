/**
 * The consensus engine: drives src/consensus from network messages, with
 * the transport, clock, randomness, storage and signature checks injected.
 */
export { Engine } from "./engine.ts";
export type { EngineConfig, EngineDeps } from "./config.ts";
export type { EngineStats } from "./stats.ts";
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
