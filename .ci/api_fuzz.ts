/**
 * CI: Schemathesis against a real node. Starts a one-validator testnet
 * (scripts/testnet.ts: a real node process under the start task's permission
 * flags, with the exchange API, an API key, a vault passphrase and a key store
 * passphrase), then runs `st run` over every operation of /openapi.json: the
 * public API on the node's HTTP port, the exchange operations on its exchange
 * port, with a fixed example budget and seed. Exits non-zero when Schemathesis
 * reports a failure; prints the figures (operations, cases, failures).
 *
 *   deno run -A .ci/api_fuzz.ts --st PATH/TO/st [--examples N] [--seed N] [--report DIR]
 */
import { startTestnet } from "../scripts/testnet.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const ST = flag("--st", "st");
const EXAMPLES = flag("--examples", "25");
const SEED = flag("--seed", "20261202");
const REPORT = flag("--report", "");

/**
 * Every check but positive_data_acceptance, which wants every schema-valid
 * request accepted: this API refuses well-formed requests on their meaning
 * (a vertex whose signature does not verify, an envelope sealed to another
 * key) with 422 and a stable code, and no schema can say which bytes verify.
 */
const CHECKS = [
  "not_a_server_error",
  "status_code_conformance",
  "content_type_conformance",
  "response_headers_conformance",
  "response_schema_conformance",
  "negative_data_rejection",
  "missing_required_header",
  "unsupported_method",
  "allow_header_conformance",
  "ignored_auth",
  "use_after_free",
  "ensure_resource_availability",
].join(",");

/** Paths the exchange port serves (its own, and the ones both ports serve); the rest are the public port's. */
const EXCHANGE_PATHS = "^/api/v1/exchange/";

interface Figures {
  name: string;
  operations: number;
  cases: number;
  failures: number;
  code: number;
  seconds: number;
}

async function run(name: string, base: string, apiKey: string, filter: string[]): Promise<Figures> {
  const args = [
    "run",
    `${base}/openapi.json`,
    "--url",
    base,
    "-H",
    `x-api-key: ${apiKey}`,
    "--checks",
    CHECKS,
    "--max-examples",
    EXAMPLES,
    "--seed",
    SEED,
    // One worker: Hypothesis' lambda introspection is not thread-safe on Python 3.11 (a Runtime Error, not a finding).
    "--workers",
    "1",
    // Generation health checks: a 4,627-byte signature outgrows Hypothesis' buffer; that is no failure of the API.
    "--suppress-health-check",
    "data_too_large,filter_too_much,too_slow",
    "--request-timeout",
    "30",
    "--no-color",
    ...filter,
    ...(REPORT ? ["--report", "junit", "--report-junit-path", `${REPORT}/${name}.xml`] : []),
  ];
  const started = performance.now();
  // In the temporary directory: Schemathesis keeps a cache (.schemathesis/) in its working directory.
  const out = await new Deno.Command(ST, { args, cwd: dir, stdout: "piped", stderr: "piped" }).output();
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  console.log(text.split(apiKey).join("[api key]"));
  const tested = /Tested: (\d+)/.exec(text);
  const cases = /(\d+) generated/.exec(text);
  const failures = /(\d+) failures?,|found (\d+) unique failures/.exec(text);
  return {
    name,
    operations: Number(tested?.[1] ?? 0),
    cases: Number(cases?.[1] ?? 0),
    failures: Number(failures?.[1] ?? failures?.[2] ?? (out.code === 0 ? 0 : -1)),
    code: out.code,
    seconds,
  };
}

const dir = Deno.makeTempDirSync({ prefix: "qudag-api-fuzz-" });
let code = 1;
const net = await startTestnet({
  nodes: 1,
  dir,
  basePort: 0,
  quiet: true,
  env: {
    QUDAG_KEY_PASSPHRASE: "api-fuzz-key-store",
    QUDAG_VAULT_PASSPHRASE: "api-fuzz-vault",
    // Limits stay on (every response carries the RateLimit fields, which the header checks read) but far above
    // Schemathesis' volume, so that no verdict depends on timing; requests without the key (ignored_auth) are
    // budgeted by address.
    ...Object.fromEntries(
      ["READS_PER_MINUTE", "READS_BURST", "WRITES_PER_MINUTE", "WRITES_BURST"].map((k) => [
        `QUDAG_HTTP_RATE_LIMIT_${k}`,
        "1000000",
      ]),
    ),
  },
});
try {
  const node = net.description.nodes[0];
  const apiKey = Deno.readTextFileSync(net.description.apiKeyFile).trim();
  const results = [
    // The event stream never ends by itself (a reader would wait out the request timeout): src/http/feed_test.ts.
    await run("public", node.http, apiKey, ["--exclude-path-regex", `${EXCHANGE_PATHS}|^/api/v1/stream$`]),
    await run("exchange", node.exchange, apiKey, ["--include-path-regex", `${EXCHANGE_PATHS}|^/api/v1/status$`]),
  ];
  for (const r of results) {
    console.log(
      `schemathesis ${r.name}: ${r.operations} operations, ${r.cases} cases, ${r.failures} failures, ${r.seconds} s`,
    );
  }
  const log = net.log(0);
  const crashed = log.split("\n").filter((l) => l.includes('"level":"error"'));
  if (crashed.length > 0) console.log(`node log errors:\n${crashed.join("\n")}`);
  code = results.every((r) => r.code === 0) && crashed.length === 0 ? 0 : 1;
} finally {
  await net.stop();
  Deno.removeSync(dir, { recursive: true });
}
Deno.exit(code);
