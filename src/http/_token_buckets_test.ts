import assert from "node:assert/strict";
import { TokenBuckets } from "./_token_buckets.ts";

const BUDGET = { perMinute: 60, burst: 3 };

Deno.test("TokenBuckets.take() allows a burst, then one request per refill interval", () => {
  const b = new TokenBuckets(10);
  const takes = [0, 0, 0, 0].map(() => b.take("a", BUDGET, 0));
  assert.deepEqual(takes.map((t) => t.allowed), [true, true, true, false]);
  assert.deepEqual(takes.map((t) => t.remaining), [2, 1, 0, 0]);
  // 60 a minute: one token a second.
  assert.equal(takes[3].nextMs, 1_000);
  assert.equal(b.take("a", BUDGET, 999).allowed, false);
  assert.equal(b.take("a", BUDGET, 1_000).allowed, true);
  assert.equal(b.take("a", BUDGET, 1_000).allowed, false);
});

Deno.test("TokenBuckets.take() refills to the burst and no further", () => {
  const b = new TokenBuckets(10);
  for (let i = 0; i < 3; i++) b.take("a", BUDGET, 0);
  const later = b.take("a", BUDGET, 3_600_000);
  assert.equal(later.allowed, true);
  assert.equal(later.remaining, 2);
  assert.equal(b.take("fresh", { perMinute: 60, burst: 1 }, 0).nextMs, 1_000);
  assert.equal(new TokenBuckets(1).take("x", { perMinute: 60, burst: 5 }, 0).nextMs, 1_000);
});

Deno.test("TokenBuckets.take() keeps partitions apart and forgets the least recently used past its bound", () => {
  const b = new TokenBuckets(2);
  for (let i = 0; i < 3; i++) b.take("a", BUDGET, 0);
  assert.equal(b.take("a", BUDGET, 0).allowed, false);
  assert.equal(b.take("b", BUDGET, 0).allowed, true, "another partition has its own bucket");
  b.take("c", BUDGET, 0);
  assert.equal(b.size, 2);
  // "a" was the least recently used: forgotten, it starts again full.
  assert.equal(b.take("a", BUDGET, 0).remaining, 2);
});

Deno.test("TokenBuckets.take() gains nothing from a clock that steps back", () => {
  const b = new TokenBuckets(10);
  for (let i = 0; i < 3; i++) b.take("a", BUDGET, 10_000);
  assert.equal(b.take("a", BUDGET, 0).allowed, false);
  assert.equal(b.take("a", BUDGET, 10_999).allowed, false);
  assert.equal(b.take("a", BUDGET, 11_000).allowed, true);
});

Deno.test("new TokenBuckets() refuses a bound that is not a positive integer", () => {
  assert.throws(() => new TokenBuckets(0), RangeError);
  assert.throws(() => new TokenBuckets(1.5), RangeError);
});
