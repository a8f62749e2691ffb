import assert from "node:assert/strict";
import { CoverageIndex, type CutPosition, GENESIS_POSITION } from "./coverage.ts";

// Ids long enough that the refusal message's 16-character prefix is distinguishable.
const F1 = "f1".repeat(16);
const F2 = "f2".repeat(16);

/**
 * Two cuts: cut 1 at 100 settled a (10), f1 (20) and f2 (30) with frontier [f1, f2];
 * x (150) sits on f1 only, y (160) on f2 only, xy (170) on both; cut 2 at 200 has frontier [xy].
 */
const CUT1: CutPosition = { boundaryMs: 100, frontier: [F1, F2] };
const CUT2: CutPosition = { boundaryMs: 200, frontier: ["xy"] };

/** Held as the engine holds it after cut 2: cut 1's frontier is required. */
function afterCut2(): CoverageIndex {
  const index = new CoverageIndex(CUT1, GENESIS_POSITION);
  index.add("x", [F1], 150);
  index.add("y", [F2], 160);
  index.add("xy", ["x", "y"], 170);
  index.advance(CUT2);
  return index;
}

Deno.test("check() refuses a vertex below the current boundary as below_settled_cut", () => {
  const index = afterCut2();
  const verdict = index.check(["xy"], 199);
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.reason, "below_settled_cut");
  assert.match(!verdict.ok ? verdict.message : "", /timestamp 199 is below the settled cut at 200/);
  // At the boundary it is no longer below.
  assert.deepEqual(index.check(["xy"], 200), { ok: true });
});

Deno.test("check() refuses a vertex missing a required frontier vertex as stale_parents, naming it", () => {
  const index = afterCut2();
  const verdict = index.check(["x"], 250);
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.reason, "stale_parents");
  const message = !verdict.ok ? verdict.message : "";
  assert.ok(message.includes(F2.slice(0, 16)), message);
  assert.ok(!message.includes(F1.slice(0, 16)), `names only the missing one: ${message}`);
  assert.match(message, /\(1 of 2 missing\)/);
  // Missing both.
  const none = index.check([], 250);
  assert.match(!none.ok ? none.message : "", /\(2 of 2 missing\)/);
});

Deno.test("check() admits a vertex reaching every required frontier vertex through held ancestors", () => {
  const index = afterCut2();
  assert.deepEqual(index.check(["xy"], 250), { ok: true }, "through one held vertex above both");
  assert.deepEqual(index.check(["x", "y"], 250), { ok: true }, "through two held vertices, one each");
  assert.deepEqual(index.check(["x", F2], 250), { ok: true }, "through a held vertex and a frontier vertex");
  assert.deepEqual(index.check([F1, F2], 250), { ok: true }, "naming the frontier itself");
});

Deno.test("check() refuses a settled parent off the required frontier as stale_parents, naming it", () => {
  const index = afterCut2();
  // "a" was settled by cut 1 below its frontier: neither held nor a frontier bit. Whatever else the
  // vertex names, no honest author names it (it is no tip), and a node synced from a checkpoint lacks it.
  assert.equal(index.has("a"), false);
  for (const parents of [["a"], ["a", "xy"], ["xy", "a"]]) {
    const verdict = index.check(parents, 250);
    assert.equal(!verdict.ok && verdict.reason, "stale_parents", parents.join(","));
    assert.match(!verdict.ok ? verdict.message : "", /parent a… is settled and not on the settled frontier/);
  }
  // It covers nothing either.
  assert.deepEqual(index.uncovered(["a"]), [F1, F2]);
  assert.deepEqual(index.uncovered(["a", "xy"]), []);
  // Held vertices and required frontier vertices are fine as parents.
  assert.deepEqual(index.check(["x", F2], 250), { ok: true });
});

Deno.test("covers() and uncovered() follow ancestry through held vertices", () => {
  const index = afterCut2();
  assert.equal(index.covers("x"), false);
  assert.equal(index.covers("y"), false);
  assert.equal(index.covers("xy"), true);
  index.add("overX", ["x"], 210);
  index.add("overXY", ["overX", "y"], 220);
  assert.equal(index.covers("overX"), false);
  assert.equal(index.covers("overXY"), true);
  assert.deepEqual(index.uncovered(["overX"]), [F2]);
  assert.deepEqual(index.uncovered(["y"]), [F1]);
  assert.deepEqual(index.uncovered(["overXY"]), []);
  assert.deepEqual(index.uncovered([]), [F1, F2]);
  assert.equal(index.covers("unknown"), false, "an id neither held nor on the frontier covers nothing");
  // A frontier vertex covers a frontier of two only together with the other one.
  assert.equal(index.covers(F1), false);
});

Deno.test("a frontier of one vertex is covered by it alone; a frontier of two needs both", () => {
  const one = new CoverageIndex({ boundaryMs: 100, frontier: [F1] }, { boundaryMs: 100, frontier: [F1] });
  assert.equal(one.covers(F1), true);
  assert.deepEqual(one.check([F1], 100), { ok: true });
  one.add("c", [F1], 120);
  assert.equal(one.covers("c"), true);
  one.add("lone", [], 110);
  const lone = one.check(["lone"], 120);
  assert.match(!lone.ok ? lone.message : "", /settled frontier vertex f1f1.*\(1 of 1 missing\)/);

  const two = new CoverageIndex(CUT1, CUT1);
  assert.equal(two.covers(F1), false);
  assert.equal(two.covers(F2), false);
  assert.deepEqual(two.check([F1, F2], 100), { ok: true });
  assert.deepEqual(two.uncovered([F1]), [F2]);
  two.add("c", [F1], 120);
  assert.equal(two.covers("c"), false);
});

Deno.test("the genesis position requires nothing", () => {
  const index = new CoverageIndex();
  assert.equal(index.position, GENESIS_POSITION);
  assert.equal(index.required, GENESIS_POSITION);
  assert.deepEqual(index.check([], 0), { ok: true });
  assert.deepEqual(index.uncovered(["never-seen"]), []);
  index.add("v", [], 0);
  index.add("w", ["v"], 5);
  assert.equal(index.covers("v"), true);
  assert.equal(index.covers("w"), true);
  assert.deepEqual(index.check(["v"], 0), { ok: true });
  assert.deepEqual(index.check(["v", "w"], 7), { ok: true });
  assert.equal(index.size, 2);
});

Deno.test("advance() makes the current cut the required one and refuses by the new boundary", () => {
  const index = new CoverageIndex();
  index.add("a", [], 10);
  index.add(F1, ["a"], 20);
  index.add(F2, [], 30);
  index.add("x", [F1], 150);
  index.advance(CUT1);
  assert.deepEqual(index.position, CUT1);
  assert.equal(index.required, GENESIS_POSITION, "one cut of slack: nothing required yet");
  assert.equal(index.check([], 99).ok, false);
  assert.deepEqual(index.check([], 100), { ok: true }, "cut 1's frontier is not required yet");
  index.add("y", [F2], 160);
  index.add("xy", ["x", "y"], 170);
  index.advance(CUT2);
  assert.deepEqual(index.position, CUT2);
  assert.deepEqual(index.required, CUT1);
  assert.equal(index.check(["x"], 250).ok, false, "now cut 1's frontier is required");
});

Deno.test("advance() drops what lies below the new required boundary and recomputes what the rest covers", () => {
  const index = new CoverageIndex();
  index.add("a", [], 10);
  index.add(F1, ["a"], 20);
  index.add(F2, [], 30);
  index.add("x", [F1], 150);
  index.add("y", [F2], 160);
  index.add("xy", ["x", "y"], 170);
  // Nothing required: everything covers the empty frontier.
  assert.equal(index.covers("x"), true);
  index.advance(CUT1);
  // The required boundary is still 0: nothing dropped, nothing required.
  assert.equal(index.size, 6);
  assert.equal(index.covers("x"), true);
  index.advance(CUT2);
  // Required is now cut 1: a (below 100) is dropped, f1 and f2 became frontier bits.
  assert.equal(index.has("a"), false);
  assert.equal(index.has(F1), false);
  assert.equal(index.has(F2), false);
  assert.deepEqual(["x", "y", "xy"].filter((id) => index.has(id)), ["x", "y", "xy"]);
  assert.equal(index.size, 3);
  // Masks were recomputed against the new frontier.
  assert.equal(index.covers("x"), false);
  assert.equal(index.covers("y"), false);
  assert.equal(index.covers("xy"), true);
  // Cut 3 at 300 with frontier [z]: required becomes cut 2 ([xy] at 200).
  index.add("z", ["xy"], 210);
  index.add("w", ["x"], 220);
  index.advance({ boundaryMs: 300, frontier: ["z"] });
  assert.deepEqual(index.required, CUT2);
  assert.deepEqual(["x", "y", "xy"].filter((id) => index.has(id)), []);
  assert.equal(index.has("z"), true, "at or above the required boundary: kept");
  assert.equal(index.covers("z"), true);
  assert.equal(index.covers("w"), false, "w does not descend from xy");
  assert.equal(index.covers("xy"), true, "the only frontier vertex covers itself");
});

Deno.test("add() is idempotent and ignores a required frontier vertex", () => {
  const index = afterCut2();
  index.add("x", [F2], 150); // a second add with other parents changes nothing
  assert.equal(index.covers("x"), false);
  assert.deepEqual(index.uncovered(["x"]), [F2]);
  index.add(F1, [], 20);
  assert.equal(index.has(F1), false);
  assert.equal(index.size, 3);
});

Deno.test("advance() backwards throws; so does a required cut after the current one", () => {
  const index = afterCut2();
  assert.throws(() => index.advance(CUT1), /Cannot move the settled cut back from 200 to 100/);
  assert.throws(() => index.advance({ boundaryMs: 199, frontier: [] }), RangeError);
  assert.deepEqual(index.position, CUT2, "a refused advance changes nothing");
  assert.deepEqual(index.required, CUT1);
  assert.throws(() => new CoverageIndex(CUT1, CUT2), /The required cut 200 is after the current one 100/);
});
