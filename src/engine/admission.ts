import { VERTEX_PARENTS_MAX, VERTEX_TXS_MAX } from "../consensus/mod.ts";
import type { EngineStats } from "./stats.ts";
import type { SignedVertex, Verifier, VertexCodec } from "./types.ts";

/** The counter a refused vertex goes to. */
export type VertexRefusal = Extract<
  keyof EngineStats,
  "unknownValidator" | "invalidVertices" | "staleVertices" | "badSignature"
>;

/**
 * Why a vertex from outside is refused before it reaches consensus, or null:
 * its author must be a genesis validator, it must keep the structural limits
 * and lie at or above the settled boundary; with `codec`, its id and
 * signature must check out too.
 */
export function vertexRefusal(
  v: SignedVertex,
  verifier: Pick<Verifier, "isValidator">,
  settledBoundaryMs: number,
  codec: Pick<VertexCodec, "check"> | null,
): VertexRefusal | null {
  if (!verifier.isValidator(v.author)) return "unknownValidator";
  if (v.parents.length > VERTEX_PARENTS_MAX || v.txs.length > VERTEX_TXS_MAX) return "invalidVertices";
  if (v.timestampMs < settledBoundaryMs) return "staleVertices";
  if (codec === null) return null;
  const verdict = codec.check(v);
  if (verdict === "bad_id") return "invalidVertices";
  if (verdict === "bad_signature") return "badSignature";
  return null;
}

/** Parents of `pending` vertices that are neither known nor pending themselves, sorted. */
export function missingParents(pending: ReadonlyMap<string, SignedVertex>, known: (id: string) => boolean): string[] {
  const missing = new Set<string>();
  for (const v of pending.values()) {
    for (const p of v.parents) if (!known(p) && !pending.has(p)) missing.add(p);
  }
  return [...missing].sort();
}
