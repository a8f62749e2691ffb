/**
 * The engine's vertices as the WASM core encodes them: this node's own are
 * built from the mempool's bytes, signed, and stored through the DAG service
 * before the engine issues them; every other vertex reaches the engine only
 * after the DAG service checked its id and signature.
 */
import {
  signedVertexBytes,
  unsignedVertexBytes,
  validateTransaction,
  validateVertex,
  type VertexInfo,
} from "../core/mod.ts";
import type { SignedVertex, VertexBody, VertexCodec } from "../engine/mod.ts";
import { fromHex, toHex } from "../keys/mod.ts";
import type { Storage } from "../storage/mod.ts";
import type { DagService } from "./dag_service.ts";
import type { Genesis } from "./genesis.ts";
import type { Mempool } from "./mempool.ts";
import type { SyncSigner } from "./sync_signer.ts";

export interface OwnVertexCodecOptions {
  genesis: Genesis;
  validatorId: string;
  syncSigner: SyncSigner;
  storage: Storage;
  dag: DagService;
  mempool: Mempool;
}

export function ownVertexCodec(o: OwnVertexCodecOptions): VertexCodec {
  return {
    build: (body: VertexBody): SignedVertex => {
      const parents = [...body.parents].sort();
      let round = 0n;
      for (const p of parents) {
        const r = o.dag.roundOf(p);
        if (r === null) throw new Error(`cannot build on unknown parent ${p}`);
        if (r + 1n > round) round = r + 1n;
      }
      const transactions = body.txs.map((t) => {
        const b = o.mempool.bytesOf(t.id) ?? o.storage.getTransaction(t.id)?.bytes;
        if (!b) throw new Error(`no bytes for transaction ${t.id}`);
        return b;
      });
      const unsigned = {
        chainId: o.genesis.chainId,
        author: fromHex(o.validatorId),
        round,
        timestampMs: BigInt(body.timestampMs),
        parents: parents.map(fromHex),
        transactions,
      };
      const { body: unsignedBytes, signingMessage } = unsignedVertexBytes(unsigned);
      const bytes = signedVertexBytes(unsignedBytes, o.syncSigner.sign(signingMessage));
      const stored = o.dag.admitOwn(bytes);
      if (stored.status === "rejected") throw new Error(`own vertex refused: ${stored.message} [${stored.code}]`);
      // Stored with the vertex now: the mempool no longer needs the bytes.
      for (const t of body.txs) o.mempool.release(t.id);
      const info = (stored.id === undefined ? undefined : o.dag.decoded(stored.id)) ?? validateVertex(bytes);
      return toSignedVertex(info, bytes, o.dag.conflictKeysOf(info));
    },
    // Every vertex the engine gets came through the DAG service, which checked its id and signature.
    check: (v) => (o.dag.roundOf(v.id) !== null ? "ok" : "bad_signature"),
  };
}

/**
 * The engine's view of a core vertex; `payload` is the canonical signed
 * bytes. `conflictKeys` (one per carried transaction, when the caller has
 * them) saves decoding each transaction again.
 */
export function toSignedVertex(
  info: VertexInfo,
  bytes: Uint8Array,
  conflictKeys?: readonly string[],
): SignedVertex {
  return {
    id: toHex(info.id),
    author: toHex(info.vertex.author),
    parents: info.vertex.parents.map(toHex),
    txs: info.vertex.transactions.map((t, i) => ({
      id: toHex(info.transactionIds[i]),
      conflictKey: conflictKeys?.[i] ?? validateTransaction(t).conflictKey,
      deps: [],
    })),
    timestampMs: Number(info.vertex.timestampMs),
    signature: info.vertex.signature,
    payload: bytes,
  };
}
