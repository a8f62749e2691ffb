import assert from "node:assert/strict";
import { carriedKeys, type CarriedTx, firstBadSignature, firstOutOfOrder, firstUnknownAccount } from "./carried.ts";
import { conflictKeyOf } from "./conflict_key.ts";

const A = "aa".repeat(32);
const B = "bb".repeat(32);
const KEY_A = new Uint8Array([1]);
const KEY_B = new Uint8Array([2]);

function tx(id: string, account: string, nonce: bigint, creates: Uint8Array | null = null): CarriedTx {
  return {
    id,
    account,
    nonce,
    conflictKey: conflictKeyOf(account, nonce),
    createsKey: creates,
    signingMessage: new TextEncoder().encode(id),
    signature: new TextEncoder().encode(`sig ${id}`),
  };
}

Deno.test("carriedKeys: own create_account, an earlier one in the vertex, else the lookup", () => {
  const txs = [tx("t1", B, 3n), tx("t2", A, 0n, KEY_A), tx("t3", A, 1n), tx("t4", "cc".repeat(32), 1n)];
  const keys = carriedKeys(txs, (a) => (a === B ? KEY_B : null));
  assert.deepEqual(keys, [KEY_B, KEY_A, KEY_A, null]);
  assert.equal(firstUnknownAccount(txs, keys)?.txId, "t4");
  assert.equal(firstUnknownAccount(txs, keys)?.reason, "tx_unknown_account");
  assert.equal(firstUnknownAccount(txs.slice(0, 3), keys.slice(0, 3)), null);
  // A later create_account of the same account is no source for the transactions before it.
  assert.deepEqual(carriedKeys([tx("t5", A, 1n), tx("t6", A, 0n, KEY_A)], () => null), [null, KEY_A]);
});

Deno.test("firstBadSignature: verifies every known key, reports the first failure, skips unknown keys", async () => {
  const txs = [tx("t1", A, 0n, KEY_A), tx("t2", A, 1n), tx("t3", B, 5n)];
  const asked: string[] = [];
  const verify = (t: CarriedTx) => {
    asked.push(t.id);
    return Promise.resolve(t.id !== "t2");
  };
  const bad = await firstBadSignature(txs, [KEY_A, KEY_A, null], verify);
  assert.deepEqual(asked, ["t1", "t2"]);
  assert.equal(bad?.reason, "tx_bad_signature");
  assert.equal(bad?.txId, "t2");
  assert.equal(await firstBadSignature(txs, [KEY_A, null, null], verify), null);
});

Deno.test("firstOutOfOrder: nonce 0 creates (or is a genesis account's), n > 0 needs n - 1 before it", () => {
  const past = new Set([conflictKeyOf(B, 4n)]);
  const ctx = {
    sequential: true,
    isGenesisAccount: (a: string) => a === B,
    carriedInPast: (k: string) => past.has(k),
  };
  // In order: A created then used in the vertex; B's nonce 5 follows 4 in the causal past; B's nonce 0 is a genesis
  // account's first transaction.
  assert.equal(firstOutOfOrder([tx("t1", A, 0n, KEY_A), tx("t2", A, 1n), tx("t3", B, 5n)], ctx), null);
  assert.equal(firstOutOfOrder([tx("t4", B, 0n)], ctx), null);
  const cases: [CarriedTx[], string, RegExp][] = [
    [[tx("t1", A, 1n)], "t1", /needs nonce 0/],
    [[tx("t1", A, 0n, KEY_A), tx("t2", A, 2n)], "t2", /needs nonce 1/],
    [[tx("t2", A, 1n), tx("t1", A, 0n, KEY_A)], "t2", /needs nonce 0/],
    [[tx("t1", A, 0n)], "t1", /create_account, which nonce 0 must be/],
    [[tx("t1", A, 3n, KEY_A)], "t1", /only nonce 0/],
    [[tx("t3", B, 6n)], "t3", /needs nonce 5/],
  ];
  for (const [txs, id, why] of cases) {
    const r = firstOutOfOrder(txs, ctx);
    assert.equal(r?.reason, "tx_out_of_order");
    assert.equal(r?.txId, id);
    assert.match(r!.message, why);
  }
});

Deno.test("firstOutOfOrder without the exchange: any nonce once the account's creation is before it", () => {
  const past = new Set([conflictKeyOf(A, 0n)]);
  const ctx = { sequential: false, isGenesisAccount: () => false, carriedInPast: (k: string) => past.has(k) };
  assert.equal(firstOutOfOrder([tx("t1", A, 7n), tx("t2", A, 3n)], ctx), null);
  assert.equal(firstOutOfOrder([tx("t1", B, 0n, KEY_B), tx("t2", B, 9n)], ctx), null);
  const r = firstOutOfOrder([tx("t3", B, 9n)], ctx);
  assert.equal(r?.reason, "tx_out_of_order");
  assert.match(r!.message, /needs nonce 0/);
});
