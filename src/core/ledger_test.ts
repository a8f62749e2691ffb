import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import {
  blake3,
  CoreError,
  defaultFeeParams,
  encodeTransaction,
  Ledger,
  LEDGER_REFUSAL_CODES,
  type LedgerContext,
  type LedgerGenesis,
  type LedgerResultCode,
  ML_DSA_87_PUBLIC_KEY_BYTES,
  ML_DSA_87_SIGNATURE_BYTES,
  type TransactionPayload,
  transactionSigningMessage,
  type UnsignedTransaction,
} from "./mod.ts";

const RUV = 1_000_000n;
const DAY_MS = 86_400_000n;
const MINUTE_MS = 60_000n;
const T0 = 1_750_000_000_000n;
const CHAIN = new Uint8Array(32).fill(7);

// ---------------------------------------------------------------- keys

interface Key {
  publicKey: Uint8Array;
  id: Uint8Array;
  /** Real ML-DSA-87 secret key, or undefined for a fake key (signature not checked). */
  secretKey?: Uint8Array;
}

function realKey(n: number): Key {
  const { publicKey, secretKey } = ml_dsa87.keygen(new Uint8Array(32).fill(n));
  return { publicKey, secretKey, id: blake3(publicKey) };
}

function fakeKey(n: number): Key {
  const publicKey = new Uint8Array(ML_DSA_87_PUBLIC_KEY_BYTES);
  let x = (n * 0x9e3779b9 + 1) >>> 0;
  for (let i = 0; i < publicKey.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    publicKey[i] = x & 0xff;
  }
  return { publicKey, id: blake3(publicKey) };
}

function sign(key: Key, nonce: bigint, payload: TransactionPayload, maxFee = 1n << 40n, timestampMs = 0n): Uint8Array {
  const unsigned = { chainId: CHAIN, account: key.id, nonce, timestampMs, maxFee, ...payload } as UnsignedTransaction;
  const signature = key.secretKey
    ? ml_dsa87.sign(transactionSigningMessage(unsigned), key.secretKey, { extraEntropy: false })
    : new Uint8Array(ML_DSA_87_SIGNATURE_BYTES).fill(Number(nonce & 0xffn));
  return encodeTransaction({ ...unsigned, signature });
}

const verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) =>
  ml_dsa87.verify(signature, message, publicKey);

function genesisFor(keys: { fees: Key; master: Key; feeAdmin: Key; verifier: Key; governance: Key }, supplyCap = 0n) {
  const g: LedgerGenesis = {
    chainId: CHAIN,
    timeMs: T0,
    fees: defaultFeeParams(),
    supplyCap,
    accounts: [
      { name: "fees", publicKey: keys.fees.publicKey },
      { name: "exchange-master", publicKey: keys.master.publicKey },
      { name: "fee-admin", publicKey: keys.feeAdmin.publicKey },
      { name: "agent-verifier", publicKey: keys.verifier.publicKey },
      { name: "governance", publicKey: keys.governance.publicKey },
    ],
    roles: {
      feeAccount: keys.fees.id,
      exchangeMaster: keys.master.id,
      feeAdmin: keys.feeAdmin.id,
      agentVerifier: keys.verifier.id,
      governance: keys.governance.id,
    },
  };
  return g;
}

const vertexId = (n: bigint) => blake3(new TextEncoder().encode(`vertex ${n}`));
const at = (timeMs: bigint, concurrent: Uint8Array[] = []): LedgerContext => ({
  vertex: vertexId(timeMs),
  timeMs,
  concurrent,
});

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------- seed flow

Deno.test("Ledger reproduces the seed flow to the unit with real ML-DSA-87 signatures", () => {
  const keys = {
    fees: realKey(1),
    master: realKey(2),
    feeAdmin: realKey(3),
    verifier: realKey(4),
    governance: realKey(5),
  };
  const [treasury, alice, bob] = [realKey(10), realKey(11), realKey(12)];
  using ledger = Ledger.genesis(genesisFor(keys));
  let t = T0 + MINUTE_MS;
  const step = () => (t += MINUTE_MS);
  const ok = (tx: Uint8Array, time = step()) => {
    const out = ledger.applyVerified(tx, at(time), verify);
    assert.equal(out.code, "ok", out.message);
    return out;
  };
  ok(sign(treasury, 0n, { kind: "create_account", name: "genesis-treasury", publicKey: treasury.publicKey }));
  ok(sign(keys.master, 0n, { kind: "mint", to: treasury.id, amount: 10_000_000n * RUV }));
  ok(sign(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey }));
  ok(sign(bob, 0n, { kind: "create_account", name: "bob", publicKey: bob.publicKey }));
  const memo = new Uint8Array();
  const a = ok(sign(treasury, 1n, { kind: "transfer", to: alice.id, amount: 50_000n * RUV, memo }));
  const b = ok(sign(treasury, 2n, { kind: "transfer", to: bob.id, amount: 30_000n * RUV, memo }));
  // Same figures as the Rust seed-flow test (wasm/src/ledger/tests.rs).
  assert.deepEqual([a.ratePpb, a.fee], [1_000_000, 50n * RUV]);
  assert.deepEqual([b.ratePpb, b.fee], [1_000_344, 30_010_320n]);
  assert.deepEqual(b.touched.map(hex).sort(), [treasury.id, bob.id, keys.fees.id].map(hex).sort());
  assert.equal(ledger.balance(alice.id), 50_000n * RUV);
  assert.equal(ledger.balance(bob.id), 30_000n * RUV);
  assert.equal(ledger.balance(keys.fees.id), 80_010_320n);
  assert.equal(ledger.balance(treasury.id), 9_919_919_989_680n);
  assert.equal(ledger.accountByName("genesis-treasury")?.balance, 9_919_919_989_680n);

  ok(sign(keys.feeAdmin, 0n, { kind: "configure_fees", fees: defaultFeeParams() }));
  ok(sign(keys.verifier, 0n, {
    kind: "attest_agent",
    agent: alice.id,
    proofDigest: blake3(new TextEncoder().encode("alice-kyc.json")),
    expiryMs: T0 + 365n * DAY_MS,
  }));
  assert.ok(ledger.account(alice.id)?.attestation);
  const lockTime = step();
  const configHash = ledger.status().configHash;
  ok(sign(keys.governance, 0n, { kind: "immutable_lock", configHash, gracePeriodMs: DAY_MS }), lockTime);
  const status = ledger.status();
  assert.equal(status.lock?.graceEndMs, lockTime + DAY_MS);
  assert.equal(status.audit.length, 1);
  assert.equal(status.supply, 10_000_000n * RUV);
  assert.equal(status.accountCount, 8);

  // Alice is verified: the verified curve (0.25% floor).
  const q = ledger.feeQuote(alice.id, 1_000n * RUV, step());
  assert.equal(q.verified, true);
  assert.equal(q.ratePpb, 2_500_135);

  // After the grace period every node refuses a fee change.
  const late = ledger.applyVerified(
    sign(keys.feeAdmin, 1n, { kind: "configure_fees", fees: defaultFeeParams() }),
    at(lockTime + DAY_MS),
    verify,
  );
  assert.equal(late.code, "config_locked");

  // A forged signature never changes anything.
  const before = ledger.stateHash();
  const forged = sign(alice, 1n, { kind: "transfer", to: bob.id, amount: RUV, memo });
  forged[forged.length - 1] ^= 1;
  assert.equal(ledger.applyVerified(forged, at(step()), verify).code, "bad_signature");
  assert.deepEqual(ledger.stateHash(), before);

  // Persistence: export, import, same hash and balances.
  using copy = Ledger.import(ledger.export());
  assert.deepEqual(copy.stateHash(), ledger.stateHash());
  assert.equal(copy.balance(treasury.id), ledger.balance(treasury.id));
});

// ---------------------------------------------------------------- refusals

Deno.test("Ledger.apply() reaches every refusal code; a refusal past the nonce check consumes only the nonce", () => {
  const [fees, master, feeAdmin, verifier, governance] = [1, 2, 3, 4, 5].map(fakeKey);
  const [alice, bob, carol, nobody] = [10, 11, 12, 99].map(fakeKey);
  using ledger = Ledger.genesis(genesisFor({ fees, master, feeAdmin, verifier, governance }, 1_000n * RUV));
  const t = T0 + MINUTE_MS;
  const memo = new Uint8Array();
  for (
    const tx of [
      sign(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey }),
      sign(bob, 0n, { kind: "create_account", name: "bob", publicKey: bob.publicKey }),
      sign(master, 0n, { kind: "mint", to: alice.id, amount: 100n * RUV }),
      sign(governance, 0n, { kind: "immutable_lock", configHash: ledger.status().configHash, gracePeriodMs: 10n }),
    ]
  ) {
    assert.equal(ledger.apply(tx, at(t), true).code, "ok");
  }
  const wrongChain = encodeTransaction({
    chainId: new Uint8Array(32).fill(8),
    account: alice.id,
    nonce: 1n,
    timestampMs: 0n,
    maxFee: 0n,
    kind: "data",
    data: new Uint8Array(1),
    signature: new Uint8Array(ML_DSA_87_SIGNATURE_BYTES),
  });
  const cases: [LedgerResultCode, Uint8Array, boolean, bigint][] = [
    ["wrong_chain", wrongChain, true, t],
    ["unknown_account", sign(nobody, 0n, { kind: "burn", amount: 1n }), true, t],
    ["bad_signature", sign(alice, 1n, { kind: "burn", amount: 2n }), false, t],
    ["account_exists", sign(bob, 0n, { kind: "create_account", name: "bobby", publicKey: bob.publicKey }), true, t],
    ["nonce_too_low", sign(alice, 0n, { kind: "burn", amount: 3n }), true, t],
    ["nonce_too_high", sign(alice, 2n, { kind: "burn", amount: 4n }), true, t],
    ["time_regressed", sign(alice, 1n, { kind: "burn", amount: 5n }), true, t - 1n],
    ["not_authorized", sign(alice, 1n, { kind: "mint", to: alice.id, amount: 1n }), true, t],
    ["config_locked", sign(feeAdmin, 0n, { kind: "configure_fees", fees: defaultFeeParams() }), true, t + 10n],
    [
      "already_locked",
      sign(governance, 1n, { kind: "immutable_lock", configHash: new Uint8Array(32), gracePeriodMs: 0n }),
      true,
      t,
    ],
    ["name_taken", sign(carol, 0n, { kind: "create_account", name: "alice", publicKey: carol.publicKey }), true, t],
    ["unknown_recipient", sign(alice, 1n, { kind: "transfer", to: nobody.id, amount: 1n, memo }), true, t],
    [
      "attestation_expired",
      sign(verifier, 0n, { kind: "attest_agent", agent: alice.id, proofDigest: new Uint8Array(32), expiryMs: t }),
      true,
      t,
    ],
    ["not_attested", sign(verifier, 0n, { kind: "revoke_agent", agent: alice.id }), true, t],
    ["amount_overflow", sign(master, 1n, { kind: "mint", to: alice.id, amount: (1n << 64n) - 1n }), true, t],
    ["supply_cap_exceeded", sign(master, 1n, { kind: "mint", to: alice.id, amount: 901n * RUV }), true, t],
    [
      "fee_exceeds_max_fee",
      sign(alice, 1n, { kind: "transfer", to: bob.id, amount: 100n * RUV, memo }, 99_999n),
      true,
      t,
    ],
    ["insufficient_funds", sign(alice, 1n, { kind: "transfer", to: bob.id, amount: 100n * RUV, memo }), true, t],
  ];
  const seen = new Set<string>();
  for (const [code, tx, signatureOk, time] of cases) {
    const before = ledger.stateHash();
    // The dry run decides the same and changes nothing.
    const dry = ledger.check(tx, time, signatureOk);
    assert.equal(dry.code, code, dry.message);
    assert.deepEqual(ledger.stateHash(), before, `the dry run of ${code} changed the state`);
    // Applied on a copy: a refusal after the nonce check consumes the nonce, nothing else.
    using copy = Ledger.import(ledger.export());
    const signer = copy.prepare(tx).account;
    const nonceBefore = copy.account(signer)?.nextNonce;
    const out = copy.apply(tx, at(time), signatureOk);
    assert.equal(out.code, code, out.message);
    assert.ok(out.message.length > 0);
    assert.equal(out.touched.length, dry.touched.length, code);
    if (out.touched.length > 0) {
      assert.match(out.message, /nonce \d+ is consumed$/);
      assert.equal(copy.account(signer)?.nextNonce, nonceBefore! + 1n);
      assert.equal(copy.status().supply, ledger.status().supply);
      for (const a of [alice, bob]) assert.equal(copy.balance(a.id), ledger.balance(a.id));
    } else {
      assert.deepEqual(copy.stateHash(), before, `${code} changed the state`);
    }
    const afterApply = copy.stateHash();
    const again = copy.apply(tx, at(time + 1n), true);
    assert.equal(again.duplicate, true);
    assert.equal(again.code, code);
    assert.deepEqual(copy.stateHash(), afterApply);
    assert.equal(copy.prepare(tx).receipt?.code, code);
    seen.add(code);
  }
  // Unlock, then the two governance refusals left.
  const override = sign(governance, 1n, { kind: "governance_override", configHash: new Uint8Array(32), reason: "x" });
  assert.equal(ledger.apply(override, at(t), true).code, "ok");
  const again = sign(governance, 2n, { kind: "governance_override", configHash: new Uint8Array(32), reason: "y" });
  assert.equal(ledger.apply(again, at(t), true).code, "not_locked");
  seen.add("not_locked");
  const badHash = sign(governance, 3n, { kind: "immutable_lock", configHash: new Uint8Array(32), gracePeriodMs: 0n });
  assert.equal(ledger.apply(badHash, at(t), true).code, "config_hash_mismatch");
  seen.add("config_hash_mismatch");
  assert.deepEqual([...LEDGER_REFUSAL_CODES].filter((c) => !seen.has(c)), []);
  assert.equal(ledger.status().audit.map((a) => a.action).join(","), "lock,override");
});

Deno.test("Ledger calls with a broken contract throw CoreError, not refusals", () => {
  const [fees, master, feeAdmin, verifier, governance] = [1, 2, 3, 4, 5].map(fakeKey);
  const g = genesisFor({ fees, master, feeAdmin, verifier, governance });
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof CoreError);
      return error.code;
    }
    assert.fail("expected a CoreError");
  };
  assert.equal(
    codeOf(() => Ledger.genesis({ ...g, roles: { ...g.roles, governance: new Uint8Array(32) } })),
    "invalid_input",
  );
  assert.equal(codeOf(() => Ledger.genesis({ ...g, fees: { ...g.fees, timeConstantMs: 0n } })), "invalid_fee_params");
  assert.equal(codeOf(() => Ledger.import(new Uint8Array(10))), "invalid_input");
  const ledger = Ledger.genesis(g);
  assert.equal(codeOf(() => ledger.apply(new Uint8Array(3), at(T0), true)), "unknown_version");
  assert.equal(codeOf(() => ledger.feeQuote(new Uint8Array(32), 1n, T0)), "unknown_account");
  assert.equal(ledger.account(new Uint8Array(32)), undefined);
  assert.equal(ledger.accountByName("nobody"), undefined);
  assert.equal(ledger.accountIds().length, 5);
  ledger.free();
  assert.equal(codeOf(() => ledger.stateHash()), "invalid_input");
});

// ---------------------------------------------------------------- order independence

/** xorshift32: seeded, so a failure names its seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

Deno.test("Ledger state hash depends on the accepted set, not the causal order it arrived in", () => {
  const [fees, master, feeAdmin, verifier, governance] = [1, 2, 3, 4, 5].map(fakeKey);
  const users = [20, 21, 22, 23].map(fakeKey);
  const g = genesisFor({ fees, master, feeAdmin, verifier, governance });
  const CASES = 30;
  const ORDERS = 4;
  let applied = 0;
  for (let seed = 1; seed <= CASES; seed++) {
    const rand = rng(seed);
    // A random DAG: vertex v has 1-2 parents among the 4 before it.
    const n = 12 + rand(10);
    const parents: number[][] = [];
    const ancestors: Set<number>[] = [];
    const times: bigint[] = [];
    const txs: Uint8Array[][] = [];
    const nonces = new Map<string, bigint>();
    const next = (k: { id: Uint8Array }) => {
      const key = hex(k.id);
      const v = nonces.get(key) ?? 0n;
      nonces.set(key, v + 1n);
      return v;
    };
    const memo = new Uint8Array();
    for (let v = 0; v < n; v++) {
      const ps = v === 0 ? [] : [...new Set([v - 1 - rand(Math.min(v, 4)), v - 1 - rand(Math.min(v, 4))])];
      parents.push(ps);
      const anc = new Set<number>();
      let time = T0 + MINUTE_MS;
      for (const p of ps) {
        anc.add(p);
        for (const a of ancestors[p]) anc.add(a);
        if (times[p] > time) time = times[p];
      }
      ancestors.push(anc);
      times.push(time + BigInt(rand(1000)) * MINUTE_MS);
      const list: Uint8Array[] = [];
      if (v < users.length) {
        const u = users[v];
        list.push(sign(u, next(u), { kind: "create_account", name: `user${rand(3)}`, publicKey: u.publicKey }));
        list.push(sign(master, next(master), { kind: "mint", to: u.id, amount: BigInt(1 + rand(1000)) * RUV }));
      } else {
        for (let k = rand(4); k > 0; k--) {
          const from = users[rand(users.length)];
          const to = users[rand(users.length)];
          list.push(sign(from, next(from), { kind: "transfer", to: to.id, amount: BigInt(1 + rand(500)) * RUV, memo }));
        }
      }
      txs.push(list);
    }
    let expected: string | undefined;
    for (let o = 0; o < ORDERS; o++) {
      using ledger = Ledger.genesis(g);
      const done = new Set<number>();
      while (done.size < n) {
        const ready = [...Array(n).keys()].filter((v) => !done.has(v) && [...ancestors[v]].every((a) => done.has(a)));
        const v = ready[rand(ready.length)];
        const concurrent = [...done].filter((d) => !ancestors[v].has(d)).map((d) => vertexId(BigInt(d)));
        for (const tx of txs[v]) {
          // Every other order names each transaction's id, as a node does from its decoded vertex: the same state.
          const id = o % 2 === 1 ? blake3(tx) : undefined;
          const out = ledger.apply(tx, { vertex: vertexId(BigInt(v)), timeMs: times[v], concurrent }, true, id);
          if (id !== undefined) assert.deepEqual(out.id, id);
          if (o === 0 && out.code === "ok") applied++;
        }
        done.add(v);
      }
      const status = ledger.status();
      let sum = 0n;
      for (const id of ledger.accountIds()) sum += ledger.balance(id);
      assert.equal(sum, status.supply, `seed ${seed}: sum of balances is not minted - burned`);
      const hash = hex(ledger.stateHash());
      if (expected === undefined) expected = hash;
      assert.equal(hash, expected, `seed ${seed}: order ${o} reached another state`);
    }
  }
  assert.ok(applied > CASES * 5, `only ${applied} transactions applied`);
});

Deno.test("Ledger.prepare() and check() with the transaction's id answer as without it, and take the id given", () => {
  const [fees, master, feeAdmin, verifier, governance] = [1, 2, 3, 4, 5].map(fakeKey);
  const alice = fakeKey(20);
  using ledger = Ledger.genesis(genesisFor({ fees, master, feeAdmin, verifier, governance }));
  const create = sign(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey });
  const mint = sign(master, 0n, { kind: "mint", to: alice.id, amount: 5n * RUV });
  const id = blake3(mint);
  assert.deepEqual(ledger.prepare(mint, id), ledger.prepare(mint));
  assert.deepEqual(ledger.check(create, T0 + 1n, true, blake3(create)), ledger.check(create, T0 + 1n, true));
  assert.deepEqual(ledger.check(mint, T0 + 1n, true, id), ledger.check(mint, T0 + 1n, true));
  // The core takes the id it is given (it gave it to the caller for these bytes): it does not hash them again.
  const other = new Uint8Array(32).fill(7);
  assert.deepEqual(ledger.prepare(mint, other).id, other);
  assert.throws(
    () => ledger.prepare(mint, new Uint8Array(31)),
    (e) => e instanceof CoreError && e.code === "invalid_input",
  );
});

// ---------------------------------------------------------------- wide concurrent sets, cuts

Deno.test("Ledger.apply() takes a carrier concurrent to 4,096 state-changing vertices", () => {
  const [fees, master, feeAdmin, verifier, governance] = [1, 2, 3, 4, 5].map(fakeKey);
  const [alice, bob] = [10, 11].map(fakeKey);
  using ledger = Ledger.genesis(genesisFor({ fees, master, feeAdmin, verifier, governance }));
  const memo = new Uint8Array();
  const root = vertexId(-1n);
  for (
    const tx of [
      sign(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey }),
      sign(bob, 0n, { kind: "create_account", name: "bob", publicKey: bob.publicKey }),
      sign(master, 0n, { kind: "mint", to: bob.id, amount: 100n * RUV }),
    ]
  ) {
    assert.equal(ledger.apply(tx, { vertex: root, timeMs: T0 }, true).code, "ok");
  }
  // A chain of 4,096 vertices on top of the root, each minting one unit to alice.
  const WIDE = 4_096;
  const chain: Uint8Array[] = [];
  for (let i = 1; i <= WIDE; i++) {
    const vertex = vertexId(BigInt(i));
    const mint = sign(master, BigInt(i), { kind: "mint", to: alice.id, amount: 1n });
    assert.equal(ledger.apply(mint, { vertex, timeMs: T0 + BigInt(i) }, true).code, "ok");
    chain.push(vertex);
  }
  assert.equal(ledger.balance(alice.id), BigInt(WIDE));
  // A carrier on the root only: the whole chain is concurrent, so alice has nothing in its past.
  const carrier = { vertex: vertexId(-2n), timeMs: T0 + MINUTE_MS, concurrent: chain };
  const spend = ledger.apply(sign(alice, 1n, { kind: "transfer", to: bob.id, amount: 1n, memo }), carrier, true);
  assert.equal(spend.code, "insufficient_funds", spend.message);
  const gift = ledger.apply(sign(bob, 1n, { kind: "transfer", to: alice.id, amount: RUV, memo }), carrier, true);
  assert.equal(gift.code, "ok", gift.message);
  assert.equal(ledger.status().journalVertices, WIDE + 2);

  // The cut at the root and the first half of the chain: what a ledger that applied only those holds.
  const kept = WIDE / 2;
  const excluded = [...chain.slice(kept), carrier.vertex];
  using alone = Ledger.genesis(genesisFor({ fees, master, feeAdmin, verifier, governance }));
  for (
    const tx of [
      sign(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey }),
      sign(bob, 0n, { kind: "create_account", name: "bob", publicKey: bob.publicKey }),
      sign(master, 0n, { kind: "mint", to: bob.id, amount: 100n * RUV }),
    ]
  ) {
    alone.apply(tx, { vertex: root, timeMs: T0 }, true);
  }
  for (let i = 1; i <= kept; i++) {
    const mint = sign(master, BigInt(i), { kind: "mint", to: alice.id, amount: 1n });
    alone.apply(mint, { vertex: chain[i - 1], timeMs: T0 + BigInt(i) }, true);
  }
  const cut = ledger.cutHashes(excluded);
  assert.deepEqual(cut.stateHash, alone.stateHash());
  assert.deepEqual(cut, alone.cutHashes([]));
  assert.equal(cut.journalVertices, kept + 1);
  using restored = Ledger.import(ledger.cutSnapshot(excluded));
  assert.deepEqual(restored.stateHash(), alone.stateHash());
  assert.equal(restored.status().resultCount, 0);
  assert.equal(ledger.balance(alice.id), BigInt(WIDE) + RUV, "cutting changed the ledger");
});

Deno.test("Ledger.cutHashes() and cutSnapshot() give the state of a ledger that applied only the kept vertices", () => {
  const [fees, master, feeAdmin, verifier, governance] = [1, 2, 3, 4, 5].map(fakeKey);
  const [alice, bob, carol] = [10, 11, 12].map(fakeKey);
  const g = genesisFor({ fees, master, feeAdmin, verifier, governance });
  const memo = new Uint8Array();
  const newFees = { ...defaultFeeParams(), fMinPpb: 2_000_000 };
  using probe = Ledger.genesis({ ...g, fees: newFees });
  const lockedHash = probe.status().configHash;
  // v0 <- v1 <- v2 <- v4 and v0 <- v3 <- v4: v3 is concurrent to v1 and v2.
  const v = [0n, 1n, 2n, 3n, 4n].map(vertexId);
  const time = (i: number) => T0 + BigInt(i) * DAY_MS;
  const txs: Uint8Array[][] = [
    [
      sign(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey }),
      sign(bob, 0n, { kind: "create_account", name: "bob", publicKey: bob.publicKey }),
      sign(master, 0n, { kind: "mint", to: alice.id, amount: 1_000n * RUV }),
    ],
    [
      sign(alice, 1n, { kind: "transfer", to: bob.id, amount: 10n * RUV, memo }),
      sign(feeAdmin, 0n, { kind: "configure_fees", fees: newFees }),
    ],
    [
      sign(governance, 0n, { kind: "immutable_lock", configHash: lockedHash, gracePeriodMs: DAY_MS }),
      sign(bob, 1n, { kind: "transfer", to: alice.id, amount: RUV, memo }),
      sign(alice, 2n, { kind: "transfer", to: bob.id, amount: 5n * RUV, memo }),
    ],
    [
      sign(carol, 0n, { kind: "create_account", name: "carol", publicKey: carol.publicKey }),
      sign(master, 1n, { kind: "mint", to: carol.id, amount: 7n * RUV }),
    ],
    [
      sign(verifier, 0n, { kind: "attest_agent", agent: bob.id, proofDigest: new Uint8Array(32), expiryMs: time(9) }),
      sign(carol, 1n, { kind: "burn", amount: RUV }),
      sign(alice, 3n, { kind: "transfer", to: carol.id, amount: 2n * RUV, memo }),
    ],
  ];
  const applyVertex = (ledger: Ledger, i: number, concurrent: number[]) => {
    for (const tx of txs[i]) {
      const out = ledger.apply(tx, { vertex: v[i], timeMs: time(i), concurrent: concurrent.map((c) => v[c]) }, true);
      assert.equal(out.code, "ok", out.message);
    }
  };
  using full = Ledger.genesis(g);
  applyVertex(full, 0, []);
  applyVertex(full, 1, []);
  applyVertex(full, 3, [1]);
  applyVertex(full, 2, [3]);
  applyVertex(full, 4, []);
  full.settle([v[0]]);
  assert.equal(full.prepare(txs[0][0]).receipt, undefined, "settling drops the receipts its vertex carried");
  assert.equal(full.status().appliedVertices, 4);
  const fullHash = full.stateHash();

  // K = {v0, v1, v3} (downward closed): v2 and v4 excluded.
  const excluded = [v[2], v[4]];
  using alone = Ledger.genesis(g);
  applyVertex(alone, 0, []);
  applyVertex(alone, 3, []);
  applyVertex(alone, 1, [3]);
  alone.settle([v[0]]);
  const cut = full.cutHashes(excluded);
  assert.deepEqual(cut, alone.cutHashes([]));
  assert.deepEqual(cut.stateHash, alone.stateHash());
  assert.equal(cut.journalVertices, 2);
  assert.notDeepEqual(cut.stateHash, fullHash);

  // The snapshot imports to that state, without receipts, and replaying the excluded vertices gives the full state.
  using restored = Ledger.import(full.cutSnapshot(excluded));
  assert.deepEqual(restored.stateHash(), alone.stateHash());
  assert.deepEqual(restored.cutHashes([]), cut);
  assert.equal(restored.status().resultCount, 0);
  assert.equal(restored.status().lock, undefined);
  assert.equal(restored.account(bob.id)?.attestation, undefined);
  assert.equal(restored.accountByName("carol")?.balance, 7n * RUV);
  applyVertex(restored, 2, [3]);
  applyVertex(restored, 4, []);
  assert.deepEqual(restored.stateHash(), fullHash);
  assert.deepEqual(full.stateHash(), fullHash, "cutting changed the ledger");
  assert.throws(() => full.cutHashes([new Uint8Array(31)]), /excluded\[0\] must be a 32-byte id/);
});
