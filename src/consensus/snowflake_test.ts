import assert from "node:assert/strict";
import { Snowflake } from "./snowflake.ts";

const params = { k: 5, alphaPreference: 3, alphaConfidence: 4, beta: 3 };

Deno.test("recordPoll() finalizes after beta consecutive confident polls", () => {
  const sf = new Snowflake(params, "a");
  sf.recordPoll(4, "a");
  sf.recordPoll(5, "a");
  assert.equal(sf.finalized(), false);
  assert.equal(sf.confidence(), 2);
  sf.recordPoll(4, "a");
  assert.equal(sf.finalized(), true);
  assert.equal(sf.preference(), "a");
});

Deno.test("recordUnsuccessfulPoll() resets confidence", () => {
  const sf = new Snowflake(params, "a");
  sf.recordPoll(4, "a");
  sf.recordPoll(4, "a");
  sf.recordUnsuccessfulPoll();
  assert.equal(sf.confidence(), 0);
  sf.recordPoll(4, "a");
  sf.recordPoll(4, "a");
  assert.equal(sf.finalized(), false);
});

Deno.test("recordPoll() below alphaPreference is an unsuccessful poll", () => {
  const sf = new Snowflake(params, "a");
  sf.recordPoll(4, "a");
  sf.recordPoll(2, "b");
  assert.equal(sf.confidence(), 0);
  assert.equal(sf.preference(), "a");
});

Deno.test("recordPoll() between the alphas switches preference without confidence", () => {
  const sf = new Snowflake(params, "a");
  sf.recordPoll(4, "a");
  sf.recordPoll(3, "b");
  assert.equal(sf.preference(), "b");
  assert.equal(sf.confidence(), 0);
});

Deno.test("recordPoll() for a new choice restarts confidence at 1", () => {
  const sf = new Snowflake(params, "a");
  sf.recordPoll(4, "a");
  sf.recordPoll(4, "a");
  sf.recordPoll(4, "b");
  assert.equal(sf.preference(), "b");
  assert.equal(sf.confidence(), 1);
});

Deno.test("a finalized Snowflake ignores later polls", () => {
  const sf = new Snowflake({ ...params, beta: 1 }, "a");
  sf.recordPoll(5, "a");
  assert.equal(sf.finalized(), true);
  sf.recordPoll(5, "b");
  sf.recordUnsuccessfulPoll();
  assert.equal(sf.preference(), "a");
  assert.equal(sf.confidence(), 1);
});
