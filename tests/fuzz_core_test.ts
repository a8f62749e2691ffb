/**
 * Seeded fuzzing of what the node decodes from peers through the WASM core
 * (vertices, transactions, ledger snapshots) and of checkpoint statements
 * (tests/_fuzz.ts). Besides refusing only with CoreError / CheckpointError, the
 * core must not grow its memory out of proportion: wasm memory never shrinks,
 * so an unbounded allocation would show as growth here. The seed is printed;
 * QUDAG_FUZZ_SEED replays a run.
 */
import assert from "node:assert/strict";
import * as wasm from "../wasm/qudag_core.wasm";
import { CheckpointError, decodeStatement, encodeStatement } from "../src/checkpoint/statement.ts";
import {
  CoreError,
  decodeTransaction,
  decodeVertex,
  encodeVertex,
  Ledger,
  validateTransaction,
  validateVertex,
} from "../src/core/mod.ts";
import { CHAIN, realKey, RUV, seedGenesis, signTx } from "../src/ledger/_testing.ts";
import { fuzz } from "./_fuzz.ts";

/** Growth of the core's memory a whole run may cause (its inputs are at most tens of KiB). */
const WASM_GROWTH_BYTES_MAX = 64 << 20;

const alice = realKey(21);
const bob = realKey(22);
const memo = new TextEncoder().encode("rent");
const txs = [
  signTx(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey }),
  signTx(alice, 1n, { kind: "transfer", to: bob.id, amount: 5n * RUV, memo }),
  signTx(realKey(2), 0n, { kind: "mint", to: alice.id, amount: 1_000n * RUV }),
  signTx(alice, 2n, { kind: "burn", amount: 3n }),
  signTx(alice, 3n, { kind: "data", data: new Uint8Array(100).fill(9) }),
];

function vertex(round: bigint, parents: number, transactions: Uint8Array[]): Uint8Array {
  return encodeVertex({
    chainId: CHAIN,
    author: bob.id,
    round,
    timestampMs: 1_750_000_000_000n + round,
    parents: Array.from({ length: parents }, (_, i) => new Uint8Array(32).fill(i + 1)),
    transactions,
    signature: new Uint8Array(4627).fill(7),
  });
}

const isCoreError = (e: unknown) => e instanceof CoreError;

Deno.test("fuzz: vertices and transactions through the core, within bounded memory", async () => {
  const before = wasm.memory.buffer.byteLength;
  const vertices = [vertex(0n, 0, []), vertex(1n, 1, txs.slice(0, 2)), vertex(7n, 3, txs)];
  await fuzz({
    name: "core vertices",
    corpus: vertices,
    iterations: 20_000,
    randomBytesMax: 1_024,
    decode: (input) => {
      const info = validateVertex(input);
      decodeVertex(input);
      return info;
    },
    refusal: isCoreError,
    // The info repeats the transactions (ids, signing messages) besides the vertex.
    resultBytesMax: (n) => 8 * n + 4_096,
  });
  await fuzz({
    name: "core transactions",
    corpus: txs,
    iterations: 40_000,
    decode: (input) => {
      const info = validateTransaction(input);
      decodeTransaction(input);
      return info;
    },
    refusal: isCoreError,
    resultBytesMax: (n) => 8 * n + 4_096,
  });
  const grown = wasm.memory.buffer.byteLength - before;
  assert.ok(grown <= WASM_GROWTH_BYTES_MAX, `the core's memory grew by ${grown} bytes`);
});

Deno.test("fuzz: ledger snapshots from peers (Ledger.import), within bounded memory", async () => {
  const genesis = Ledger.genesis(seedGenesis());
  const corpus = [genesis.export(), genesis.cutSnapshot([])];
  genesis.free();
  const before = wasm.memory.buffer.byteLength;
  await fuzz({
    name: "ledger import",
    corpus,
    iterations: 10_000,
    randomBytesMax: 1_024,
    decode: (input) => {
      const ledger = Ledger.import(input);
      try {
        return ledger.stateHash();
      } finally {
        ledger.free();
      }
    },
    refusal: isCoreError,
  });
  const grown = wasm.memory.buffer.byteLength - before;
  assert.ok(grown <= WASM_GROWTH_BYTES_MAX, `the core's memory grew by ${grown} bytes`);
});

Deno.test("fuzz: checkpoint statements", async () => {
  const statement = (frontier: number) =>
    encodeStatement({
      chainId: CHAIN,
      seq: 3,
      boundaryMs: 1_750_000_060_000,
      prevBoundaryMs: 1_750_000_000_000,
      vertexCount: 12,
      frontier: Array.from({ length: frontier }, (_, i) => (i + 1).toString(16).padStart(2, "0").repeat(32)),
      txAccumulator: new Uint8Array(32).fill(1),
      stateHash: new Uint8Array(32).fill(2),
      journalHash: new Uint8Array(32).fill(3),
      prevDigest: new Uint8Array(32).fill(4),
    });
  await fuzz({
    name: "checkpoint statements",
    corpus: [statement(1), statement(5), statement(64)],
    iterations: 50_000,
    decode: decodeStatement,
    refusal: (e) => e instanceof CheckpointError,
  });
});
