/** A stored vertex as the API shows it (`GET /api/v1/dag/vertices/:id`). */
import { decodeTransaction, validateVertex } from "../core/mod.ts";
import { toHex } from "../keys/mod.ts";
import type { Decision, StoredVertex } from "../storage/mod.ts";

export interface VertexView {
  id: string;
  chainId: string;
  author: string;
  authorName: string | null;
  round: string;
  timestampMs: string;
  parents: string[];
  transactions: { id: string; kind: string; account: string; nonce: string }[];
  status: "accepted" | "rejected" | "processing";
  receivedAtMs: number;
  bytes: number;
}

/** The view of `v`, with its decision (null: still processing) and its author's validator name. */
export function vertexView(v: StoredVertex, decision: Decision | null, authorName: string | null): VertexView {
  const info = validateVertex(v.bytes);
  return {
    id: v.id,
    chainId: toHex(info.vertex.chainId),
    author: v.author,
    authorName,
    round: v.round.toString(),
    timestampMs: info.vertex.timestampMs.toString(),
    parents: [...v.parents],
    transactions: info.vertex.transactions.map((b, i) => {
      const tx = decodeTransaction(b);
      return {
        id: toHex(info.transactionIds[i]),
        kind: tx.kind,
        account: toHex(tx.account),
        nonce: tx.nonce.toString(),
      };
    }),
    status: decision?.status ?? "processing",
    receivedAtMs: v.receivedAtMs,
    bytes: v.bytes.length,
  };
}
