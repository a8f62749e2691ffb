/**
 * The consensus engine: drives src/consensus from network messages, with
 * the transport, clock, randomness, storage and signature checks injected.
 */
export { Engine, type EngineConfig, type EngineDeps, type EngineStats } from "./engine.ts";
export { MemoryDecisionStore } from "./memory_store.ts";
export { type VertexBody, vertexBodyBytes, vertexSigningBytes, voteSigningBytes } from "./encoding.ts";
export type { Clock, DecisionStore, Hasher, Rng, Sender, SignedVertex, SignedVote, Signer, Verifier } from "./types.ts";
