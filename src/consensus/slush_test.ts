import assert from "node:assert/strict";
import { Slush } from "./slush.ts";

Deno.test("Slush starts with its initial choice", () => {
  assert.equal(new Slush("red").preference(), "red");
});

Deno.test("recordSuccessfulPoll() adopts the polled choice, every time", () => {
  const s = new Slush("red");
  s.recordSuccessfulPoll("blue");
  assert.equal(s.preference(), "blue");
  s.recordSuccessfulPoll("red");
  assert.equal(s.preference(), "red");
});
