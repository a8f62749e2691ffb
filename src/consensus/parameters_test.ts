import assert from "node:assert/strict";
import { DEFAULT_PARAMETERS, ParametersError, parametersForValidatorCount, verifyParameters } from "./parameters.ts";

Deno.test("verifyParameters() accepts the defaults and freezes them", () => {
  const p = verifyParameters(DEFAULT_PARAMETERS);
  assert.deepEqual(p, { k: 20, alphaPreference: 15, alphaConfidence: 15, beta: 20 });
  assert.ok(Object.isFrozen(p));
});

Deno.test("verifyParameters() rejects alphaPreference <= k/2, naming the invariant", () => {
  assert.throws(
    () => verifyParameters({ k: 4, alphaPreference: 2, alphaConfidence: 3, beta: 5 }),
    (e: unknown) =>
      e instanceof ParametersError && e.message.includes("k/2 < alphaPreference") &&
      e.message.includes("k = 4") && e.message.includes("alphaPreference = 2"),
  );
});

Deno.test("verifyParameters() rejects alphaConfidence < alphaPreference", () => {
  assert.throws(
    () => verifyParameters({ k: 20, alphaPreference: 15, alphaConfidence: 14, beta: 5 }),
    (e: unknown) => e instanceof ParametersError && e.message.includes("alphaPreference <= alphaConfidence"),
  );
});

Deno.test("verifyParameters() rejects alphaConfidence > k", () => {
  assert.throws(
    () => verifyParameters({ k: 4, alphaPreference: 3, alphaConfidence: 5, beta: 5 }),
    (e: unknown) => e instanceof ParametersError && e.message.includes("alphaConfidence <= k"),
  );
});

Deno.test("verifyParameters() rejects non-integers, zero and negatives", () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => verifyParameters({ k: 20, alphaPreference: 15, alphaConfidence: 15, beta: bad }),
      (e: unknown) => e instanceof ParametersError && e.message.includes("beta"),
    );
  }
});

Deno.test("verifyParameters() accepts the boundary alphaPreference = floor(k/2) + 1 = alphaConfidence = k", () => {
  verifyParameters({ k: 1, alphaPreference: 1, alphaConfidence: 1, beta: 1 });
  verifyParameters({ k: 5, alphaPreference: 3, alphaConfidence: 5, beta: 1 });
});

Deno.test("parametersForValidatorCount() scales k and alphas below k validators", () => {
  assert.deepEqual(parametersForValidatorCount(DEFAULT_PARAMETERS, 4), {
    k: 4,
    alphaPreference: 3,
    alphaConfidence: 3,
    beta: 20,
  });
  assert.deepEqual(parametersForValidatorCount(DEFAULT_PARAMETERS, 100), DEFAULT_PARAMETERS);
  assert.deepEqual(parametersForValidatorCount(DEFAULT_PARAMETERS, 20), DEFAULT_PARAMETERS);
  for (let n = 1; n < 20; n++) {
    const p = parametersForValidatorCount(DEFAULT_PARAMETERS, n);
    assert.equal(p.k, n);
    assert.ok(p.alphaPreference > n / 2 && p.alphaConfidence <= n);
  }
});
