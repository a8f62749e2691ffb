/**
 * Where a transaction's bytes sit inside the bytes of the vertex that carries
 * it, so storage can keep them once (in the vertex) instead of twice. A
 * vertex embeds each carried transaction verbatim, after a length prefix and
 * in order, so each search starts just past the previous transaction and
 * ends within a few bytes. Every position returned is checked byte for byte,
 * or is where a view of the vertex's own bytes lies (a decoded vertex's
 * transactions are views of its bytes: src/core/vertex.ts), with no search.
 */

/** The first position at or after `from` where `part` occurs in `container`; -1 if none. */
export function embeddedAt(container: Uint8Array, part: Uint8Array, from = 0): number {
  const n = part.length;
  if (n === 0) return -1;
  const first = part[0];
  for (let at = from; at + n <= container.length; at++) {
    if (container[at] !== first) continue;
    let i = 1;
    while (i < n && container[at + i] === part[i]) i++;
    if (i === n) return at;
  }
  return -1;
}

/** The position of each carried transaction in its vertex's bytes (-1 for one not found, stored whole then). */
export function carriedOffsets(vertexBytes: Uint8Array, txs: readonly Uint8Array[]): number[] {
  let from = 0;
  return txs.map((tx) => {
    const at = viewAt(vertexBytes, tx) ?? embeddedAt(vertexBytes, tx, from);
    if (at >= 0) from = at + tx.length;
    return at;
  });
}

/** Where `part` lies in `container` when it is a view of the same memory inside it; else null. */
function viewAt(container: Uint8Array, part: Uint8Array): number | null {
  if (part.buffer !== container.buffer || part.length === 0) return null;
  const at = part.byteOffset - container.byteOffset;
  return at >= 0 && at + part.length <= container.length ? at : null;
}
