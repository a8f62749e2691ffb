import assert from "node:assert/strict";
import { Snowball } from "./snowball.ts";

const params = { k: 5, alphaPreference: 3, alphaConfidence: 4, beta: 3 };

Deno.test("recordPoll() finalizes after beta successes", () => {
  const sb = new Snowball(params, "a");
  sb.add("b");
  for (let i = 0; i < 3; i++) {
    assert.equal(sb.finalized(), false);
    sb.recordPoll(4, "a");
  }
  assert.equal(sb.finalized(), true);
  assert.equal(sb.preference(), "a");
});

Deno.test("recordPoll() moves the preference only to a strictly stronger choice", () => {
  const sb = new Snowball(params, "a");
  sb.add("b");
  sb.recordPoll(3, "a"); // strength a = 1
  sb.recordPoll(3, "b"); // strength b = 1: a tie keeps a
  assert.equal(sb.preference(), "a");
  sb.recordPoll(3, "b"); // strength b = 2 > 1
  assert.equal(sb.preference(), "b");
  assert.equal(sb.strength("a"), 1);
  assert.equal(sb.strength("b"), 2);
});

Deno.test("recordPoll() below alphaPreference neither strengthens nor confirms", () => {
  const sb = new Snowball(params, "a");
  sb.recordPoll(4, "a");
  sb.recordPoll(2, "b");
  assert.equal(sb.strength("b"), 0);
  assert.equal(sb.confidence(), 0);
  assert.equal(sb.preference(), "a");
});

Deno.test("recordUnsuccessfulPoll() resets confidence but keeps strength", () => {
  const sb = new Snowball(params, "a");
  sb.recordPoll(4, "a");
  sb.recordPoll(4, "a");
  sb.recordUnsuccessfulPoll();
  assert.equal(sb.confidence(), 0);
  assert.equal(sb.strength("a"), 2);
  sb.recordPoll(4, "a");
  sb.recordPoll(4, "a");
  assert.equal(sb.finalized(), false);
  sb.recordPoll(4, "a");
  assert.equal(sb.finalized(), true);
});

Deno.test("Snowball with three choices (n-ary) finalizes on the choice that wins the run", () => {
  const sb = new Snowball(params, "a");
  sb.add("b");
  sb.add("c");
  sb.recordPoll(4, "c");
  sb.recordPoll(4, "b");
  sb.recordPoll(4, "c");
  assert.equal(sb.preference(), "c");
  sb.recordPoll(4, "c");
  sb.recordPoll(4, "c");
  assert.equal(sb.finalized(), true);
  assert.equal(sb.preference(), "c");
  assert.deepEqual(sb.choices(), ["a", "b", "c"]);
});

Deno.test("a finalized Snowball reports the Snowflake's choice and ignores polls", () => {
  const sb = new Snowball({ ...params, beta: 2 }, "a");
  sb.add("b");
  sb.recordPoll(3, "a");
  sb.recordPoll(3, "a"); // strength a = 2, no confidence
  sb.recordPoll(4, "b");
  sb.recordPoll(4, "b"); // snowflake finalizes on b; strength b = 2 ties a
  assert.equal(sb.finalized(), true);
  assert.equal(sb.preference(), "b");
  sb.recordPoll(5, "a");
  assert.equal(sb.preference(), "b");
});

Deno.test("before any poll is won the preference is the lowest choice, whatever the order of arrival", () => {
  const late = new Snowball(params, "b");
  late.add("c");
  late.add("a");
  assert.equal(late.preference(), "a");
  const won = new Snowball(params, "b");
  won.recordPoll(3, "b"); // strength b = 1
  won.add("a");
  assert.equal(won.preference(), "b", "a newcomer does not take a preference that has won a poll");
});

Deno.test("adopt() makes a choice preferred with the strongest strength; a finalized instance ignores it", () => {
  const sb = new Snowball(params, "a");
  sb.add("b");
  sb.recordPoll(3, "a");
  sb.recordPoll(3, "a");
  sb.adopt("b");
  assert.equal(sb.preference(), "b");
  assert.equal(sb.strength("b"), 2);
  sb.recordPoll(3, "a"); // a: 3 > 2
  assert.equal(sb.preference(), "a");
  for (let i = 0; i < 3; i++) sb.recordPoll(4, "a");
  assert.equal(sb.finalized(), true);
  sb.adopt("b");
  assert.equal(sb.preference(), "a");
});
