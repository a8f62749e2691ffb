/**
 * The replica's verified state in Deno KV, so that a cold start resumes where
 * the last verified checkpoint left it (locally `Deno.openKv(path)` over its
 * SQLite file; on Deno Deploy the project's KV).
 *
 * KV values are at most 64 KiB, so the state (the ledger export, the
 * concurrency records, the certificate) is one blob cut into chunks of
 * {@linkcode CHUNK_BYTES} under a new generation, and `head` is switched to
 * that generation atomically once every chunk is written: a crash in between
 * leaves the previous head whole. Receipts and vertex ids are small values of
 * their own, written before the head moves (they are facts of a verified
 * checkpoint either way).
 *
 * Keys: ["edge", chainId, "head"], ["edge", chainId, "state", gen, i],
 * ["edge", chainId, "receipt", txId], ["edge", chainId, "vertex", id].
 */
import { certificateFromJson, type CertificateJson, certificateToJson } from "../src/checkpoint/mod.ts";
import type { CommitResult, EdgeReceipt, HeldRecord, VerifiedState } from "./replay.ts";

/** Bytes per state chunk: under KV's 64 KiB value limit with room for the key. */
export const CHUNK_BYTES = 60_000;
/** Mutations per atomic write (KV allows 1,000 and 800 KB per commit). */
const BATCH_MUTATIONS = 200;

interface Head {
  readonly gen: number;
  readonly chunks: number;
  readonly bytes: number;
  readonly seq: number;
  /** When this replica verified the checkpoint (ms since the epoch). */
  readonly verifiedAtMs: number;
}

interface StateJson {
  certificate: CertificateJson | null;
  cursor: string;
  held: HeldRecord[];
  recent: [string, number][];
}

/** The state as one blob: u32 JSON length ‖ JSON ‖ ledger export (absent without the exchange). */
export function encodeState(state: VerifiedState): Uint8Array {
  const json: StateJson = {
    certificate: state.certificate === null ? null : certificateToJson(state.certificate),
    cursor: state.cursor,
    held: [...state.held],
    recent: state.recent.map(([id, ts]) => [id, ts]),
  };
  const text = new TextEncoder().encode(JSON.stringify(json));
  const ledger = state.ledger ?? new Uint8Array();
  const out = new Uint8Array(4 + text.length + ledger.length);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 4);
  out.set(ledger, 4 + text.length);
  return out;
}

export function decodeState(bytes: Uint8Array, withLedger: boolean): VerifiedState {
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as StateJson;
  return {
    certificate: json.certificate === null ? null : certificateFromJson(json.certificate),
    cursor: json.cursor,
    ledger: withLedger && json.certificate !== null ? bytes.slice(4 + n) : null,
    held: json.held,
    recent: json.recent,
  };
}

export class EdgeStore {
  readonly #kv: Deno.Kv;
  readonly #prefix: readonly string[];

  constructor(kv: Deno.Kv, chainIdHex: string) {
    this.#kv = kv;
    this.#prefix = ["edge", chainIdHex];
  }

  /** The last verified state and when it was verified, or null on a first start. */
  async load(withLedger: boolean): Promise<{ state: VerifiedState; verifiedAtMs: number } | null> {
    const head = (await this.#kv.get<Head>([...this.#prefix, "head"])).value;
    if (head === null) return null;
    const out = new Uint8Array(head.bytes);
    let at = 0;
    for (let i = 0; i < head.chunks; i++) {
      const chunk = (await this.#kv.get<Uint8Array>([...this.#prefix, "state", head.gen, i])).value;
      if (chunk === null) throw new Error(`KV state generation ${head.gen} lacks chunk ${i} of ${head.chunks}`);
      out.set(chunk, at);
      at += chunk.length;
    }
    return { state: decodeState(out, withLedger), verifiedAtMs: head.verifiedAtMs };
  }

  /** Persists a commit: receipts and vertex ids, then the state's chunks, then the head (atomically). */
  async save(commit: CommitResult, verifiedAtMs: number): Promise<void> {
    const small: [Deno.KvKey, unknown][] = [
      ...commit.receipts.map((r): [Deno.KvKey, unknown] => [[...this.#prefix, "receipt", r.txId], r]),
      ...commit.vertices.map(([id, ts]): [Deno.KvKey, unknown] => [[...this.#prefix, "vertex", id], ts]),
    ];
    for (let i = 0; i < small.length; i += BATCH_MUTATIONS) {
      const op = this.#kv.atomic();
      for (const [key, value] of small.slice(i, i + BATCH_MUTATIONS)) op.set(key, value);
      await op.commit();
    }
    const blob = encodeState(commit.state);
    const old = await this.#kv.get<Head>([...this.#prefix, "head"]);
    const gen = (old.value?.gen ?? 0) + 1;
    const chunks = Math.ceil(blob.length / CHUNK_BYTES);
    for (let i = 0; i < chunks; i += BATCH_MUTATIONS / 10) {
      const op = this.#kv.atomic();
      for (let j = i; j < Math.min(chunks, i + BATCH_MUTATIONS / 10); j++) {
        op.set([...this.#prefix, "state", gen, j], blob.subarray(j * CHUNK_BYTES, (j + 1) * CHUNK_BYTES));
      }
      await op.commit();
    }
    const head: Head = {
      gen,
      chunks,
      bytes: blob.length,
      seq: commit.state.certificate?.statement.seq ?? 0,
      verifiedAtMs,
    };
    const moved = await this.#kv.atomic().check(old).set([...this.#prefix, "head"], head).commit();
    // Another instance moved the head meanwhile: its state is verified too; drop this generation.
    const stale = moved.ok ? old.value?.gen : gen;
    if (stale !== undefined) {
      for await (const e of this.#kv.list({ prefix: [...this.#prefix, "state", stale] })) await this.#kv.delete(e.key);
    }
  }

  async receipt(txId: string): Promise<EdgeReceipt | null> {
    return (await this.#kv.get<EdgeReceipt>([...this.#prefix, "receipt", txId])).value;
  }

  async hasVertex(id: string): Promise<boolean> {
    return (await this.#kv.get<number>([...this.#prefix, "vertex", id])).value !== null;
  }
}
