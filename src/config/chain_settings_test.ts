import assert from "node:assert/strict";
import { defaultFeeParams } from "../core/mod.ts";
import { checkChainSettings, feeParamsFromConfig } from "./chain_settings.ts";
import { ConfigError, resolveConfig } from "./mod.ts";
import { decimalText, scaleDecimal } from "./decimal.ts";

const chain = { genesisPath: "/etc/qudag/genesis.json", isValidator: true, exchangeFees: defaultFeeParams() };
const served = { QUDAG_EXCHANGE_ENABLED: "true" };

Deno.test("scaleDecimal() is exact and decimalText() prints configuration numbers back as written", () => {
  assert.equal(scaleDecimal("0.0025", 1_000_000_000n, 9), 2_500_000n);
  assert.equal(scaleDecimal("90", 86_400_000n, 3), 7_776_000_000n);
  assert.equal(scaleDecimal("0.1234567891", 1n, 9), null);
  assert.equal(scaleDecimal("-1", 1n, 9), null);
  assert.equal(decimalText(0.0025), "0.0025");
  assert.equal(decimalText(1e-7), "0.0000001");
});

Deno.test("feeParamsFromConfig() turns the seed's FEE_* values into the core's default fee parameters", () => {
  const c = resolveConfig({
    env: {
      FEE_F_MIN: "0.001",
      FEE_F_MAX: "0.010",
      FEE_F_MIN_VERIFIED: "0.0025",
      FEE_F_MAX_VERIFIED: "0.005",
      FEE_TIME_CONSTANT_DAYS: "90",
      FEE_USAGE_THRESHOLD: "10000",
    },
  });
  assert.deepEqual(feeParamsFromConfig(c.fees), defaultFeeParams());
  const off = feeParamsFromConfig(resolveConfig({ env: { FEE_MODEL_ENABLED: "false" } }).fees);
  assert.deepEqual([off.fMinPpb, off.fMaxPpb, off.fMinVerifiedPpb, off.fMaxVerifiedPpb], [0, 0, 0, 0]);
});

Deno.test("checkChainSettings() accepts the seed's fly.toml [env] on a chain made from the same values", () => {
  const c = resolveConfig({
    env: {
      ...served,
      EXCHANGE_NODE_TYPE: "full",
      FEE_MODEL_ENABLED: "true",
      FEE_F_MIN: "0.001",
      FEE_F_MAX: "0.010",
      IMMUTABLE_DEPLOYMENT: "false",
      IMMUTABLE_GRACE_PERIOD_HOURS: "24",
      EXCHANGE_GENESIS: "true",
    },
  });
  checkChainSettings(c, chain);
});

Deno.test("checkChainSettings() refuses a fee setting that differs from the genesis, saying where fees live", () => {
  const c = resolveConfig({ env: { FEE_F_MIN: "0.002" } });
  assert.throws(
    () => checkChainSettings(c, chain),
    (e: unknown) =>
      e instanceof ConfigError &&
      /fees.f_min = 0\.2000% \(env FEE_F_MIN\) differs from this chain's genesis value 0\.1000%/
        .test(e.message) &&
      /qudag genesis init --exchange/.test(e.message) &&
      /qudag exchange configure-fees/.test(e.message),
  );
  assert.throws(
    () => checkChainSettings(resolveConfig({ env: { FEE_F_MAX: "0.01" } }), { ...chain, exchangeFees: null }),
    /env FEE_F_MAX set, but \/etc\/qudag\/genesis.json has no exchange section/,
  );
});

Deno.test("checkChainSettings() refuses IMMUTABLE_DEPLOYMENT=true and names deploy-immutable", () => {
  assert.throws(
    () => checkChainSettings(resolveConfig({ env: { IMMUTABLE_DEPLOYMENT: "true" } }), chain),
    /cannot lock a chain from one node's environment.*qudag exchange deploy-immutable/,
  );
});

Deno.test("checkChainSettings() checks EXCHANGE_NODE_TYPE against the genesis and the exchange switch", () => {
  checkChainSettings(resolveConfig({ env: { EXCHANGE_NODE_TYPE: "validator" } }), chain);
  checkChainSettings(resolveConfig({ env: { ...served, EXCHANGE_NODE_TYPE: "exchange-only" } }), {
    ...chain,
    isValidator: false,
  });
  assert.throws(
    () => checkChainSettings(resolveConfig({ env: { EXCHANGE_NODE_TYPE: "full" } }), chain),
    /EXCHANGE_NODE_TYPE=full \(env EXCHANGE_NODE_TYPE\) but this node does not serve the exchange API/,
  );
  assert.throws(
    () => checkChainSettings(resolveConfig({ env: { ...served, EXCHANGE_NODE_TYPE: "validator" } }), chain),
    /set QUDAG_EXCHANGE_ENABLED=false/,
  );
  assert.throws(
    () =>
      checkChainSettings(resolveConfig({ env: { ...served, EXCHANGE_NODE_TYPE: "full" } }), {
        ...chain,
        isValidator: false,
      }),
    /this node's key is not a validator of \/etc\/qudag\/genesis.json/,
  );
  assert.throws(
    () => checkChainSettings(resolveConfig({ env: { EXCHANGE_NODE_TYPE: "light" } }), chain),
    /there are no light nodes/,
  );
});

Deno.test("checkChainSettings() lists every problem at once, with the moved names", () => {
  const c = resolveConfig({ env: { EXCHANGE_GENESIS_SEED: "x", EXCHANGE_GENESIS: "true", IMMUTABLE_DEPLOYMENT: "1" } });
  assert.throws(
    () => checkChainSettings(c, { ...chain, exchangeFees: null }),
    (e: unknown) =>
      e instanceof ConfigError && e.message.startsWith("3 settings disagree:") &&
      /EXCHANGE_GENESIS_SEED is set, but qudag does not read it: the exchange genesis is a file/.test(e.message) &&
      /exchange.genesis = true \(env EXCHANGE_GENESIS\)/.test(e.message),
  );
});
