/**
 * Where a transaction's bytes sit inside the bytes of the vertex that carries
 * it, so storage can keep them once (in the vertex) instead of twice. A
 * vertex embeds each carried transaction verbatim, after a length prefix and
 * in order, so each search starts just past the previous transaction and
 * ends within a few bytes. Every position returned is checked byte for byte.
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
    const at = embeddedAt(vertexBytes, tx, from);
    if (at >= 0) from = at + tx.length;
    return at;
  });
}
