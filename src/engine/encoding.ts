import type { SignedVote } from "./types.ts";
import { Writer } from "./_writer.ts";

/**
 * The bytes a vote's signature covers: (querier, requestId, responder,
 * frontier) under the "qudag/vote/v1" tag, so a vote counts in one query only.
 * Vertex bytes are the {@linkcode VertexCodec}'s business, not the engine's.
 */
export function voteSigningBytes(vote: Omit<SignedVote, "signature">): Uint8Array {
  return new Writer()
    .str("qudag/vote/v1")
    .str(vote.querier)
    .u53(vote.requestId)
    .str(vote.responder)
    .list(vote.frontier)
    .bytes();
}
