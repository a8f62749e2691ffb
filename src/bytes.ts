/** Byte helpers shared by the node's layers (pure). */

/** The parts one after the other, in a new array that owns its buffer (safe to transfer). */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * `view` itself when it spans at least half of the memory it keeps alive,
 * else a copy of exactly its bytes: a small view kept for long would hold a
 * large buffer with it. For views of memory that nothing writes again (a
 * received message); the copy a large view saves is the point.
 */
export function ownedOrCopied(view: Uint8Array): Uint8Array {
  return view.byteLength * 2 >= view.buffer.byteLength ? view : view.slice();
}
