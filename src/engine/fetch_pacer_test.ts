import assert from "node:assert/strict";
import { FetchPacer, IDS_PER_REQUEST_MAX } from "./fetch_pacer.ts";

const missing = () => true;

Deno.test("FetchPacer.take(): at once, then again only after retryMs", () => {
  const p = new FetchPacer(500, 300);
  assert.deepEqual(p.take(["a", "b"], 0), ["a", "b"]);
  assert.deepEqual(p.take(["a", "c"], 499), ["c"]);
  assert.deepEqual(p.take(["a", "b"], 500), ["a", "b"]);
});

Deno.test("FetchPacer.take(): at most `max` ids, and only those are marked as requested", () => {
  const p = new FetchPacer(500, 300);
  assert.deepEqual(p.take(["a", "b", "c"], 0, 1), ["a"]);
  assert.deepEqual(p.take(["a", "b", "c"], 1, 0), []);
  assert.deepEqual(p.take(["a", "b", "c"], 2), ["b", "c"], "b and c were not asked for");
});

Deno.test("FetchPacer.takeNamed(): a named id is due graceMs after it was first named, then paced by retryMs", () => {
  const p = new FetchPacer(500, 300);
  assert.deepEqual(p.takeNamed(["x"], "b", 0), []);
  assert.deepEqual(p.takeNamed(["x"], "c", 299), [], "named again: the grace counts from the first time");
  assert.deepEqual(p.takeNamed(["x"], "c", 300), ["x"]);
  assert.deepEqual(p.takeNamed(["x"], "c", 799), []);
  assert.deepEqual(p.takeNamed(["x"], "c", 800), ["x"]);
  assert.equal(p.namedDue(10_000, missing).size, 0, "requested ids are not named-only any more");
});

Deno.test("FetchPacer.takeNamed(): a missing parent asked for before is not held back by the grace", () => {
  const p = new FetchPacer(500, 300);
  assert.deepEqual(p.take(["x"], 0), ["x"]);
  assert.deepEqual(p.takeNamed(["x"], "b", 500), ["x"]);
});

Deno.test("FetchPacer.namedDue(): the ids whose grace ran out and that are still missing, by who named them", () => {
  const p = new FetchPacer(500, 300);
  p.takeNamed(["x", "y"], "b", 0);
  p.takeNamed(["z"], "c", 100);
  p.takeNamed(["gone"], "c", 0);
  p.arrived("x");
  assert.equal(p.namedDue(299, missing).size, 0);
  const due = p.namedDue(300, (id) => id !== "gone");
  assert.deepEqual([...due], [["b", ["y"]]]);
  assert.deepEqual(p.take(["y"], 400), [], "marked as requested");
  assert.deepEqual([...p.namedDue(400, missing)], [["c", ["z"]]]);
  assert.equal(p.namedDue(10_000, missing).size, 0, "each is given once; 'gone' was forgotten");
});

Deno.test("FetchPacer: graceMs 0 asks for named ids at once; at most IDS_PER_REQUEST_MAX ids per answer", () => {
  const p = new FetchPacer(500, 0);
  const ids = Array.from({ length: IDS_PER_REQUEST_MAX + 5 }, (_, i) => `v${i}`);
  assert.deepEqual(p.takeNamed(ids, "b", 0), ids.slice(0, IDS_PER_REQUEST_MAX));
  assert.deepEqual(p.takeNamed(ids, "b", 1), ids.slice(IDS_PER_REQUEST_MAX));
});

Deno.test("FetchPacer: ids named by a peer that never sends them do not pile up without bound", () => {
  const p = new FetchPacer(500, 300);
  for (let i = 0; i < 20_000; i++) p.takeNamed([`n${i}`], "b", 0);
  const due = p.namedDue(300, missing).get("b") ?? [];
  assert.equal(due.length, IDS_PER_REQUEST_MAX, "a request's worth at a time");
  assert.equal(p.namedDue(300, missing).get("b")?.length, IDS_PER_REQUEST_MAX, "the rest at the next call");
  let remembered = 0;
  for (let i = 0; i < 1_000; i++) remembered += p.namedDue(300, missing).get("b")?.length ?? 0;
  assert.ok(remembered < 8_192, `at most REQUESTED_IDS_MAX remembered, got ${remembered + 2 * IDS_PER_REQUEST_MAX}`);
});
