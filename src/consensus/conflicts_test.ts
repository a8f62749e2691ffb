import assert from "node:assert/strict";
import { ConflictSet, stalledPollsToAdopt, stalledPollsToStall } from "./conflicts.ts";

// 4 validators: k 4, alpha 3, beta 5. k - alpha + 1 = 2 supporters favour a member.
const params = { k: 4, alphaPreference: 3, alphaConfidence: 3, beta: 5 };
const votes = (entries: Record<string, number>) => new Map(Object.entries(entries));

/** A set preferring "b" with strength 1 (as a node that won a poll for b before it heard of a). */
function splitMinority(): ConflictSet {
  const set = new ConflictSet(params, "k");
  set.add("b");
  set.recordPoll(votes({ b: 3 }));
  set.add("a");
  assert.equal(set.preference(), "b");
  return set;
}

Deno.test("a 2-1 split with a silent validator is broken after stalledPollsToAdopt polls favouring the other side", () => {
  const set = splitMinority();
  const needed = stalledPollsToAdopt(params);
  for (let i = 0; i < needed - 1; i++) set.recordPoll(votes({ a: 2, b: 1 }));
  assert.equal(set.preference(), "b", "not before the count is reached");
  set.recordPoll(votes({ a: 2, b: 1 }));
  assert.equal(set.preference(), "a");
  assert.equal(set.stallsBroken, 1);
  // Finality still needs beta confident polls for the adopted member.
  for (let i = 0; i < params.beta - 1; i++) set.recordPoll(votes({ a: 3, b: 1 }));
  assert.equal(set.finalized(), null);
  set.recordPoll(votes({ a: 3, b: 1 }));
  assert.equal(set.finalized(), "a");
});

Deno.test("a tie never breaks a stall, and a poll backing the preference takes two off the count", () => {
  const set = splitMinority();
  for (let i = 0; i < 100; i++) set.recordPoll(votes({ a: 2, b: 2 }));
  assert.equal(set.preference(), "b", "a 2-2 tie (the Byzantine validator backing the minority) holds");
  const needed = stalledPollsToAdopt(params);
  // Two favouring polls for every poll backing b: the count never reaches the threshold.
  for (let i = 0; i < 100; i++) {
    set.recordPoll(votes({ a: 2, b: 1 }));
    set.recordPoll(votes({ a: 2, b: 1 }));
    set.recordPoll(votes({ a: 1, b: 2 }));
  }
  assert.equal(set.preference(), "b");
  // Polls that counted too few votes to tell (cut short) are neutral.
  for (let i = 0; i < needed - 1; i++) {
    set.recordPoll(votes({ a: 2, b: 1 }));
    set.recordPoll(votes({ a: 1, b: 1 }));
  }
  assert.equal(set.preference(), "b");
  set.recordPoll(votes({ a: 2, b: 1 }));
  assert.equal(set.preference(), "a");
});

Deno.test("a single supporter never favours a member", () => {
  const set = splitMinority();
  for (let i = 0; i < 100; i++) set.recordPoll(votes({ a: 1 }));
  assert.equal(set.preference(), "b");
  assert.equal(set.stallsBroken, 0);
});

Deno.test("after adopting, a successful poll for the old preference moves it back (it is again stronger)", () => {
  const set = splitMinority();
  for (let i = 0; i < stalledPollsToAdopt(params); i++) set.recordPoll(votes({ a: 2, b: 1 }));
  assert.equal(set.preference(), "a");
  set.recordPoll(votes({ b: 3 }));
  assert.equal(set.preference(), "b");
});

Deno.test("shun(): a doomed preference is passed over for the strongest live member, and restored when no longer doomed", () => {
  const set = splitMinority();
  set.shun(new Set(["b", "elsewhere"]));
  assert.equal(set.preference(), "a");
  set.shun(new Set());
  assert.equal(set.preference(), "b");
  // With every member doomed, the Snowball's own preference stands.
  set.shun(new Set(["a", "b"]));
  assert.equal(set.preference(), "b");
});

Deno.test("shun(): a finalized member is never passed over", () => {
  const set = new ConflictSet(params, "k");
  set.add("b");
  set.add("a");
  for (let i = 0; i < params.beta; i++) set.recordPoll(votes({ b: 3 }));
  assert.equal(set.finalized(), "b");
  set.shun(new Set(["b"]));
  assert.equal(set.preference(), "b");
});

Deno.test("stalled(): after stalledPollsToStall failed polls in a row; a successful poll starts the count again", () => {
  const set = new ConflictSet(params, "k");
  set.add("a");
  set.add("b");
  const stall = stalledPollsToStall(params);
  for (let i = 0; i < stall - 1; i++) set.recordPoll(votes({ a: 2, b: 1 }));
  assert.equal(set.stalled(), false);
  set.recordPoll(votes({ a: 2, b: 1 }));
  assert.equal(set.stalled(), true);
  set.recordPoll(votes({ a: 3 }));
  assert.equal(set.stalled(), false);
  for (let i = 0; i < stall; i++) set.recordPoll(undefined);
  assert.equal(set.stalled(), true);
  // Finalized: not stalled, whatever the polls.
  for (let i = 0; i < params.beta; i++) set.recordPoll(votes({ a: 3 }));
  for (let i = 0; i < stall; i++) set.recordPoll(votes({ a: 1 }));
  assert.equal(set.finalized(), "a");
  assert.equal(set.stalled(), false);
});

Deno.test("shun(): a preference stuck below a stalled contest moves to a carrier of the same transaction, and stays", () => {
  const txOf = (m: string) => m.split("@")[0];
  const set = new ConflictSet(params, "acct:0");
  set.add("t@v1");
  set.add("u@v2"); // a rival transaction, on clean parents
  assert.equal(set.preference(), "t@v1");
  set.shun(new Set(), new Set(["t@v1"]), txOf);
  assert.equal(set.preference(), "t@v1", "never to another transaction");
  set.add("t@v3");
  set.shun(new Set(), new Set(["t@v1"]), txOf);
  assert.equal(set.preference(), "t@v3");
  assert.equal(set.stuckMoved, 1);
  set.shun(new Set(), new Set(), txOf);
  assert.equal(set.preference(), "t@v3", "adopted: it stays when the contest resolves");
  // A stuck carrier is never the one moved to.
  const other = new ConflictSet(params, "acct:1");
  other.add("t@v1");
  other.add("t@v2");
  other.shun(new Set(), new Set(["t@v1", "t@v2"]), txOf);
  assert.equal(other.preference(), "t@v1");
  assert.equal(other.stuckMoved, 0);
});
