import assert from "node:assert/strict";
import { type CutPlan, type CutVertexView, FRONTIER_MAX, planCut } from "./cut.ts";
import type { Status } from "./types.ts";
import { type CutPosition, GENESIS_POSITION } from "../dag/coverage.ts";

function v(id: string, timestampMs: number, parents: string[] = [], status: Status = "accepted"): CutVertexView {
  return { id, parents, timestampMs, status };
}

type Planned = Extract<CutPlan, { kind: "cut" }>;

function cutOf(plan: CutPlan): Planned {
  assert.equal(plan.kind, "cut", `expected a cut, got ${JSON.stringify(plan)}`);
  return plan as Planned;
}

/** After cut 1 at 100: its frontier is f1 and f2. */
const AT_100: CutPosition = { boundaryMs: 100, frontier: ["f1", "f2"] };

Deno.test("planCut() is none with the next live timestamp for an interval nothing was accepted in", () => {
  const unsettled = [v("late", 250), v("dead", 150, [], "rejected"), v("later", 320, ["late"])];
  assert.deepEqual(planCut(GENESIS_POSITION, unsettled, 100, 10), { kind: "none", nextMs: 250 });
  assert.deepEqual(planCut(GENESIS_POSITION, [], 100, 10), { kind: "none", nextMs: null });
  assert.deepEqual(
    planCut(GENESIS_POSITION, [v("dead", 150, [], "rejected")], 100, 10),
    { kind: "none", nextMs: null },
    "a rejected vertex is no reason to wait",
  );
  // A rejected vertex below the boundary settles nothing either.
  assert.deepEqual(planCut(GENESIS_POSITION, [v("dead", 50, [], "rejected"), v("late", 250)], 100, 10), {
    kind: "none",
    nextMs: 250,
  });
});

Deno.test("planCut() is none for a boundary at or below the current one", () => {
  assert.deepEqual(planCut(AT_100, [v("a", 120, ["f1", "f2"])], 100, 10), { kind: "none", nextMs: null });
  assert.deepEqual(planCut(AT_100, [v("a", 120, ["f1", "f2"])], 50, 10), { kind: "none", nextMs: null });
});

Deno.test("planCut() is blocked while a vertex below the boundary is undecided", () => {
  const unsettled = [v("a", 10), v("b", 50, ["a"], "processing"), v("c", 60, [], "processing"), v("d", 150)];
  assert.deepEqual(planCut(GENESIS_POSITION, unsettled, 100, 10), {
    kind: "blocked",
    boundaryMs: 100,
    blockers: [
      { id: "b", timestampMs: 50, status: "processing", why: "undecided_below" },
      { id: "c", timestampMs: 60, status: "processing", why: "undecided_below" },
    ],
  });
  // Once decided (either way), the cut closes without the rejected one.
  const decided = [v("a", 10), v("b", 50, ["a"], "rejected"), v("c", 60), v("d", 150)];
  assert.deepEqual(cutOf(planCut(GENESIS_POSITION, decided, 100, 10)).vertices, ["a", "c"]);
});

Deno.test("planCut() is blocked by an undecided vertex above the boundary missing part of the current frontier", () => {
  const below = [v("a", 120, ["f1"]), v("b", 130, ["f1", "f2"])];
  const plan = planCut(AT_100, [...below, v("c", 210, ["a"], "processing")], 200, 10);
  assert.deepEqual(plan, {
    kind: "blocked",
    boundaryMs: 200,
    blockers: [{ id: "c", timestampMs: 210, status: "processing", why: "not_covering" }],
  });
  // The same vertex through b (which covers f1 and f2) does not block.
  const covering = cutOf(planCut(AT_100, [...below, v("c", 210, ["b"], "processing")], 200, 10));
  assert.deepEqual(covering.vertices, ["a", "b"]);
  assert.equal(covering.snapshotSafe, true);
  // Nor does one that names the missing frontier vertex itself.
  const naming = cutOf(planCut(AT_100, [...below, v("c", 210, ["a", "f2"], "processing")], 200, 10));
  assert.equal(naming.snapshotSafe, true);
});

Deno.test("planCut() does not wait for an accepted vertex above the boundary missing the frontier, but marks the cut unsafe to snapshot", () => {
  const below = [v("a", 120, ["f1"]), v("b", 130, ["f1", "f2"])];
  const plan = cutOf(planCut(AT_100, [...below, v("c", 210, ["a"], "accepted")], 200, 10));
  assert.deepEqual(plan.vertices, ["a", "b"]);
  assert.equal(plan.boundaryMs, 200);
  assert.equal(plan.snapshotSafe, false);
  // A rejected one is ignored altogether.
  const rejected = cutOf(planCut(AT_100, [...below, v("c", 210, ["a"], "rejected")], 200, 10));
  assert.equal(rejected.snapshotSafe, true);
});

Deno.test("planCut() settles the accepted vertices below the boundary in (timestamp, id) order", () => {
  const unsettled = [v("m", 30), v("z", 20), v("b", 20), v("a", 40, ["m", "z", "b"]), v("next", 150, ["a"])];
  const plan = cutOf(planCut(GENESIS_POSITION, unsettled, 100, 10));
  assert.deepEqual(plan, {
    kind: "cut",
    boundaryMs: 100,
    vertices: ["b", "z", "m", "a"],
    frontier: ["a"],
    snapshotSafe: true,
  });
});

Deno.test("planCut() frontier: the maximal settled vertices, previous frontier vertices without a settled child included", () => {
  // a sits on f1; f2 got no settled child; b and c are both maximal.
  const unsettled = [v("a", 120, ["f1"]), v("b", 130, ["a"]), v("c", 140, ["a"]), v("d", 250, ["b", "c", "f2"])];
  const plan = cutOf(planCut(AT_100, unsettled, 200, 10));
  assert.deepEqual(plan.vertices, ["a", "b", "c"]);
  assert.deepEqual(plan.frontier, ["b", "c", "f2"]);
  // Both previous frontier vertices get settled children: neither stays.
  const merged = cutOf(planCut(AT_100, [v("m", 120, ["f1", "f2"])], 200, 10));
  assert.deepEqual(merged.frontier, ["m"]);
  // The first cut's frontier from scratch.
  const first = cutOf(planCut(GENESIS_POSITION, [v("x", 10), v("y", 20), v("z", 30, ["x"])], 100, 10));
  assert.deepEqual(first.frontier, ["y", "z"]);
});

Deno.test("planCut() splits an interval holding more than verticesMax at the first vertex that does not fit", () => {
  const unsettled = [v("a", 10), v("b", 20, ["a"]), v("c", 30, ["b"]), v("d", 40, ["c"]), v("e", 50, ["d"])];
  const plan = cutOf(planCut(GENESIS_POSITION, unsettled, 100, 2));
  assert.equal(plan.boundaryMs, 30, "c, the third, starts the next cut");
  assert.deepEqual(plan.vertices, ["a", "b"]);
  assert.deepEqual(plan.frontier, ["b"]);
  // The rest, from the split position: again two.
  const next = cutOf(planCut({ boundaryMs: 30, frontier: ["b"] }, unsettled.slice(2), 100, 2));
  assert.equal(next.boundaryMs, 50);
  assert.deepEqual(next.vertices, ["c", "d"]);
  // Exactly verticesMax fits.
  assert.equal(cutOf(planCut(GENESIS_POSITION, unsettled, 100, 5)).boundaryMs, 100);
});

Deno.test("planCut() split: every vertex sharing the split timestamp goes to the same cut", () => {
  // The third vertex shares its timestamp with the second: both go to the next cut.
  const shared = [v("a", 10), v("b", 20), v("c", 20), v("d", 20), v("e", 30)];
  const plan = cutOf(planCut(GENESIS_POSITION, shared, 100, 2));
  assert.equal(plan.boundaryMs, 20);
  assert.deepEqual(plan.vertices, ["a"]);
  // More than verticesMax share the first timestamp: they cannot be split, the cut takes them all.
  const crowd = [v("p", 10), v("q", 10), v("r", 10), v("s", 20)];
  const all = cutOf(planCut(GENESIS_POSITION, crowd, 100, 2));
  assert.equal(all.boundaryMs, 11);
  assert.deepEqual(all.vertices, ["p", "q", "r"]);
  assert.deepEqual(all.frontier, ["p", "q", "r"]);
});

Deno.test("planCut() split: what the split leaves above the cut is checked for coverage like any vertex above it", () => {
  // Split at 130 (verticesMax 1): b (130) is then above the cut and misses f2.
  const unsettled = [v("a", 120, ["f1", "f2"]), v("b", 130, ["f1"], "accepted")];
  const plan = cutOf(planCut(AT_100, unsettled, 200, 1));
  assert.equal(plan.boundaryMs, 130);
  assert.equal(plan.snapshotSafe, false);
});

Deno.test("planCut() skips a cut whose frontier would be wider than FRONTIER_MAX", () => {
  const wide = Array.from({ length: FRONTIER_MAX + 1 }, (_, i) => v(`v${String(i).padStart(3, "0")}`, 10 + i));
  assert.deepEqual(planCut(GENESIS_POSITION, wide, 100, 1_000), { kind: "none", nextMs: 100 });
  const widest = cutOf(planCut(GENESIS_POSITION, wide.slice(1), 100, 1_000));
  assert.equal(widest.frontier.length, FRONTIER_MAX);
  // Merged by the next interval: the cut there takes them all in.
  const merged = [
    ...wide,
    v("m", 150, wide.map((w) => w.id).slice(0, 16)),
    v("n", 160, wide.map((w) => w.id).slice(16, 32)),
  ];
  const rest = wide.slice(32).map((w) => w.id);
  merged.push(v("o", 170, rest.slice(0, 16)), v("p", 180, rest.slice(16)), v("q", 190, ["m", "n", "o", "p"]));
  const next = cutOf(planCut(GENESIS_POSITION, merged, 200, 1_000));
  assert.deepEqual(next.frontier, ["q"]);
  assert.equal(next.vertices.length, FRONTIER_MAX + 1 + 5);
});

Deno.test("planCut() is deterministic: the same vertices in another (parents-first) order give the same plan", () => {
  const a = v("a", 120, ["f1"]);
  const b = v("b", 120, ["f2"]);
  const c = v("c", 130, ["a", "b"]);
  const d = v("d", 130, ["a"]);
  const e = v("e", 210, ["d"], "accepted"); // misses f2: the cut is not snapshot-safe
  const f = v("f", 220, ["c"], "processing");
  const orders = [[a, b, c, d, e, f], [b, a, d, c, f, e], [a, d, e, b, c, f], [b, a, c, f, d, e]];
  const plans = orders.map((o) => planCut(AT_100, o, 200, 10));
  for (const p of plans) assert.deepEqual(p, plans[0]);
  assert.deepEqual(plans[0], {
    kind: "cut",
    boundaryMs: 200,
    vertices: ["a", "b", "c", "d"],
    frontier: ["c", "d"],
    snapshotSafe: false,
  });
  // With a split too.
  const split = orders.map((o) => planCut(AT_100, o, 200, 3));
  for (const p of split) assert.deepEqual(p, split[0]);
  assert.deepEqual(cutOf(split[0]).vertices, ["a", "b"]);
  assert.equal(cutOf(split[0]).boundaryMs, 130);
});

Deno.test("planCut() splits no closer than spacingMs to the current boundary: cuts stay an interval apart", () => {
  // Four accepted vertices above the cut at 100, verticesMax 2: the split would fall at 130.
  const unsettled = [
    v("a", 110, ["f1", "f2"], "accepted"),
    v("b", 120, ["a"], "accepted"),
    v("c", 130, ["b"], "accepted"),
    v("d", 140, ["c"], "accepted"),
  ];
  const near = planCut(AT_100, unsettled, 200, 2, 100);
  assert.equal(near.kind, "cut");
  assert.equal((near as { boundaryMs: number }).boundaryMs, 200, "130 is closer than 100 to the cut at 100");
  const far = planCut(AT_100, unsettled, 200, 2, 30);
  assert.equal((far as { boundaryMs: number }).boundaryMs, 130, "130 is 30 past the cut at 100");
});
