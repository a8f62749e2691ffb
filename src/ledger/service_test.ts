import assert from "node:assert/strict";
import {
  blake3,
  encodeTransaction,
  Ledger,
  ML_DSA_87_PUBLIC_KEY_BYTES,
  ML_DSA_87_SIGNATURE_BYTES,
  type TransactionPayload,
  type UnsignedTransaction,
  validateTransaction,
} from "../core/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { MemoryStorage, type Storage } from "../storage/mod.ts";
import {
  CHAIN,
  DagWriter,
  MINUTE_MS,
  realKey,
  roleKeys,
  RUV,
  seedFlowTransactions,
  seedGenesis,
  signTx,
  T0,
  verifyAsync,
} from "./_testing.ts";
import { type AsyncSignatureVerifier, LedgerService } from "./mod.ts";

function service(storage: Storage, verify: AsyncSignatureVerifier = verifyAsync, registry = new Registry()) {
  return new LedgerService({ genesis: seedGenesis(), storage, verify, logger: silentLogger, registry });
}

function configHash(): Uint8Array {
  using l = Ledger.genesis(seedGenesis());
  return l.status().configHash;
}

/** A DAG of the seed flow in storage, applied by a live service as consensus reports each decision. */
async function seeded() {
  const storage = new MemoryStorage();
  const registry = new Registry();
  const live = service(storage, verifyAsync, registry);
  const writer = new DagWriter(storage);
  const steps = seedFlowTransactions(configHash());
  const ids: string[] = [];
  for (const [i, step] of steps.entries()) {
    const id = writer.vertex(ids.length ? [ids[ids.length - 1]] : [], [step.tx], T0 + BigInt(i + 2) * MINUTE_MS);
    ids.push(id);
    await live.onDecisions(writer.accept(id));
  }
  return { storage, registry, live, writer, ids, steps };
}

Deno.test("LedgerService applies the seed flow to the unit, as consensus reports decisions", async () => {
  const { live, registry, ids, steps } = await seeded();
  const k = roleKeys();
  const [treasury, alice, bob] = [realKey(10), realKey(11), realKey(12)];
  try {
    // Same figures as src/core/ledger_test.ts and wasm/src/ledger/tests.rs.
    const a = live.receipt(blake3Tx(steps[4].tx))!;
    const b = live.receipt(blake3Tx(steps[5].tx))!;
    assert.deepEqual([a.code, a.ratePpb, a.fee], ["ok", 1_000_000, 50n * RUV]);
    assert.deepEqual([b.code, b.ratePpb, b.fee], ["ok", 1_000_344, 30_010_320n]);
    assert.equal(b.vertex.toHex(), ids[5]);
    assert.equal(live.balance(alice.id), 50_000n * RUV);
    assert.equal(live.balance(bob.id.toHex()), 30_000n * RUV);
    assert.equal(live.balance(k.fees.id), 80_010_320n);
    assert.equal(live.balance(treasury.id), 9_919_919_989_680n);
    assert.equal(live.account("genesis-treasury")?.balance, 9_919_919_989_680n);
    assert.equal(live.account(alice.id.toHex())?.name, "alice");
    assert.ok(live.account("alice")?.attestation);
    for (const s of steps) assert.equal(live.receipt(blake3Tx(s.tx))?.code, "ok", s.name);

    const status = live.status();
    const lockTime = T0 + 10n * MINUTE_MS;
    assert.equal(status.lock?.lockedMs, lockTime);
    assert.equal(status.lock?.graceEndMs, lockTime + 86_400_000n);
    assert.equal(status.audit.length, 1);
    assert.equal(status.supply, 10_000_000n * RUV);
    assert.equal(status.accountCount, 8);
    // Alice is verified: the verified curve.
    const q = live.feeQuote(alice.id, 1_000n * RUV, lockTime + MINUTE_MS);
    assert.deepEqual([q.verified, q.ratePpb], [true, 2_500_135]);

    const text = registry.render();
    assert.match(text, /qudag_ledger_transactions_total\{result="ok"\} 9/);
    assert.match(text, /qudag_ledger_supply_units 10000000000000/);
    assert.match(text, /qudag_ledger_accounts 8/);
    assert.equal(live.appliedVertices, 9);
  } finally {
    live.close();
  }
});

function blake3Tx(tx: Uint8Array): string {
  return blake3(tx).toHex();
}

Deno.test("LedgerService.restore() from storage reaches the live service's state hash and receipts", async () => {
  const { live, storage, steps } = await seeded();
  const restarted = service(storage);
  try {
    const summary = await restarted.restore();
    assert.equal(summary.vertices, 9);
    assert.equal(summary.transactions, 9);
    assert.equal(restarted.stateHash().toHex(), live.stateHash().toHex());
    for (const s of steps) {
      assert.deepEqual(restarted.receipt(blake3Tx(s.tx)), live.receipt(blake3Tx(s.tx)));
    }
    // Decisions the restore already applied may be reported again: nothing changes.
    await restarted.onDecisions(storage.allDecisions());
    assert.equal(restarted.stateHash().toHex(), live.stateHash().toHex());
    assert.equal(restarted.appliedVertices, 9);
    // A second restore starts from genesis again and ends at the same place.
    await restarted.restore();
    assert.equal(restarted.stateHash().toHex(), live.stateHash().toHex());
  } finally {
    live.close();
    restarted.close();
  }
});

Deno.test("LedgerService refuses a bad signature with bad_signature and changes nothing", async () => {
  const { live, writer, ids, registry } = await seeded();
  const [alice, bob] = [realKey(11), realKey(12)];
  try {
    const before = live.stateHash().toHex();
    const forged = signTx(alice, 1n, { kind: "transfer", to: bob.id, amount: RUV, memo: new Uint8Array() });
    forged[forged.length - 1] ^= 1;
    const id = writer.vertex([ids[ids.length - 1]], [forged], T0 + 20n * MINUTE_MS);
    await live.onDecisions(writer.accept(id));
    assert.equal(live.receipt(blake3Tx(forged))?.code, "bad_signature");
    assert.equal(live.stateHash().toHex(), before);
    assert.equal(live.account("alice")?.nextNonce, 1n);
    assert.match(registry.render(), /qudag_ledger_transactions_total\{result="bad_signature"\} 1/);
  } finally {
    live.close();
  }
});

Deno.test("LedgerService.check with the signer's key given answers as without it, refusal for refusal", async () => {
  const { live, steps } = await seeded();
  const [alice, bob, stranger] = [realKey(11), realKey(12), realKey(40)];
  const memo = new Uint8Array();
  const forge = (tx: Uint8Array) => {
    tx[tx.length - 1] ^= 1;
    return tx;
  };
  const at = Number(T0 + 30n * MINUTE_MS);
  try {
    const cases: [string, Uint8Array, Uint8Array, string][] = [
      ["ok", signTx(alice, 1n, { kind: "transfer", to: bob.id, amount: RUV, memo }), alice.publicKey, "ok"],
      [
        "forged",
        forge(signTx(alice, 1n, { kind: "transfer", to: bob.id, amount: RUV, memo })),
        alice.publicKey,
        "bad_signature",
      ],
      [
        "spent nonce",
        signTx(alice, 0n, { kind: "transfer", to: bob.id, amount: RUV, memo }),
        alice.publicKey,
        "nonce_too_low",
      ],
      [
        "unknown",
        signTx(stranger, 1n, { kind: "transfer", to: bob.id, amount: RUV, memo }),
        stranger.publicKey,
        "unknown_account",
      ],
      // The account's key is known here (a create_account on its way) but not to the ledger: unknown comes first.
      [
        "unknown, forged",
        forge(signTx(stranger, 1n, { kind: "transfer", to: bob.id, amount: RUV, memo })),
        stranger.publicKey,
        "unknown_account",
      ],
      [
        "exists",
        signTx(alice, 0n, { kind: "create_account", name: "alice2", publicKey: alice.publicKey }),
        alice.publicKey,
        "account_exists",
      ],
      ["applied before", steps[4].tx, realKey(10).publicKey, steps[4].name],
    ];
    for (const [name, tx, publicKey, code] of cases) {
      const info = validateTransaction(tx);
      const plain = await live.check(tx, at, info.id);
      const given = await live.check(tx, at, info.id, { publicKey, signingMessage: info.signingMessage });
      assert.deepEqual(given, plain, name);
      if (name === "applied before") assert.equal(given.duplicate, true, name);
      else assert.equal(given.code, code, name);
    }
  } finally {
    live.close();
  }
});

Deno.test("LedgerService verifies a transaction of an account created earlier in the same vertex", async () => {
  const storage = new MemoryStorage();
  const live = service(storage);
  const writer = new DagWriter(storage);
  const carol = realKey(13);
  try {
    const create = signTx(carol, 0n, { kind: "create_account", name: "carol", publicKey: carol.publicKey });
    const data = signTx(carol, 1n, { kind: "data", data: new Uint8Array([1, 2, 3]) });
    const id = writer.vertex([], [create, data], T0 + MINUTE_MS);
    await live.onDecisions(writer.accept(id));
    assert.equal(live.receipt(blake3Tx(create))?.code, "ok");
    assert.equal(live.receipt(blake3Tx(data))?.code, "ok");
    assert.equal(live.account("carol")?.nextNonce, 2n);
  } finally {
    live.close();
  }
});

Deno.test("LedgerService: a transaction verified before is applied without a second check, with the same outcome", async () => {
  const [carol, dave] = [realKey(13), realKey(14)];
  const create = signTx(carol, 0n, { kind: "create_account", name: "carol", publicKey: carol.publicKey });
  const data = signTx(carol, 1n, { kind: "data", data: new Uint8Array([1, 2, 3]) });
  // dave's account was never created: refused as unknown before any verdict is read.
  const stranger = signTx(dave, 0n, { kind: "data", data: new Uint8Array([4]) });
  const forged = signTx(carol, 2n, { kind: "data", data: new Uint8Array([5]) });
  forged[forged.length - 1] ^= 1;
  const remembered = new Set([create, stranger].map((t) => blake3Tx(t)));
  const run = async (withMemory: boolean) => {
    const storage = new MemoryStorage();
    const asked: string[] = [];
    const verify: AsyncSignatureVerifier = (pk, message, signature, txId) => {
      asked.push(txId);
      return verifyAsync(pk, message, signature);
    };
    const live = new LedgerService({
      genesis: seedGenesis(),
      storage,
      verify,
      verifiedBefore: withMemory ? (txId) => remembered.has(txId) : undefined,
      logger: silentLogger,
      registry: new Registry(),
    });
    try {
      const writer = new DagWriter(storage);
      const id = writer.vertex([], [create, data, stranger, forged], T0 + MINUTE_MS);
      await live.onDecisions(writer.accept(id));
      const codes = [create, data, stranger, forged].map((t) => live.receipt(blake3Tx(t))?.code);
      return { codes, hash: live.stateHash().toHex(), asked };
    } finally {
      live.close();
    }
  };
  const fresh = await run(false);
  const remembering = await run(true);
  assert.deepEqual(fresh.codes, ["ok", "ok", "unknown_account", "bad_signature"]);
  assert.deepEqual(remembering.codes, fresh.codes);
  assert.equal(remembering.hash, fresh.hash);
  // carol's data is verified with the key of the create_account before it in the vertex, which was not prepared.
  assert.deepEqual(remembering.asked.sort(), [data, forged].map((t) => blake3Tx(t)).sort());
});

Deno.test("LedgerService: two concurrent vertices give the same state in either acceptance order", async () => {
  const k = roleKeys();
  const [treasury, alice, bob] = [realKey(10), realKey(11), realKey(12)];
  const memo = new Uint8Array();
  const setup = [
    signTx(treasury, 0n, { kind: "create_account", name: "genesis-treasury", publicKey: treasury.publicKey }),
    signTx(k.master, 0n, { kind: "mint", to: treasury.id, amount: 1_000n * RUV }),
    signTx(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey }),
    signTx(bob, 0n, { kind: "create_account", name: "bob", publicKey: bob.publicKey }),
  ];
  // A: treasury pays alice; bob spends (he has nothing in A's past: refused in every order).
  const inA = [
    signTx(treasury, 1n, { kind: "transfer", to: alice.id, amount: 100n * RUV, memo }),
    signTx(bob, 1n, { kind: "transfer", to: alice.id, amount: 10n * RUV, memo }),
  ];
  // B: the master mints to alice, who pays bob from it.
  const inB = [
    signTx(k.master, 1n, { kind: "mint", to: alice.id, amount: 200n * RUV }),
    signTx(alice, 1n, { kind: "transfer", to: bob.id, amount: 50n * RUV, memo }),
  ];
  // D, after both: alice spends what A and B gave her together.
  const inD = [signTx(alice, 2n, { kind: "transfer", to: bob.id, amount: 200n * RUV, memo })];

  const run = async (order: "AB" | "BA") => {
    const storage = new MemoryStorage();
    const writer = new DagWriter(storage);
    const live = service(storage);
    const s = writer.vertex([], setup, T0 + MINUTE_MS);
    const a = writer.vertex([s], inA, T0 + 2n * MINUTE_MS);
    const b = writer.vertex([s], inB, T0 + 3n * MINUTE_MS);
    const d = writer.vertex([a, b], inD, T0 + 4n * MINUTE_MS);
    for (const v of [s, ...(order === "AB" ? [a, b] : [b, a]), d]) await live.onDecisions(writer.accept(v));
    const codes = [...setup, ...inA, ...inB, ...inD].map((tx) => live.receipt(blake3Tx(tx))?.code);
    const result = {
      hash: live.stateHash().toHex(),
      codes,
      fees: [...inA, ...inB, ...inD].map((tx) => live.receipt(blake3Tx(tx))?.fee),
      concurrent: { a: live.concurrentOf(a), b: live.concurrentOf(b), d: live.concurrentOf(d) },
      ids: { a, b },
      alice: live.balance(alice.id),
    };
    // The same storage replayed by a fresh service agrees.
    const again = service(storage);
    await again.restore();
    assert.equal(again.stateHash().toHex(), result.hash);
    again.close();
    live.close();
    return result;
  };
  const ab = await run("AB");
  const ba = await run("BA");
  assert.equal(ab.hash, ba.hash);
  assert.deepEqual(ab.codes, ba.codes);
  assert.deepEqual(ab.fees, ba.fees);
  assert.deepEqual(ab.codes, ["ok", "ok", "ok", "ok", "ok", "insufficient_funds", "ok", "ok", "ok"]);
  // Whichever came second saw the other as concurrent; D, after both, sees nothing concurrent.
  assert.deepEqual([ab.concurrent.a, ab.concurrent.b, ab.concurrent.d], [[], [ab.ids.a], []]);
  assert.deepEqual([ba.concurrent.a, ba.concurrent.b, ba.concurrent.d], [[ba.ids.b], [], []]);
  // 100 + 200 - 50 - fee(50) - 200 - fee(200)
  assert.equal(ab.alice, 50n * RUV - ab.fees[3]! - ab.fees[4]!);
});

Deno.test("LedgerService halts, without rejecting, when consensus accepted two transactions of one conflict key", async () => {
  const storage = new MemoryStorage();
  const registry = new Registry();
  const live = service(storage, verifyAsync, registry);
  const writer = new DagWriter(storage);
  const carol = realKey(13);
  try {
    const s = writer.vertex([], [
      signTx(carol, 0n, { kind: "create_account", name: "carol", publicKey: carol.publicKey }),
    ], T0 + MINUTE_MS);
    // Two concurrent vertices with carol's nonce 1: consensus must never accept both.
    const x = writer.vertex([s], [signTx(carol, 1n, { kind: "data", data: new Uint8Array([1]) })], T0 + 2n * MINUTE_MS);
    const y = writer.vertex([s], [signTx(carol, 1n, { kind: "data", data: new Uint8Array([2]) })], T0 + 3n * MINUTE_MS);
    const z = writer.vertex([x, y], [], T0 + 4n * MINUTE_MS);
    await live.onDecisions([...writer.accept(s), ...writer.accept(x), ...writer.accept(y), ...writer.accept(z)]);
    assert.match(live.halted?.message ?? "", /conflict key/);
    assert.equal(live.appliedVertices, 2);
    assert.match(registry.render(), /qudag_ledger_halted 1/);
    // A restore meets the same breach: it halts again, loudly, instead of serving a wrong state (and never throws).
    await live.restore();
    assert.equal(live.halted?.code, "ledger_core_fault");
    assert.match(live.halted?.message ?? "", /conflict key/);
  } finally {
    live.close();
  }
});

Deno.test("LedgerService halts on a vertex whose parent it never applied", async () => {
  const storage = new MemoryStorage();
  const live = service(storage);
  const writer = new DagWriter(storage);
  try {
    const s = writer.vertex([], [], T0 + MINUTE_MS);
    const c = writer.vertex([s], [], T0 + 2n * MINUTE_MS);
    await live.onDecisions(writer.accept(c));
    assert.match(live.halted?.message ?? "", new RegExp(`parent ${s}, never applied`));
    assert.equal(live.appliedVertices, 0);
  } finally {
    live.close();
  }
});

// ------------------------------------------------------------ random DAGs

/** A key with a random-looking public key and no secret: for tests whose verifier accepts everything. */
function fakeKey(n: number) {
  const publicKey = blake3(new TextEncoder().encode(`fake key ${n}`), ML_DSA_87_PUBLIC_KEY_BYTES);
  return { publicKey, id: blake3(publicKey) };
}

function fakeTx(key: { id: Uint8Array }, nonce: bigint, payload: TransactionPayload): Uint8Array {
  const unsigned = {
    chainId: CHAIN,
    account: key.id,
    nonce,
    timestampMs: 0n,
    maxFee: 1n << 40n,
    ...payload,
  } as UnsignedTransaction;
  return encodeTransaction({ ...unsigned, signature: new Uint8Array(ML_DSA_87_SIGNATURE_BYTES) });
}

/** xorshift32: a failure names its seed. */
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

Deno.test("LedgerService concurrent sets equal a brute-force ancestor walk on random DAGs, in any order", async () => {
  const yes: AsyncSignatureVerifier = () => Promise.resolve(true);
  const users = [30, 31, 32].map(fakeKey);
  let nonEmpty = 0;
  let refused = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const rand = rng(seed);
    const storage = new MemoryStorage();
    const writer = new DagWriter(storage);
    const n = 10 + rand(6);
    const ids: string[] = [];
    const ancestors: Set<string>[] = [];
    const nonces = [0n, 0n, 0n];
    const txsOf: Uint8Array[][] = [];
    for (let v = 0; v < n; v++) {
      const ps = v === 0 ? [] : [...new Set([ids[v - 1 - rand(Math.min(v, 4))], ids[v - 1 - rand(Math.min(v, 4))]])];
      const txs: Uint8Array[] = [];
      if (v < users.length) {
        txs.push(
          fakeTx(users[v], nonces[v]++, { kind: "create_account", name: `u${v}`, publicKey: users[v].publicKey }),
        );
      } else if (rand(3) > 0) {
        // Data transactions: each user's nonce chain runs through the DAG, so some are refused (nonce gaps).
        const u = rand(users.length);
        txs.push(fakeTx(users[u], nonces[u]++, { kind: "data", data: new Uint8Array([v]) }));
      }
      const id = writer.vertex(ps, txs, T0 + BigInt(v) * MINUTE_MS);
      writer.accept(id);
      ids.push(id);
      txsOf.push(txs);
      const anc = new Set<string>();
      for (const p of ps) {
        anc.add(p);
        for (const x of ancestors[ids.indexOf(p)]) anc.add(x);
      }
      ancestors.push(anc);
    }
    let expected: string | undefined;
    for (let o = 0; o < 4; o++) {
      const live = new LedgerService({
        genesis: seedGenesis(),
        storage,
        verify: yes,
        logger: silentLogger,
        registry: new Registry(),
      });
      const done: number[] = [];
      const facts = new Set<string>();
      while (done.length < n) {
        const ready = [...Array(n).keys()].filter((v) =>
          !done.includes(v) && [...ancestors[v]].every((a) => done.includes(ids.indexOf(a)))
        );
        const v = ready[rand(ready.length)];
        await live.onDecisions([{ id: ids[v], kind: "vertex", status: "accepted" }]);
        const brute = [...facts].filter((f) => !ancestors[v].has(f)).sort();
        assert.deepEqual(live.concurrentOf(ids[v]), brute, `seed ${seed} order ${o} vertex ${v}`);
        if (brute.length > 0) nonEmpty++;
        // A fact vertex: one of its transactions changed state here (first receipt ok, carried by it).
        for (const tx of txsOf[v]) {
          const r = live.receipt(blake3Tx(tx));
          if (r?.code === "ok" && r.vertex.toHex() === ids[v]) facts.add(ids[v]);
          else if (o === 0) refused++;
        }
        done.push(v);
      }
      const hash = live.stateHash().toHex();
      expected ??= hash;
      assert.equal(hash, expected, `seed ${seed}: order ${o} reached another state`);
      live.close();
    }
  }
  // The cases exercised something: concurrent fact vertices and refusals.
  assert.ok(nonEmpty > 20, `only ${nonEmpty} non-empty concurrent sets`);
  assert.ok(refused > 0, "no transaction was refused");
});
