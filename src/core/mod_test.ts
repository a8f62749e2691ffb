import assert from "node:assert/strict";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import vectors from "../../wasm/testdata/blake3_test_vectors.json" with {
  type: "json",
};
import {
  blake3,
  CORE_CONSTANTS,
  CORE_ERROR_CODES,
  CoreError,
  type CoreErrorCode,
  decodeTransaction,
  decodeVertex,
  defaultFeeParams,
  encodeTransaction,
  encodeVertex,
  feeFor,
  type FeeParams,
  feeRate,
  formatAmount,
  formatRatePercent,
  LEDGER_REFUSAL_CODES,
  ML_DSA_87_PUBLIC_KEY_BYTES,
  ML_DSA_87_SIGNATURE_BYTES,
  parseAmount,
  signedVertexBytes,
  type Transaction,
  transactionId,
  transactionSigningMessage,
  type UnsignedTransaction,
  unsignedVertexBytes,
  validateFeeParams,
  validateTransaction,
  validateVertex,
  type Vertex,
  vertexId,
  vertexSigningMessage,
} from "./mod.ts";
import { concatBytes } from "../bytes.ts";
import { core } from "./_wasm.ts";

// ---------------------------------------------------------------- fixtures

const DAY_MS = 86_400_000n;
const RUV = 1_000_000n;

function filled(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const h = (n: number) => new Uint8Array(32).fill(n);
const sig = (seed: number) => filled(ML_DSA_87_SIGNATURE_BYTES, seed);
const publicKey = filled(ML_DSA_87_PUBLIC_KEY_BYTES, 9);
const header = {
  chainId: h(7),
  account: h(1),
  nonce: 1n,
  timestampMs: 1_700_000_000_000n,
  maxFee: 1_000n,
};

function transfer(nonce: bigint, extra: Partial<Transaction> = {}): Transaction {
  return {
    ...header,
    nonce,
    kind: "transfer",
    to: h(2),
    amount: 5n * RUV,
    memo: new TextEncoder().encode("rent"),
    signature: sig(Number(nonce & 0xffn)),
    ...extra,
  } as Transaction;
}

function everyKind(): Transaction[] {
  const unsigned: UnsignedTransaction[] = [
    {
      ...header,
      account: nobleBlake3(publicKey),
      kind: "create_account",
      name: "alice_01-x",
      publicKey,
    },
    { ...header, kind: "transfer", to: h(2), amount: 1n, memo: new Uint8Array() },
    { ...header, kind: "mint", to: h(2), amount: (1n << 64n) - 1n },
    { ...header, kind: "burn", amount: 3n },
    { ...header, kind: "configure_fees", fees: defaultFeeParams() },
    {
      ...header,
      kind: "attest_agent",
      agent: h(3),
      proofDigest: h(4),
      expiryMs: 99n,
    },
    { ...header, kind: "revoke_agent", agent: h(3) },
    {
      ...header,
      kind: "immutable_lock",
      configHash: h(5),
      gracePeriodMs: DAY_MS,
    },
    {
      ...header,
      kind: "governance_override",
      configHash: h(6),
      reason: "audit #12: fee fix ✓",
    },
    { ...header, kind: "data", data: filled(CORE_CONSTANTS.dataBytesMax, 3) },
  ];
  return unsigned.map((tx, i) => ({ ...tx, nonce: BigInt(i), signature: sig(i) }));
}

function vertex(
  round: bigint,
  parents: Uint8Array[],
  txs: Transaction[],
): Vertex {
  return {
    chainId: h(7),
    author: h(9),
    round,
    timestampMs: 1_700_000_000_123n,
    parents,
    transactions: txs.map(encodeTransaction),
    signature: sig(200),
  };
}

function codeOf(fn: () => unknown): CoreErrorCode {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CoreError, `not a CoreError: ${error}`);
    assert.ok(error.message.length > 0);
    return error.code;
  }
  assert.fail("expected a CoreError");
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------- BLAKE3

Deno.test("blake3() matches the official vectors and @noble/hashes", () => {
  assert.ok(vectors.cases.length >= 35);
  for (const c of vectors.cases) {
    const input = new Uint8Array(c.input_len);
    for (let i = 0; i < input.length; i++) input[i] = i % 251;
    const outLen = c.hash.length / 2;
    assert.equal(hex(blake3(input, outLen)), c.hash, `len ${c.input_len}`);
    assert.equal(hex(blake3(input)), c.hash.slice(0, 64));
    assert.deepEqual(blake3(input, outLen), nobleBlake3(input, { dkLen: outLen }));
  }
});

Deno.test("blake3() agrees with @noble/hashes on large and odd inputs", () => {
  for (const len of [1023, 1024, 1025, 2049, 65_536, 1_000_001]) {
    const input = filled(len, len);
    assert.deepEqual(blake3(input), nobleBlake3(input), `len ${len}`);
  }
  const x = filled(100, 1);
  assert.deepEqual(blake3(x, 65_536), nobleBlake3(x, { dkLen: 65_536 }));
  assert.equal(codeOf(() => blake3(x, 0)), "output_too_large");
  assert.equal(codeOf(() => blake3(x, 65_537)), "output_too_large");
});

// ---------------------------------------------------------------- transactions

Deno.test("encodeTransaction() round-trips every kind both ways", () => {
  for (const tx of everyKind()) {
    const bytes = encodeTransaction(tx);
    assert.ok(bytes.length <= CORE_CONSTANTS.txBytesMax);
    const back = decodeTransaction(bytes);
    assert.deepEqual(back, tx, tx.kind);
    assert.deepEqual(encodeTransaction(back), bytes);
  }
});

Deno.test("validateTransaction() returns id, signing message and conflict key", () => {
  const tx = transfer(0x0102n);
  const bytes = encodeTransaction(tx);
  const info = validateTransaction(bytes);
  assert.deepEqual(info.id, nobleBlake3(bytes));
  assert.deepEqual(transactionId(bytes), info.id);
  assert.deepEqual(transactionId(tx), info.id);
  const unsignedLen = bytes.length - ML_DSA_87_SIGNATURE_BYTES;
  assert.equal(new TextDecoder().decode(info.signingMessage.subarray(0, 11)), "qudag/tx/v1");
  assert.deepEqual(info.signingMessage.subarray(11), bytes.subarray(0, unsignedLen));
  const { signature: _, ...unsigned } = tx;
  assert.deepEqual(transactionSigningMessage(unsigned), info.signingMessage);
  assert.deepEqual(transactionSigningMessage(bytes), info.signingMessage);
  assert.equal(info.conflictKey, hex(h(1)) + "0201000000000000");
  assert.deepEqual(info.tx.signature, tx.signature);
  // Layout head: version 1, object type 1 (transaction), kind 2 (transfer).
  assert.deepEqual([...bytes.subarray(0, 3)], [1, 1, 2]);
});

Deno.test("a real ML-DSA-87 signature verifies over the signing message", () => {
  const keys = ml_dsa87.keygen(filled(32, 42));
  const unsigned: UnsignedTransaction = {
    ...header,
    account: blake3(keys.publicKey),
    kind: "create_account",
    name: "bob",
    publicKey: keys.publicKey,
  };
  const message = transactionSigningMessage(unsigned);
  const signature = ml_dsa87.sign(message, keys.secretKey);
  const bytes = encodeTransaction({ ...unsigned, signature });
  const info = validateTransaction(bytes);
  assert.ok(ml_dsa87.verify(info.tx.signature, info.signingMessage, keys.publicKey));
  // Any change to the body changes the message, so the signature fails.
  const other = transactionSigningMessage({ ...unsigned, nonce: 2n });
  assert.ok(!ml_dsa87.verify(signature, other, keys.publicKey));
});

// ---------------------------------------------------------------- vertices

Deno.test("encodeVertex() round-trips with ids and transaction ids", () => {
  const txs = [transfer(1n), transfer(2n)];
  const v = vertex(3n, [h(1), h(2), h(3)], txs);
  const bytes = encodeVertex(v);
  const info = validateVertex(bytes);
  assert.deepEqual(info.vertex, v);
  assert.deepEqual(decodeVertex(bytes), v);
  assert.deepEqual(encodeVertex(info.vertex), bytes);
  assert.deepEqual(info.id, nobleBlake3(bytes));
  assert.deepEqual(vertexId(v), info.id);
  assert.deepEqual(info.transactionIds, txs.map((t) => transactionId(t)));
  assert.equal(bytes[0], 2, "new vertices are version 2");
  const body = bytes.subarray(0, bytes.length - ML_DSA_87_SIGNATURE_BYTES);
  assert.deepEqual(info.signingMessage, concatBytes(new TextEncoder().encode("qudag/vertex/v2"), nobleBlake3(body)));
  const { signature: _, ...unsigned } = v;
  assert.deepEqual(unsignedVertexBytes(unsigned), { body, signingMessage: info.signingMessage });
  assert.deepEqual(vertexSigningMessage(unsigned), info.signingMessage);
  assert.deepEqual(vertexSigningMessage(bytes), info.signingMessage);
  const genesis = vertex(0n, [], []);
  assert.deepEqual(decodeVertex(encodeVertex(genesis)), genesis);
});

Deno.test("signedVertexBytes() gives encodeVertex()'s bytes from the unsigned bytes, and refuses what is not a body", () => {
  for (const v of [vertex(3n, [h(1), h(2)], [transfer(1n), transfer(2n)]), vertex(0n, [], [])]) {
    const { signature, ...unsigned } = v;
    assert.deepEqual(signedVertexBytes(unsignedVertexBytes(unsigned).body, signature), encodeVertex(v));
  }
  const { body } = unsignedVertexBytes(vertex(1n, [h(1)], [transfer(1n)]));
  assert.equal(codeOf(() => signedVertexBytes(body, sig(1).subarray(1))), "invalid_input");
  // A transaction's bytes are not a vertex's.
  assert.equal(codeOf(() => signedVertexBytes(encodeTransaction(transfer(1n)), sig(1))), "invalid_input");
  assert.equal(codeOf(() => signedVertexBytes(body.subarray(0, 1), sig(1))), "invalid_input");
});

Deno.test("a vertex's id and body digest are BLAKE3-256 of its bytes and of its body, at any size", () => {
  // Bodies from a few hundred bytes to several hundred KB end at many offsets of a 1 KB chunk: the core hashes
  // the chunks the two inputs share once (wasm/src/blake3.rs hash_prefix_and_whole).
  const domain = new TextEncoder().encode("qudag/vertex/v2");
  for (const count of [0, 1, 2, 3, 5, 8, 13, 21, 34, 60]) {
    const txs = Array.from({ length: count }, (_, i) => transfer(BigInt(i + 1)));
    const bytes = encodeVertex(vertex(1n, [h(1)], txs));
    const info = validateVertex(bytes);
    const body = bytes.subarray(0, bytes.length - ML_DSA_87_SIGNATURE_BYTES);
    assert.deepEqual(info.id, nobleBlake3(bytes), `${count} transactions`);
    assert.deepEqual(info.signingMessage, concatBytes(domain, nobleBlake3(body)), `${count} transactions`);
  }
});

Deno.test("a version 1 vertex still decodes, keeps its bytes and is signed over its whole body", () => {
  const v = { ...vertex(3n, [h(1)], [transfer(1n), transfer(2n)]), version: 1 as const };
  const bytes = encodeVertex(v);
  assert.equal(bytes[0], 1);
  const info = validateVertex(bytes);
  assert.deepEqual(info.vertex, v);
  assert.deepEqual(encodeVertex(info.vertex), bytes);
  assert.deepEqual(info.id, nobleBlake3(bytes));
  const body = bytes.subarray(0, bytes.length - ML_DSA_87_SIGNATURE_BYTES);
  assert.deepEqual(info.signingMessage, concatBytes(new TextEncoder().encode("qudag/vertex/v1"), body));
  const { signature: _, ...unsigned } = v;
  assert.deepEqual(vertexSigningMessage(unsigned), info.signingMessage);
  // The same content as version 2: other bytes (the version byte), so another id and another message.
  const { version: _v, ...current } = v;
  const bytes2 = encodeVertex(current);
  assert.deepEqual(bytes2.subarray(1), bytes.subarray(1));
  assert.notDeepEqual(validateVertex(bytes2).id, info.id);
  assert.equal(validateVertex(bytes2).signingMessage.length, 15 + 32);
  // A version the core does not know is refused, from bytes and from fields.
  for (const version of [0, 3]) {
    const b = bytes.slice();
    b[0] = version;
    assert.equal(codeOf(() => validateVertex(b)), "unknown_version");
    assert.equal(codeOf(() => encodeVertex({ ...v, version: version as 1 })), "unknown_version");
  }
  // Past a byte: refused as that version, not as the byte it would wrap to.
  assert.throws(() => encodeVertex({ ...v, version: 257 as 1 }), /version 257/);
  for (const version of [2.5, -1, null, "1"]) {
    assert.equal(codeOf(() => encodeVertex({ ...v, version: version as 1 })), "invalid_input", String(version));
  }
});

Deno.test("validateVertex() decodes each carried transaction with its vertex, as views of the signed bytes", () => {
  const txs = everyKind();
  const bytes = encodeVertex(vertex(3n, [h(1)], txs));
  const info = validateVertex(bytes);
  assert.equal(info.txs.length, txs.length);
  txs.forEach((tx, i) => {
    const alone = validateTransaction(encodeTransaction(tx));
    const carried = info.txs[i];
    assert.equal(carried.kind, tx.kind);
    assert.deepEqual(carried.account, tx.account);
    assert.equal(carried.nonce, tx.nonce);
    assert.deepEqual(carried.createsKey, tx.kind === "create_account" ? tx.publicKey : null);
    assert.deepEqual(carried.signature, tx.signature);
    assert.deepEqual(carried.signingMessage, alone.signingMessage);
    assert.deepEqual(info.transactionIds[i], alone.id);
    // Views of the input, not copies: the core sent where they lie.
    assert.equal(info.vertex.transactions[i].buffer, bytes.buffer);
    assert.deepEqual(info.vertex.transactions[i], encodeTransaction(tx));
  });
  assert.equal(info.vertex.signature.buffer, bytes.buffer);
  assert.deepEqual(info.vertex.signature, sig(200));
  const { signature: _, ...unsigned } = vertex(3n, [h(1)], txs);
  assert.deepEqual(info.signingMessage, vertexSigningMessage(unsigned));
  // A view of a larger buffer decodes the same.
  const padded = new Uint8Array(bytes.length + 7);
  padded.set(bytes, 3);
  const inner = validateVertex(padded.subarray(3, 3 + bytes.length));
  assert.deepEqual(inner.vertex, info.vertex);
  assert.deepEqual(inner.txs.map((t) => t.signingMessage), info.txs.map((t) => t.signingMessage));
});

Deno.test("limits are met exactly and rejected one past", () => {
  const c = CORE_CONSTANTS;
  const at = (memo: number) => transfer(1n, { memo: new Uint8Array(memo) } as Partial<Transaction>);
  encodeTransaction(at(c.memoBytesMax));
  assert.equal(codeOf(() => encodeTransaction(at(c.memoBytesMax + 1))), "memo_too_large");
  const parents = (n: number) => Array.from({ length: n }, (_, i) => new Uint8Array(32).fill(i));
  encodeVertex(vertex(1n, parents(c.parentsMax), []));
  assert.equal(
    codeOf(() => encodeVertex(vertex(1n, parents(c.parentsMax + 1), []))),
    "too_many_parents",
  );
  const one = encodeTransaction(transfer(1n));
  const tooMany = { ...vertex(1n, [h(1)], []), transactions: Array(c.txsPerVertexMax + 1).fill(one) };
  assert.equal(codeOf(() => encodeVertex(tooMany)), "too_many_transactions");
  assert.equal(codeOf(() => decodeTransaction(new Uint8Array(c.txBytesMax + 1))), "tx_too_large");
  assert.equal(codeOf(() => decodeVertex(new Uint8Array(c.vertexBytesMax + 1))), "vertex_too_large");
  const bigData = Array.from(
    { length: 400 },
    (_, i) => transfer(BigInt(i), { kind: "data", data: new Uint8Array(c.dataBytesMax) } as Partial<Transaction>),
  );
  assert.equal(codeOf(() => encodeVertex(vertex(1n, [h(1)], bigData))), "vertex_too_large");
});

Deno.test("every rejection code is reachable through the TypeScript API", () => {
  const kinds = everyKind();
  const good = encodeTransaction(transfer(1n));
  const patched = (at: number, value: number) => {
    const b = good.slice();
    b[at] = value;
    return b;
  };
  const withPayload = (i: number, payload: Record<string, unknown>) => ({ ...kinds[i], ...payload }) as Transaction;
  const fees = (p: Partial<FeeParams>) => ({ ...defaultFeeParams(), ...p });
  const cases: [CoreErrorCode, () => unknown][] = [
    ["invalid_input", () => encodeTransaction(transfer(1n, { signature: new Uint8Array(10) }))],
    ["invalid_input", () => encodeTransaction(transfer(1n, { chainId: new Uint8Array(31) }))],
    ["invalid_input", () => encodeTransaction(transfer(1n, { nonce: -1n }))],
    ["truncated", () => decodeTransaction(good.subarray(0, good.length - 1))],
    ["trailing_bytes", () => decodeTransaction(Uint8Array.of(...good, 0))],
    ["unknown_version", () => decodeTransaction(patched(0, 2))],
    ["unknown_object_type", () => decodeTransaction(patched(1, 2))],
    ["unknown_object_type", () => decodeVertex(good)],
    ["unknown_kind", () => decodeTransaction(patched(2, 99))],
    ["unknown_kind", () => encodeTransaction(transfer(1n, { kind: "teleport" } as unknown as Partial<Transaction>))],
    ["tx_too_large", () => decodeTransaction(new Uint8Array(20_000))],
    ["vertex_too_large", () => decodeVertex(new Uint8Array(5 << 20))],
    ["memo_too_large", () => encodeTransaction(withPayload(1, { memo: new Uint8Array(257) }))],
    ["data_too_large", () => encodeTransaction(withPayload(9, { data: new Uint8Array(8193) }))],
    ["name_too_large", () => encodeTransaction(withPayload(0, { name: "a".repeat(65) }))],
    ["reason_too_large", () => encodeTransaction(withPayload(8, { reason: "a".repeat(257) }))],
    ["too_many_parents", () => encodeVertex(vertex(1n, Array(65).fill(h(1)), []))],
    ["too_many_transactions", () => encodeVertex({ ...vertex(1n, [h(1)], []), transactions: Array(1025).fill(good) })],
    ["output_too_large", () => blake3(good, 0)],
    ["name_invalid", () => encodeTransaction(withPayload(0, { name: "Alice" }))],
    ["name_invalid", () => encodeTransaction(withPayload(0, { name: "" }))],
    ["reason_invalid", () => encodeTransaction(withPayload(8, { reason: "" }))],
    ["amount_zero", () => encodeTransaction(withPayload(1, { amount: 0n }))],
    ["amount_zero", () => encodeTransaction(withPayload(2, { amount: 0n }))],
    ["amount_zero", () => encodeTransaction(withPayload(3, { amount: 0n }))],
    ["account_key_mismatch", () => encodeTransaction(withPayload(0, { account: h(1) }))],
    ["invalid_fee_params", () => encodeTransaction(withPayload(4, { fees: fees({ fMinPpb: 20_000_000 }) }))],
    ["invalid_fee_params", () => validateFeeParams(fees({ timeConstantMs: 0n }))],
    ["parents_unsorted", () => encodeVertex(vertex(1n, [h(2), h(1)], []))],
    ["parents_duplicate", () => encodeVertex(vertex(1n, [h(1), h(1)], []))],
    ["genesis_has_parents", () => encodeVertex(vertex(0n, [h(1)], []))],
    ["parents_missing", () => encodeVertex(vertex(1n, [], []))],
    ["chain_id_mismatch", () => encodeVertex(vertex(1n, [h(1)], [transfer(1n, { chainId: h(8) })]))],
    ["duplicate_transaction", () => encodeVertex(vertex(1n, [h(1)], [transfer(1n), transfer(1n)]))],
    ["conflicting_transactions", () => encodeVertex(vertex(1n, [h(1)], [transfer(1n), transfer(1n, { maxFee: 5n })]))],
    ["amount_invalid", () => parseAmount("-1")],
    ["amount_too_many_decimals", () => parseAmount("0.0000001")],
    ["amount_overflow", () => parseAmount("18446744073709.551616")],
    ["amount_overflow", () => formatAmount(1n << 64n)],
  ];
  const seen = new Set<CoreErrorCode>();
  for (const [code, fn] of cases) {
    assert.equal(codeOf(fn), code, `expected ${code}`);
    seen.add(code);
  }
  // Ledger refusals are results, reached in ledger_test.ts.
  const ledger: readonly string[] = LEDGER_REFUSAL_CODES;
  const unreachable = CORE_ERROR_CODES.filter((c) => !seen.has(c) && !ledger.includes(c));
  assert.deepEqual(unreachable, ["internal"]);
});

Deno.test("CORE_ERROR_CODES lists exactly the core's codes", () => {
  const fromCore: string[] = [];
  for (let n = 0; n < 256; n++) {
    const name = core.codeName(n);
    if (name !== undefined) fromCore.push(name);
  }
  assert.deepEqual([...fromCore].sort(), [...CORE_ERROR_CODES].sort());
});

// ---------------------------------------------------------------- fees

Deno.test("feeRate() reproduces the seed examples", () => {
  const p = defaultFeeParams();
  const rate = (verified: boolean, days: bigint, ruv: bigint) =>
    feeRate(p, { verified, tMs: days * DAY_MS, usage: ruv * RUV });
  assert.equal(rate(false, 0n, 0n), 1_000_000);
  assert.equal(formatRatePercent(rate(false, 0n, 0n)), "0.100%");
  assert.equal(formatRatePercent(rate(false, 90n, 5_000n)), "0.324%");
  assert.equal(formatRatePercent(rate(true, 180n, 20_000n)), "0.279%");
  // Pinned: changing these is a consensus change.
  assert.equal(rate(false, 90n, 5_000n), 3_238_480);
  assert.equal(rate(true, 180n, 20_000n), 2_792_549);
  assert.equal(rate(true, 0n, 0n), 2_500_000);
});

Deno.test("feeFor() rounds up and never returns 0 for a non-zero amount", () => {
  const p = defaultFeeParams();
  const fresh = { verified: false, tMs: 0n, usage: 0n };
  assert.deepEqual(feeFor(p, fresh, 50_000n * RUV), { ratePpb: 1_000_000, fee: 50n * RUV });
  assert.deepEqual(feeFor(p, fresh, 1n), { ratePpb: 1_000_000, fee: 1n });
  assert.deepEqual(feeFor(p, fresh, 0n), { ratePpb: 1_000_000, fee: 0n });
  assert.equal(feeFor(p, fresh, 1_001n).fee, 2n);
  assert.equal(feeFor(p, { verified: false, tMs: 90n * DAY_MS, usage: 5_000n * RUV }, RUV).fee, 3_239n);
  const max = (1n << 64n) - 1n;
  assert.equal(feeFor(p, { verified: false, tMs: max, usage: max }, max).fee <= max / 100n + 1n, true);
  assert.equal(codeOf(() => feeFor(p, fresh, -1n)), "invalid_input");
  assert.equal(codeOf(() => feeRate({ ...p, fMaxPpb: 1_000_000_001 }, fresh)), "invalid_fee_params");
});

Deno.test("formatRatePercent() rounds half up at the chosen precision", () => {
  assert.equal(formatRatePercent(3_238_480), "0.324%");
  assert.equal(formatRatePercent(3_238_480, 5), "0.32385%");
  assert.equal(formatRatePercent(5_000, 3), "0.001%");
  assert.equal(formatRatePercent(4_999, 3), "0.000%");
  assert.equal(formatRatePercent(1_000_000_000, 0), "100%");
});

// ---------------------------------------------------------------- amounts

Deno.test("parseAmount() and formatAmount() agree and reject bad text", () => {
  assert.equal(parseAmount("50000"), 50_000n * RUV);
  assert.equal(parseAmount("0.5"), 500_000n);
  assert.equal(parseAmount("0.000001"), 1n);
  assert.equal(parseAmount("18446744073709.551615"), (1n << 64n) - 1n);
  assert.equal(formatAmount(50_000n * RUV), "50000");
  assert.equal(formatAmount(500_000n), "0.5");
  assert.equal(formatAmount(0n), "0");
  for (const v of [0n, 1n, 10n, 999_999n, RUV, 1_234_567n, (1n << 64n) - 1n]) {
    assert.equal(parseAmount(formatAmount(v)), v);
  }
  for (const bad of ["", "-1", "+1", " 1", "1.", ".5", "1e5", "1,000", "01", "0x10", "½"]) {
    assert.equal(codeOf(() => parseAmount(bad)), "amount_invalid", bad);
  }
  assert.equal(codeOf(() => parseAmount("1.1234567")), "amount_too_many_decimals");
  assert.equal(codeOf(() => parseAmount("99999999999999999999")), "amount_overflow");
  assert.equal(codeOf(() => formatAmount(-1n)), "amount_overflow");
});
