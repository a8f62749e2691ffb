import assert from "node:assert/strict";
import { DIGESTS_PER_VALIDATOR_MAX, SignatureCollector } from "./collector.ts";
import { CheckpointError } from "./statement.ts";

const hex = (byte: number) => new Uint8Array(32).fill(byte).toHex();
/** Validators v[0..3]; signatures need not be real here: the collector does not verify. */
const V = [hex(0xa4), hex(0xa1), hex(0xa3), hex(0xa2)];
const D1 = hex(0xd1);
const D2 = hex(0xd2);
const D3 = hex(0xd3);
const sig = (byte: number) => new Uint8Array(8).fill(byte);

Deno.test("certifiable() answers null until exactly quorum(n) validators signed, then their signatures by validator", () => {
  const c = new SignatureCollector({ validators: V });
  assert.equal(c.add(5, D1, V[0], sig(0)), "new");
  assert.equal(c.add(5, D1, V[1], sig(1)), "new");
  assert.equal(c.certifiable(5, D1), null);
  assert.equal(c.add(5, D1, V[2], sig(2)), "new");
  assert.deepEqual(c.certifiable(5, D1), [
    { validator: V[1], signature: sig(1) },
    { validator: V[2], signature: sig(2) },
    { validator: V[0], signature: sig(0) },
  ]);
  assert.equal(c.certifiable(5, D2), null);
  assert.equal(c.certifiable(6, D1), null);
});

Deno.test("add() ignores a repeated signature and refuses unknown validators", () => {
  const c = new SignatureCollector({ validators: V });
  assert.equal(c.add(1, D1, V[0], sig(0)), "new");
  assert.equal(c.add(1, D1, V[0], sig(9)), "duplicate");
  assert.equal(c.add(1, D1, V[1], sig(1)), "new");
  assert.equal(c.add(1, D1, hex(0xee), sig(2)), "unknown_validator");
  assert.equal(c.size, 2);
  assert.equal(c.certifiable(1, D1), null, "a duplicate does not count twice towards the quorum");
  assert.deepEqual(c.digests(1), [{ digest: D1, signers: 2 }]);
});

Deno.test("add() keeps only seqs in [lowestOpen, lowestOpen + windowMax)", () => {
  const c = new SignatureCollector({ validators: V, windowMax: 3 });
  assert.equal(c.add(1, D1, V[0], sig(0)), "new");
  assert.equal(c.add(3, D1, V[0], sig(0)), "new");
  assert.equal(c.add(4, D1, V[0], sig(0)), "out_of_window");
  c.forgetBelow(2);
  assert.equal(c.lowestOpen, 2);
  assert.equal(c.add(1, D1, V[1], sig(1)), "out_of_window");
  assert.equal(c.add(4, D1, V[0], sig(0)), "new");
  assert.equal(c.add(5, D1, V[0], sig(0)), "out_of_window");
  assert.equal(c.size, 2);
});

Deno.test("equivocators() names validators that signed two digests for one seq; both signatures are kept", () => {
  const c = new SignatureCollector({ validators: V });
  c.add(7, D1, V[0], sig(1));
  c.add(7, D2, V[0], sig(2));
  c.add(7, D1, V[1], sig(3));
  c.add(8, D2, V[1], sig(4));
  assert.deepEqual(c.equivocators(7), [V[0]]);
  assert.deepEqual(c.equivocators(8), []);
  assert.deepEqual(c.digests(7), [{ digest: D1, signers: 2 }, { digest: D2, signers: 1 }]);
  assert.equal(c.size, 4);
  // Further digests from an equivocator are refused, so one validator cannot fill memory.
  assert.equal(DIGESTS_PER_VALIDATOR_MAX, 2);
  assert.equal(c.add(7, D3, V[0], sig(5)), "over_limit");
  assert.equal(c.add(7, D2, V[0], sig(6)), "duplicate");
  assert.equal(c.size, 4);
  // The equivocator's signature still counts towards a quorum.
  c.add(7, D1, V[2], sig(7));
  assert.equal(c.certifiable(7, D1)?.length, 3);
});

Deno.test("forgetBelow() frees the signatures of older seqs and never moves the window back", () => {
  const c = new SignatureCollector({ validators: V, windowMax: 10 });
  for (let seq = 1; seq <= 10; seq++) {
    for (const v of V) assert.equal(c.add(seq, D1, v, sig(seq)), "new");
  }
  assert.equal(c.size, 40);
  c.forgetBelow(6);
  assert.equal(c.size, 20);
  assert.equal(c.certifiable(5, D1), null);
  assert.deepEqual(c.digests(5), []);
  assert.equal(c.certifiable(6, D1)?.length, 4);
  c.forgetBelow(3);
  assert.equal(c.lowestOpen, 6);
  assert.equal(c.size, 20);
  c.forgetBelow(100);
  assert.equal(c.size, 0);
  assert.deepEqual(c.digests(10), []);
});

Deno.test("SignatureCollector refuses bad input: malformed seq and digest, bad options", () => {
  const c = new SignatureCollector({ validators: V });
  for (const action of [() => c.add(0, D1, V[0], sig(0)), () => c.add(1, "D1", V[0], sig(0))]) {
    assert.throws(action, (e: unknown) => e instanceof CheckpointError && e.code === "checkpoint_malformed");
  }
  assert.throws(() => new SignatureCollector({ validators: V, windowMax: 0 }), RangeError);
  assert.throws(() => new SignatureCollector({ validators: [V[0], V[0]] }), RangeError);
  assert.throws(() => new SignatureCollector({ validators: ["node1"] }), RangeError);
});

Deno.test("SignatureCollector with one validator certifies on its single signature", () => {
  const c = new SignatureCollector({ validators: [V[0]] });
  assert.equal(c.certifiable(1, D1), null);
  c.add(1, D1, V[0], sig(0));
  assert.deepEqual(c.certifiable(1, D1), [{ validator: V[0], signature: sig(0) }]);
});
