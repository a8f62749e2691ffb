import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { FETCH_GRACE_MS_DEFAULT } from "../engine/config.ts";
import { type Config, ConfigError, ENV_NAMES, FIELDS, MOVED_ENV, printableConfig, resolveConfig } from "./mod.ts";

const TOML_NAME = "qudag.toml";

function fromToml(text: string): Config {
  return resolveConfig({ toml: { text, name: TOML_NAME } });
}

/** Asserts `fn` throws a one-line ConfigError and returns its message. */
function configError(fn: () => unknown): string {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, "config_invalid");
  assert.ok(!/[\r\n]/.test(caught.message), `message is not one line: ${JSON.stringify(caught.message)}`);
  return caught.message;
}

function assertDeepFrozen(value: unknown, path: string): void {
  if (value === null || typeof value !== "object") return;
  assert.ok(Object.isFrozen(value), `${path} is not frozen`);
  for (const [k, v] of Object.entries(value)) assertDeepFrozen(v, `${path}.${k}`);
}

Deno.test("resolveConfig() with no input gives the schema defaults, each sourced from default", () => {
  const c = resolveConfig({});
  assert.equal(c.http.host, "127.0.0.1");
  assert.equal(c.http.port, 8080);
  assert.equal(c.metrics.port, 9090);
  assert.equal(c.p2p.port, 4001);
  assert.deepEqual(c.p2p.peers, []);
  assert.equal(c.log.level, "info");
  assert.equal(c.node.networkMode, "local");
  assert.equal(c.fees.fMin, 0.001);
  assert.equal(c.secrets.keyPassphrase, null);
  assert.equal(c.configFile, null);
  for (const f of FIELDS) assert.equal(c.sources[f.key], "default", f.key);
});

Deno.test("resolveConfig() applies defaults < TOML < env < flags and records each source", () => {
  const c = resolveConfig({
    toml: {
      text: ["[http]", "port = 8100", 'host = "0.0.0.0"', "[metrics]", "port = 9100", "[p2p]", "port = 4100"].join(
        "\n",
      ),
      name: TOML_NAME,
    },
    env: { QUDAG_HTTP_PORT: "8200", QUDAG_METRICS_PORT: "9200" },
    flags: { "--http-port": "8300" },
  });
  assert.equal(c.http.port, 8300);
  assert.equal(c.sources["http.port"], "flag --http-port");
  assert.equal(c.metrics.port, 9200);
  assert.equal(c.sources["metrics.port"], "env QUDAG_METRICS_PORT");
  assert.equal(c.p2p.port, 4100);
  assert.equal(c.sources["p2p.port"], "file");
  assert.equal(c.http.host, "0.0.0.0");
  assert.equal(c.sources["http.host"], "file");
  assert.equal(c.exchange.port, 8081);
  assert.equal(c.sources["exchange.port"], "default");
  assert.equal(c.configFile, TOML_NAME);
});

Deno.test("resolveConfig() ignores empty environment values", () => {
  const c = resolveConfig({ env: { QUDAG_HTTP_PORT: "" } });
  assert.equal(c.http.port, 8080);
  assert.equal(c.sources["http.port"], "default");
});

Deno.test("resolveConfig() rejects malformed TOML naming the file, line and column", () => {
  const msg = configError(() => fromToml("[http]\nport = 8100\nhost = \n"));
  assert.match(msg, /qudag\.toml is not valid TOML/);
  assert.match(msg, /line 3, column \d+/);
});

Deno.test("resolveConfig() rejects an unknown key listing the known keys of its section", () => {
  const msg = configError(() => fromToml("[http]\nprot = 8100\n"));
  assert.match(msg, /unknown key "http\.prot" in qudag\.toml/);
  for (const k of ["host", "port", "body_limit_bytes", "shutdown_timeout_ms"]) assert.ok(msg.includes(k), msg);
});

Deno.test("resolveConfig() rejects an unknown section listing the known sections", () => {
  const msg = configError(() => fromToml("[htp]\nport = 8100\n"));
  assert.match(msg, /unknown key "htp"/);
  for (const s of ["node", "http", "metrics", "p2p", "fees"]) assert.ok(msg.includes(s), msg);
  assert.ok(!msg.includes("secrets"), `secrets section should not be advertised: ${msg}`);
});

Deno.test("resolveConfig() rejects an unknown top-level key", () => {
  const msg = configError(() => fromToml("port = 8100\n"));
  assert.match(msg, /unknown key "port"/);
});

Deno.test("resolveConfig() keeps the message of an unknown quoted key with a newline on one line", () => {
  // TOML allows any string as a quoted key; the message must still be one line.
  configError(() => fromToml('"evil\\nkey" = 1\n'));
});

Deno.test("resolveConfig() rejects out-of-range integers, decimals and ports naming the key and source", () => {
  let msg = configError(() => resolveConfig({ env: { QUDAG_MAX_PEERS: "0" } }));
  assert.match(msg, /p2p\.max_peers = "0" \(from environment QUDAG_MAX_PEERS\) is invalid: expected an integer from 1/);
  msg = configError(() => resolveConfig({ env: { QUDAG_MAX_PEERS: "12.5" } }));
  assert.match(msg, /p2p\.max_peers/);
  msg = configError(() => fromToml("[p2p]\nmax_peers = 1001\n"));
  assert.match(msg, /p2p\.max_peers = 1001 \(from qudag\.toml\)/);
  msg = configError(() => resolveConfig({ env: { FEE_F_MAX: "0.75" } }));
  assert.match(msg, /fees\.f_max = "0\.75" .* expected a number from 0 to 0\.5/);
  msg = configError(() => resolveConfig({ env: { FEE_F_MAX: "-0.1" } }));
  assert.match(msg, /fees\.f_max/);
  msg = configError(() => resolveConfig({ flags: { "--http-port": "65536" } }));
  assert.match(
    msg,
    /http\.port = "65536" \(from flag --http-port\) is invalid: expected a port number from 0 to 65535/,
  );
  msg = configError(() => resolveConfig({ flags: { "--http-port": "-1" } }));
  assert.match(msg, /http\.port/);
  msg = configError(() => fromToml("[http]\nport = 80.5\n"));
  assert.match(msg, /http\.port/);
});

Deno.test("resolveConfig() accepts edge values of ranges", () => {
  const c = resolveConfig({
    env: { QUDAG_MAX_PEERS: "1000", FEE_F_MIN: "0", FEE_F_MAX: "0.5", QUDAG_HTTP_PORT: "0" },
    toml: { text: "[fees]\ntime_constant_days = 30\n", name: TOML_NAME },
  });
  assert.equal(c.p2p.maxPeers, 1000);
  assert.equal(c.fees.fMin, 0);
  assert.equal(c.fees.fMax, 0.5);
  assert.equal(c.http.port, 0);
  assert.equal(c.fees.timeConstantDays, 30);
});

Deno.test("resolveConfig() rejects a bad enum value listing the allowed ones", () => {
  const msg = configError(() => resolveConfig({ env: { NETWORK_MODE: "prodnet" } }));
  assert.match(msg, /node\.network_mode = "prodnet" .* expected one of local, devnet, testnet, mainnet/);
  assert.equal(resolveConfig({ env: { NETWORK_MODE: " TestNet " } }).node.networkMode, "testnet");
});

Deno.test("resolveConfig() parses booleans from words and rejects others", () => {
  for (const v of ["true", "1", "yes", "on", "TRUE"]) {
    assert.equal(resolveConfig({ env: { QUDAG_EXCHANGE_ENABLED: v } }).exchange.enabled, true, v);
  }
  for (const v of ["false", "0", "no", "off"]) {
    assert.equal(resolveConfig({ env: { FEE_MODEL_ENABLED: v } }).fees.enabled, false, v);
  }
  assert.equal(fromToml("[exchange]\nenabled = true\n").exchange.enabled, true);
  assert.equal(resolveConfig({ flags: { "--enable-exchange": true } }).exchange.enabled, true);
  assert.equal(resolveConfig({ flags: { "--enable-exchange": "false" } }).exchange.enabled, false);
  const msg = configError(() => resolveConfig({ env: { QUDAG_EXCHANGE_ENABLED: "maybe" } }));
  assert.match(msg, /exchange\.enabled = "maybe" .* expected true or false/);
  configError(() => fromToml('[exchange]\nenabled = "yes please"\n'));
  configError(() => fromToml("[exchange]\nenabled = 1\n"));
});

Deno.test("resolveConfig() takes a bool flag given as false", () => {
  // parseArgs turns `--enable-exchange=false` into the boolean false.
  const c = resolveConfig({ env: { QUDAG_EXCHANGE_ENABLED: "true" }, flags: { "--enable-exchange": false } });
  assert.equal(c.exchange.enabled, false);
  assert.equal(c.sources["exchange.enabled"], "flag --enable-exchange");
});

Deno.test("resolveConfig() reads a list from a comma-separated env value and from repeated flags", () => {
  const fromEnv = resolveConfig({ env: { QUDAG_PEERS: " a:1, b:2 ,,c:3 " } });
  assert.deepEqual(fromEnv.p2p.peers, ["a:1", "b:2", "c:3"]);
  assert.equal(fromEnv.sources["p2p.peers"], "env QUDAG_PEERS");
  const fromFlags = resolveConfig({ env: { QUDAG_PEERS: "z:9" }, flags: { "--peer": ["a:1", "b:2"] } });
  assert.deepEqual(fromFlags.p2p.peers, ["a:1", "b:2"]);
  assert.equal(fromFlags.sources["p2p.peers"], "flag --peer");
  assert.deepEqual(resolveConfig({ flags: { "--peer": "x:7" } }).p2p.peers, ["x:7"]);
  assert.deepEqual(fromToml('[p2p]\npeers = ["t:1", "t:2"]\n').p2p.peers, ["t:1", "t:2"]);
  configError(() => fromToml("[p2p]\npeers = [1, 2]\n"));
});

Deno.test("resolveConfig() takes the bare level of RUST_LOG", () => {
  const c = resolveConfig({ env: { RUST_LOG: "info,qudag_exchange=debug" } });
  assert.equal(c.log.level, "info");
  assert.equal(c.sources["log.level"], "env RUST_LOG");
  assert.equal(resolveConfig({ env: { RUST_LOG: "qudag_exchange=debug,warn" } }).log.level, "warn");
  assert.equal(resolveConfig({ env: { RUST_LOG: "qudag_exchange=debug" } }).log.level, "info");
});

Deno.test("resolveConfig() prefers LOG_LEVEL over RUST_LOG", () => {
  const c = resolveConfig({ env: { RUST_LOG: "debug", LOG_LEVEL: "error" } });
  assert.equal(c.log.level, "error");
  assert.equal(c.sources["log.level"], "env LOG_LEVEL");
});

Deno.test("resolveConfig() refuses secrets in the TOML file and names their env variable", () => {
  const msg = configError(() => fromToml('[secrets]\napi_key = "hunter2"\n'));
  assert.match(
    msg,
    /secrets\.api_key cannot be set in qudag\.toml: secrets come only from the environment \(QUDAG_API_KEY\)/,
  );
  assert.ok(!msg.includes("hunter2"));
});

Deno.test("resolveConfig() rejects f_min > f_max stating the invariant", () => {
  const msg = configError(() => resolveConfig({ env: { FEE_F_MIN: "0.02", FEE_F_MAX: "0.01" } }));
  assert.match(msg, /fees\.f_min = 0\.02 is invalid: expected fees\.f_min <= fees\.f_max \(0\.01\)/);
  const msg2 = configError(() => resolveConfig({ env: { FEE_F_MIN_VERIFIED: "0.3", FEE_F_MAX_VERIFIED: "0.2" } }));
  assert.match(msg2, /fees\.f_min_verified <= fees\.f_max_verified/);
});

Deno.test("resolveConfig() rejects two equal ports naming both keys", () => {
  const msg = configError(() => resolveConfig({ env: { QUDAG_METRICS_PORT: "8080" } }));
  assert.match(msg, /metrics\.port = 8080 is invalid: expected a port different from http\.port \(8080\)/);
  // The exchange port only counts when the exchange is enabled; port 0 may repeat.
  resolveConfig({ env: { QUDAG_EXCHANGE_PORT: "8080" } });
  configError(() => resolveConfig({ env: { QUDAG_EXCHANGE_PORT: "8080", QUDAG_EXCHANGE_ENABLED: "true" } }));
  resolveConfig({ env: { QUDAG_HTTP_PORT: "0", QUDAG_METRICS_PORT: "0", QUDAG_P2P_PORT: "0" } });
});

Deno.test("resolveConfig() rejects an unknown flag and a valueless non-bool flag", () => {
  assert.match(configError(() => resolveConfig({ flags: { "--no-such": "1" } })), /unknown flag --no-such/);
  assert.match(configError(() => resolveConfig({ flags: { "--http-port": true } })), /flag --http-port needs a value/);
});

Deno.test("resolveConfig() returns a deeply frozen object", () => {
  const c = resolveConfig({
    env: { QUDAG_PEERS: "a:1,b:2", QUDAG_API_KEY: "k" },
    toml: { text: "[http]\nport = 8100\n", name: TOML_NAME },
  });
  assertDeepFrozen(c, "config");
  assert.throws(() => {
    (c.http as { port: number }).port = 1;
  }, TypeError);
  assert.throws(() => (c.p2p.peers as string[]).push("c:3"), TypeError);
  assert.throws(() => {
    (c.sources as Record<string, string>)["http.port"] = "x";
  }, TypeError);
});

Deno.test("printableConfig() redacts every secret", () => {
  const env: Record<string, string> = {};
  const values: string[] = [];
  FIELDS.filter((f) => f.secret).forEach((f, i) => {
    const v = `very-secret-value-${i}-${f.key}`;
    for (const name of f.env ?? []) env[name] = v;
    values.push(v);
  });
  assert.equal(values.length, 9);
  const c = resolveConfig({ env });
  const text = JSON.stringify(printableConfig(c));
  for (const v of values) assert.ok(!text.includes(v), `secret ${v} leaked`);
  const printed = printableConfig(c) as Record<string, Record<string, unknown>>;
  assert.equal(printed.secrets.api_key, "<redacted>");
  assert.equal(printed.secrets.key_passphrase, "<redacted>");
  assert.equal(printed.secrets.vault_passphrase, "<redacted>");
  assert.equal(printed.http.port, 8080);
  assert.equal(printed.fees.f_min_verified, 0.0025);
});

Deno.test("printableConfig() shows an unset secret as null", () => {
  const printed = printableConfig(resolveConfig({})) as Record<string, Record<string, unknown>>;
  assert.equal(printed.secrets.api_key, null);
  for (const f of FIELDS) {
    const [group, key] = [f.key.slice(0, f.key.indexOf(".")), f.key.slice(f.key.indexOf(".") + 1)];
    assert.ok(key in printed[group], `${f.key} missing from printableConfig`);
  }
});

for (const taskName of ["start", "compile"] as const) {
  Deno.test(`ENV_NAMES are all covered by --allow-env of the ${taskName} task`, () => {
    const task = denoJson.tasks[taskName];
    const m = task.match(/--allow-env=(\S+)/);
    assert.ok(m, `${taskName} task has no --allow-env= list`);
    const allowed = m[1].split(",");
    const covered = (name: string) =>
      allowed.some((a) => a.endsWith("*") ? name.startsWith(a.slice(0, -1)) : a === name);
    const missing = ENV_NAMES.filter((n) => !covered(n));
    assert.deepEqual(missing, [], `not in --allow-env: ${missing.join(", ")}`);
  });
}

Deno.test("a seed's environment name that qudag does not read is recorded with where the setting lives", () => {
  const c = resolveConfig({ env: { EXCHANGE_NETWORK_KEY: "shared-network-secret", API_KEY: "k" } });
  assert.deepEqual(c.moved.map((m) => m.name), ["EXCHANGE_NETWORK_KEY", "API_KEY"]);
  assert.match(c.moved[1].message, /QUDAG_API_KEY/);
  assert.deepEqual(resolveConfig({ env: { EXCHANGE_NETWORK_KEY: "" } }).moved, []);
  for (const name of Object.keys(MOVED_ENV)) assert.ok(ENV_NAMES.includes(name), `${name} is read (to be refused)`);
});

Deno.test("p2p.peers takes host names and IPv6 literals and names a malformed entry", () => {
  const c = resolveConfig({ env: { QUDAG_PEERS: "qudag-node2.internal:4001,[fdaa:0:1::2]:4001, 10.0.0.3:4001" } });
  assert.deepEqual(c.p2p.peers, ["qudag-node2.internal:4001", "[fdaa:0:1::2]:4001", "10.0.0.3:4001"]);
  assert.throws(
    () => resolveConfig({ env: { QUDAG_PEERS: "qudag-node2.internal" } }),
    /p2p.peers entry "qudag-node2.internal" \(from env QUDAG_PEERS\) is invalid: expected host:port/,
  );
  assert.throws(() => resolveConfig({ flags: { "--peer": ["a:70000"] } }), /p2p.peers entry "a:70000"/);
});

Deno.test("cli.exchange_url comes from QUDAG_EXCHANGE_URL", () => {
  assert.equal(resolveConfig({}).cli.exchangeUrl, null);
  assert.equal(
    resolveConfig({ env: { QUDAG_EXCHANGE_URL: "http://127.0.0.1:7103" } }).cli.exchangeUrl,
    "http://127.0.0.1:7103",
  );
});

Deno.test("resolveConfig() reads CORS origins and cache ages; refuses an origin with a path or no scheme", () => {
  const d = resolveConfig({});
  assert.deepEqual(d.http.corsOrigins, []);
  assert.equal(d.http.cacheMaxAgeS, 2);
  assert.equal(d.http.cacheImmutableMaxAgeS, 86_400);
  const c = resolveConfig({
    env: {
      QUDAG_HTTP_CORS_ORIGINS: "https://app.example, http://localhost:3000,http://[::1]:8000",
      QUDAG_HTTP_CACHE_MAX_AGE_S: "0",
    },
    toml: { text: "[http]\ncors_max_age_s = 60\ncache_immutable_max_age_s = 31536000\n", name: "q.toml" },
  });
  assert.deepEqual(c.http.corsOrigins, ["https://app.example", "http://localhost:3000", "http://[::1]:8000"]);
  assert.equal(c.http.corsMaxAgeS, 60);
  assert.equal(c.http.cacheMaxAgeS, 0);
  assert.equal(c.http.cacheImmutableMaxAgeS, 31_536_000);
  assert.deepEqual(resolveConfig({ env: { QUDAG_HTTP_CORS_ORIGINS: "*" } }).http.corsOrigins, ["*"]);
  for (const bad of ["app.example", "https://app.example/", "https://app.example/path", "ftp://x.example"]) {
    assert.throws(
      () => resolveConfig({ env: { QUDAG_HTTP_CORS_ORIGINS: bad } }),
      (e: unknown) => e instanceof ConfigError && /http\.cors_origins .* is invalid/.test(e.message),
      bad,
    );
  }
  assert.throws(() => resolveConfig({ env: { QUDAG_HTTP_CACHE_MAX_AGE_S: "3601" } }), ConfigError);
});

Deno.test("resolveConfig(): the batching settings, by default and from the environment", () => {
  const d = resolveConfig({}).consensus;
  assert.deepEqual([d.batchDelayMs, d.batchWindow, d.batchDelayMaxMs, d.batchTxsMax], [20, 2, 250, 256]);
  const c = resolveConfig({
    env: { QUDAG_BATCH_DELAY_MS: "5", QUDAG_BATCH_WINDOW: "4", QUDAG_BATCH_DELAY_MAX_MS: "500" },
  }).consensus;
  assert.deepEqual([c.batchDelayMs, c.batchWindow, c.batchDelayMaxMs], [5, 4, 500]);
  assert.match(configError(() => resolveConfig({ env: { QUDAG_BATCH_WINDOW: "0" } })), /consensus\.batch_window/);
});

Deno.test("resolveConfig(): consensus.fetch_grace_ms defaults to the engine's grace, from TOML or the environment", () => {
  assert.equal(resolveConfig({}).consensus.fetchGraceMs, FETCH_GRACE_MS_DEFAULT);
  assert.equal(resolveConfig({ env: { QUDAG_FETCH_GRACE_MS: "0" } }).consensus.fetchGraceMs, 0);
  assert.equal(
    resolveConfig({ toml: { text: "[consensus]\nfetch_grace_ms = 400\n", name: TOML_NAME } }).consensus.fetchGraceMs,
    400,
  );
  assert.match(configError(() => resolveConfig({ env: { QUDAG_FETCH_GRACE_MS: "-1" } })), /consensus\.fetch_grace_ms/);
  assert.match(
    configError(() => resolveConfig({ env: { QUDAG_FETCH_GRACE_MS: "10001" } })),
    /consensus\.fetch_grace_ms/,
  );
});
