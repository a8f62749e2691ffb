import assert from "node:assert/strict";
import type { Decision } from "../consensus/mod.ts";
import { blake3 } from "../core/mod.ts";
import { fromHex, toHex } from "../keys/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { MemoryStorage, SqliteStorage, StorageError } from "../storage/mod.ts";
import { acceptedTxSum, DecisionLog } from "./decision_log.ts";

const id = (n: number) => n.toString(16).padStart(64, "0");
const tx = (n: number, status: "accepted" | "rejected" = "accepted"): Decision => ({
  kind: "tx",
  id: id(n),
  status,
  rounds: 1,
});
const vertex = (n: number): Decision => ({ kind: "vertex", id: id(n), status: "accepted", rounds: 1 });
const nextTurn = () => new Promise((r) => setTimeout(r, 5));

function sumOf(ns: number[]): string {
  let s = 0n;
  for (const n of ns) s += BigInt(`0x${toHex(blake3(fromHex(id(n))))}`);
  return (s % (1n << 256n)).toString(16).padStart(64, "0");
}

Deno.test("DecisionLog: the decisions of one turn share one commit and are reported after its sync, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qudag-decisions-" });
  const storage = SqliteStorage.open({ dataDir: dir });
  try {
    // Whether each outermost transaction asked to be durable (the writes inside it nest).
    const durable: boolean[] = [];
    let depth = 0;
    const transaction = storage.transaction.bind(storage);
    storage.transaction = <T>(fn: () => T, options?: { durable?: boolean; grouped?: boolean }): T => {
      if (depth === 0) durable.push(options?.durable === true);
      depth++;
      try {
        return transaction(fn, options);
      } finally {
        depth--;
      }
    };
    const reported: Decision[][] = [];
    const log = new DecisionLog({
      storage,
      logger: silentLogger,
      nowMs: () => 7,
      onDurable: (ds) => {
        // Told only once the decisions are in storage.
        for (const d of ds) assert(storage.getDecision(d.id) !== null);
        reported.push([...ds]);
      },
    });
    log.add([tx(1), vertex(2)]);
    log.add([tx(3, "rejected")]);
    assert(log.has(id(1)) && log.has(id(3)));
    assert.deepEqual(storage.getDecision(id(1)), null);
    assert.deepEqual(reported, []);
    // Committed by the timer without waiting for the disk, then reported once the WAL sync (on a thread) is done.
    for (let i = 0; i < 100 && reported.length === 0; i++) await nextTurn();
    assert.deepEqual(durable, [false]);
    assert.deepEqual(reported, [[tx(1), vertex(2), tx(3, "rejected")]]);
    assert.deepEqual(log.has(id(1)), false);
    assert.deepEqual(log.waiting, 0);
    assert.deepEqual(storage.getDecision(id(2)), { id: id(2), subject: "vertex", status: "accepted", decidedAtMs: 7 });
    assert.deepEqual(acceptedTxSum(storage), sumOf([1]));
    assert.deepEqual(log.stats, { commits: 1, decisions: 3, failures: 0 });
    log.stop();
  } finally {
    storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DecisionLog: the accumulator counts each accepted transaction once, across commits and repeats", () => {
  const storage = new MemoryStorage();
  const log = new DecisionLog({ storage, logger: silentLogger, nowMs: () => 1, onDurable: () => {} });
  log.add([tx(1), tx(2)]);
  log.flush();
  // A restart reports stored decisions again, and one turn may hold a decision twice.
  log.add([tx(2), tx(4), tx(4), tx(5, "rejected")]);
  log.flush();
  assert.deepEqual(acceptedTxSum(storage), sumOf([1, 2, 4]));
  log.stop();
});

Deno.test("DecisionLog: preference changes ride in the decisions' commit, or in one of their own; a failed one keeps them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qudag-decisions-" });
  let storage = SqliteStorage.open({ dataDir: dir });
  try {
    const reported: Decision[][] = [];
    const log = new DecisionLog({
      storage,
      logger: silentLogger,
      nowMs: () => 1,
      onDurable: (ds) => reported.push([...ds]),
    });
    log.add([tx(1)]);
    log.addPreferences([{ conflictKey: "acct:1", member: "a@v1" }, { conflictKey: "acct:2", member: "b@v1" }]);
    await nextTurn();
    assert.deepEqual(reported, [[tx(1)]]);
    assert.equal(log.stats.commits, 1);
    // Preferences alone: committed too, and nothing is reported for them.
    log.addPreferences([{ conflictKey: "acct:1", member: null }, { conflictKey: "acct:2", member: "c@v2" }]);
    await nextTurn();
    assert.deepEqual(reported, [[tx(1)]]);
    // A failed commit keeps them for the next one.
    const transaction = storage.transaction.bind(storage);
    let failures = 1;
    storage.transaction = <T>(fn: () => T, options?: { durable?: boolean; grouped?: boolean }): T => {
      if (failures-- > 0) throw new StorageError("storage_io", "disk full");
      return transaction(fn, options);
    };
    log.addPreferences([{ conflictKey: "acct:3", member: "d@v3" }]);
    assert.throws(() => log.flush(), (e) => e instanceof StorageError && e.code === "storage_io");
    log.stop();
    storage.close();
    // What a restart reads back.
    storage = SqliteStorage.open({ dataDir: dir });
    assert.deepEqual(storage.preferences(), [
      { conflictKey: "acct:2", member: "c@v2" },
      { conflictKey: "acct:3", member: "d@v3" },
    ]);
  } finally {
    storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DecisionLog: a failed commit reports nothing, keeps the decisions and succeeds on its retry", async () => {
  const storage = new MemoryStorage();
  let failures = 1;
  const transaction = storage.transaction.bind(storage);
  storage.transaction = <T>(fn: () => T, options?: { durable?: boolean; grouped?: boolean }): T => {
    if (failures-- > 0) throw new StorageError("storage_io", "disk full");
    return transaction(fn, options);
  };
  const reported: Decision[] = [];
  const log = new DecisionLog({
    storage,
    logger: silentLogger,
    nowMs: () => 1,
    retryMs: 10,
    onDurable: (ds) => reported.push(...ds),
  });
  log.add([tx(1)]);
  assert.throws(() => log.flush(), (e) => e instanceof StorageError && e.code === "storage_io");
  assert.deepEqual(reported, []);
  assert(log.has(id(1)));
  assert.deepEqual(storage.getDecision(id(1)), null);
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(reported, [tx(1)]);
  assert.deepEqual(log.stats, { commits: 1, decisions: 1, failures: 1 });
  log.stop();
});

Deno.test("DecisionLog: stop commits what waits and schedules nothing more", () => {
  const storage = new MemoryStorage();
  const reported: Decision[] = [];
  const log = new DecisionLog({
    storage,
    logger: silentLogger,
    nowMs: () => 1,
    onDurable: (ds) => reported.push(...ds),
  });
  log.add([vertex(9)]);
  log.stop();
  assert.deepEqual(reported, [vertex(9)]);
  assert.deepEqual(storage.getDecision(id(9))?.status, "accepted");
});

Deno.test("DecisionLog: after a commit, the next waits out the interval and takes everything decided meanwhile", async () => {
  const storage = new MemoryStorage();
  const reported: Decision[][] = [];
  const log = new DecisionLog({
    storage,
    logger: silentLogger,
    nowMs: () => performance.now(),
    intervalMs: 100,
    onDurable: (ds) => reported.push([...ds]),
  });
  log.add([tx(1)]);
  await nextTurn();
  assert.deepEqual(reported, [[tx(1)]], "a quiet node commits at once");
  log.add([tx(2)]);
  await nextTurn();
  log.add([tx(3)]);
  await nextTurn();
  assert.deepEqual(reported.length, 1, "within the interval: waiting");
  assert(log.has(id(2)) && log.has(id(3)));
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(reported, [[tx(1)], [tx(2), tx(3)]]);
  log.stop();
});

/** A log over a store whose WAL syncs wait until the test ends them (`syncs[i].resolve()` / `.reject()`). */
function storeWithHeldSyncs() {
  const storage = new MemoryStorage();
  const syncs: PromiseWithResolvers<void>[] = [];
  const durable: boolean[] = [];
  storage.syncCommitted = () => {
    const s = Promise.withResolvers<void>();
    syncs.push(s);
    return s.promise;
  };
  const transaction = storage.transaction.bind(storage);
  storage.transaction = <T>(fn: () => T, options?: { durable?: boolean; grouped?: boolean }): T => {
    durable.push(options?.durable === true);
    return transaction(fn, options);
  };
  const reported: Decision[][] = [];
  const log = new DecisionLog({
    storage,
    logger: silentLogger,
    nowMs: () => performance.now(),
    intervalMs: 0,
    retryMs: 10,
    onDurable: (ds) => reported.push([...ds]),
  });
  return { storage, syncs, durable, reported, log };
}

Deno.test("DecisionLog: a commit is reported only when its sync is done; a later sync reports the earlier ones too", async () => {
  const { storage, syncs, durable, reported, log } = storeWithHeldSyncs();
  log.add([tx(1)]);
  await nextTurn();
  log.add([tx(2)]);
  await nextTurn();
  assert.deepEqual(durable, [false, false], "two commits, neither waiting for the disk");
  assert.equal(syncs.length, 2);
  assert.deepEqual(storage.getDecision(id(1))?.status, "accepted", "written");
  assert.deepEqual(reported, [], "not synced: not told");
  assert(log.has(id(1)) && log.has(id(2)));
  syncs[1].resolve();
  await nextTurn();
  assert.deepEqual(reported, [[tx(1)], [tx(2)]], "the second sync carries the first commit too, reported first");
  assert(!log.has(id(1)) && !log.has(id(2)));
  syncs[0].resolve();
  await nextTurn();
  assert.equal(reported.length, 2, "nothing twice");
  log.stop();
});

Deno.test("DecisionLog: flush() commits durably and reports the commits still syncing first, in order", async () => {
  const { syncs, durable, reported, log } = storeWithHeldSyncs();
  log.add([tx(1)]);
  await nextTurn();
  log.add([tx(2)]);
  log.flush();
  assert.deepEqual(durable, [false, true]);
  assert.deepEqual(reported, [[tx(1)], [tx(2)]]);
  syncs[0].resolve();
  await nextTurn();
  assert.equal(reported.length, 2);
  // Only a commit still syncing: flush() still makes one durable commit, which carries it.
  log.add([tx(3)]);
  await nextTurn();
  log.flush();
  assert.deepEqual(durable, [false, true, false, true]);
  assert.deepEqual(reported.at(-1), [tx(3)]);
  log.stop();
});

Deno.test("DecisionLog: a failed sync is followed by a durable commit that reports the decisions", async () => {
  const { syncs, durable, reported, log } = storeWithHeldSyncs();
  log.add([tx(1)]);
  await nextTurn();
  syncs[0].reject(new StorageError("storage_io", "sync failed"));
  await nextTurn();
  assert.deepEqual(reported, [], "not known to be on disk");
  assert(log.has(id(1)));
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(durable, [false, true]);
  assert.deepEqual(reported, [[tx(1)]]);
  assert(!log.has(id(1)));
  log.stop();
});

Deno.test("DecisionLog: when the durable commit after a failed sync fails too, it is retried durably", async () => {
  const { storage, syncs, durable, reported, log } = storeWithHeldSyncs();
  const transaction = storage.transaction.bind(storage);
  let durableFailures = 1;
  storage.transaction = <T>(fn: () => T, options?: { durable?: boolean; grouped?: boolean }): T => {
    if (options?.durable && durableFailures-- > 0) {
      durable.push(true);
      throw new StorageError("storage_io", "disk full");
    }
    return transaction(fn, options);
  };
  log.add([tx(1)]);
  await nextTurn();
  syncs[0].reject(new StorageError("storage_io", "sync failed"));
  for (let i = 0; i < 20 && reported.length === 0; i++) await nextTurn();
  assert.deepEqual(durable, [false, true, true], "no sync in between: nothing new to commit");
  assert.deepEqual(reported, [[tx(1)]]);
  log.stop();
});
