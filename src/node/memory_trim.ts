/**
 * Gives the C heap's free memory back to the OS every TRIM_INTERVAL_MS (the
 * native library's `malloc_trim(0)`, glibc only). A node's buffers (vertex
 * and frame bytes, SQLite's pages, the JIT's work areas) come from the C
 * allocator, which returns free memory only from the top of its heap: under
 * `bench:soak` the heap grew by tens of megabytes in steps and stayed there
 * while most of it was free (one trim of a node at 267 MiB RSS released
 * 56 MiB of its 94 MiB heap). A trim costs about a millisecond; without the
 * native library, or off glibc, nothing runs.
 *
 * - `qudag_memory_trims_total{result="released"|"none"}`: trims, by whether
 *   they released memory.
 * - `qudag_memory_trim_seconds_total`: time spent in them.
 */
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";

export const TRIM_INTERVAL_MS = 10_000;

export interface MemoryTrimOptions {
  /** The crypto backend's `releaseFreeMemory`; undefined where it has none. */
  release: (() => "released" | "none" | "unsupported") | undefined;
  registry: Registry;
  log: Logger;
  intervalMs?: number;
  /** A monotonic clock in ms (the trims' duration). */
  nowMs?: () => number;
}

/** Starts the trims; the returned function stops them. */
export function startMemoryTrim(o: MemoryTrimOptions): () => void {
  const release = o.release;
  if (release === undefined) return () => {};
  const trims = o.registry.counter(
    "qudag_memory_trims_total",
    "Times the C heap's free memory was given back to the OS, by whether any was released.",
    ["result"],
  );
  const seconds = o.registry.counter("qudag_memory_trim_seconds_total", "Time spent giving free memory back.");
  const nowMs = o.nowMs ?? (() => performance.now());
  const timer = setInterval(() => {
    const start = nowMs();
    const result = release();
    if (result === "unsupported") {
      o.log.info("the C library cannot give free memory back (not glibc); memory trims stop");
      clearInterval(timer);
      return;
    }
    seconds.inc({}, (nowMs() - start) / 1000);
    trims.inc({ result });
  }, o.intervalMs ?? TRIM_INTERVAL_MS);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
