/** `qudag exchange` without a node: flags, values, secrets and proofs are checked before anything is sent. */
import assert from "node:assert/strict";
import { resolveConfig } from "../../config/mod.ts";
import { type Io, runCli } from "../mod.ts";
import { checkProof, DEFAULT_EXCHANGE_URL, exchangeNodeUrl, hoursArg, rateArg } from "./mod.ts";
import { CliError } from "../_errors.ts";

/** A port nothing listens on: any request that slips through fails with node_unreachable, not a hang. */
const DEAD_NODE = "http://127.0.0.1:9";

function fakeIo(env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    isTerminal: () => false,
    readSecret: () => Promise.reject(new Error("no terminal in tests")),
    env: () => ({ ...env }),
  };
  return { io, out, err };
}

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  const dir = Deno.makeTempDirSync({ prefix: "qudag_exchange_cli_test_" });
  try {
    const { io, out, err } = fakeIo({ QUDAG_DATA_DIR: dir, QUDAG_NODE_URL: DEAD_NODE, ...env });
    const code = await runCli(["exchange", ...args], io);
    return { code, out: out.join("\n"), err: err.join("\n"), dir };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const SEED = "11".repeat(32);

Deno.test("exchange lists the seeds' 15 commands", async () => {
  const r = await run(["--help"]);
  assert.equal(r.code, 0);
  for (
    const c of [
      "create-account",
      "balance",
      "transfer",
      "mint",
      "burn",
      "accounts",
      "supply",
      "status",
      "deploy-immutable",
      "configure-fees",
      "fee-status",
      "immutable-status",
      "verify-agent",
      "update-usage",
      "calculate-fee",
    ]
  ) assert.match(r.out, new RegExp(`^  ${c} `, "m"), c);
});

Deno.test("exchange commands refuse unknown flags and missing required flags with exit 2", async () => {
  for (
    const [args, message] of [
      [["balance", "--acount", "alice"], /unknown flag --acount/],
      [["transfer", "--from", "a", "--to", "b", "--amount", "1", "--fee", "1"], /unknown flag --fee/],
      [["status", "--examples"], /unknown flag --examples/],
      [["balance"], /--account is required/],
      [["transfer", "--from", "a", "--to", "b"], /--amount is required/],
      [["mint", "--amount", "5"], /--account is required/],
      [["create-account"], /--name is required/],
      [["create-account", "--name", "Alice Smith"], /is not an account name/],
      [["balance", "--account", "not a name"], /neither an account name nor a 64-hex-digit account id/],
      [["verify-agent", "--account", "alice"], /--proof-path is required/],
      [["accounts", "--format", "yaml"], /--format "yaml" is not text\|json/],
      [["configure-fees"], /give at least one fee parameter/],
      [["supply", "extra"], /unexpected argument "extra"/],
    ] as const
  ) {
    const r = await run([...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message, args.join(" "));
    assert.match(r.err, /usage: qudag exchange /);
  }
});

Deno.test("exchange amounts: malformed values exit 2 naming the value and the core's code", async () => {
  for (
    const [amount, code] of [
      ["-5", "amount_invalid"],
      ["1.0000001", "amount_too_many_decimals"],
      ["18446744073709.551616", "amount_overflow"],
      ["1e5", "amount_invalid"],
      ["1,000", "amount_invalid"],
      ["0", "amount_zero"],
    ]
  ) {
    for (
      const args of [
        ["transfer", "--from", "alice", "--to", "bob", "--amount", amount],
        ["mint", "--account", "alice", "--amount", amount],
        ["burn", "--account", "alice", "--amount", amount],
        ["calculate-fee", "--account", "alice", "--amount", amount],
      ]
    ) {
      const r = await run(args, { EXCHANGE_MASTER_KEY: SEED });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.ok(r.err.includes(`--amount ${JSON.stringify(amount)}`), r.err);
      assert.ok(r.err.includes(`[${code}]`), r.err);
    }
  }
  const fee = await run(["transfer", "--from", "a", "--to", "b", "--amount", "1", "--max-fee", "x"]);
  assert.equal(fee.code, 2);
  assert.match(fee.err, /--max-fee "x" is not an amount of rUv/);
  const memo = await run(["transfer", "--from", "a", "--to", "b", "--amount", "1", "--memo", "x".repeat(257)]);
  assert.equal(memo.code, 2);
  assert.match(memo.err, /--memo is 257 bytes, at most 256/);
});

Deno.test("exchange rates, durations and hours are exact decimals; bad ones exit 2", async () => {
  assert.equal(rateArg("--f-min", "0.001"), 1_000_000);
  assert.equal(rateArg("--f-min", "0.0025"), 2_500_000);
  assert.equal(rateArg("--f-max", "0.010"), 10_000_000);
  assert.equal(rateArg("--f-max", "1"), 1_000_000_000);
  assert.equal(hoursArg("--grace-period", "24"), 86_400_000n);
  assert.equal(hoursArg("--grace-period", "0.001"), 3_600n);
  assert.equal(hoursArg("--grace-period", "1.5"), 5_400_000n);
  assert.equal(hoursArg("--grace-period", "0.000001"), 4n); // 3.6 ms, rounded half up
  for (
    const [args, message] of [
      [["configure-fees", "--f-min", "2"], /--f-min "2" is more than 1/],
      [["configure-fees", "--f-min", "-0.1"], /--f-min "-0.1" is not a fraction/],
      [["configure-fees", "--f-max", "0.0000000001"], /at most 9 decimals/],
      [["configure-fees", "--time-constant-days", "0"], /must be more than 0 days/],
      [["configure-fees", "--usage-threshold", "-1"], /\[amount_invalid\]/],
      [["deploy-immutable", "--grace-period", "abc"], /--grace-period "abc" is not a number of hours/],
      [["deploy-immutable", "--grace-period", "9000"], /more than 8760 hours/],
      [["verify-agent", "--account", "a", "--proof-path", "p", "--expiry-days", "0"], /more than 0 days/],
    ] as const
  ) {
    const r = await run([...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message, args.join(" "));
  }
});

Deno.test("exchange role commands say which secret is missing, before contacting a node", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag_exchange_proof_" });
  try {
    const proof = `${dir}/proof.json`;
    Deno.writeTextFileSync(
      proof,
      JSON.stringify({
        format: "qudag-agent-proof/1",
        account: "alice",
        issuedAt: "2026-01-01T00:00:00Z",
        evidence: { checked: true },
      }),
    );
    for (
      const [args, secret] of [
        [["mint", "--account", "alice", "--amount", "5"], "EXCHANGE_MASTER_KEY"],
        [["verify-agent", "--account", "alice", "--proof-path", proof], "AGENT_VERIFICATION_KEY"],
        [["deploy-immutable", "--grace-period", "24"], "IMMUTABLE_GOVERNANCE_KEY"],
      ] as const
    ) {
      const r = await run([...args], { QUDAG_DATA_DIR: dir });
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.err}`);
      assert.ok(r.err.includes(secret), r.err);
      assert.match(
        r.err,
        /; a local chain made by `deno task dev` keeps it in .*, none there\) or pass --key-path FILE \[key_missing\]$/,
      );
      // A malformed secret is named, its value never shown.
      const bad = await run([...args], { QUDAG_DATA_DIR: dir, [secret]: "not-a-seed-value" });
      assert.equal(bad.code, 1);
      assert.match(bad.err, new RegExp(`${secret} must be a 32-byte ML-DSA-87 seed .*\\[key_invalid\\]`));
      assert.ok(!bad.err.includes("not-a-seed-value"));
      // With the secret, the next step is the node (here: none).
      const ok = await run([...args], { QUDAG_DATA_DIR: dir, [secret]: SEED });
      assert.equal(ok.code, 1);
      assert.match(ok.err, /\[node_unreachable\]$/);
    }
    const missingFile = await run(["deploy-immutable", "--key-path", `${dir}/nope.key.json`], { QUDAG_DATA_DIR: dir });
    assert.equal(missingFile.code, 1);
    assert.match(missingFile.err, /cannot read --key-path .*nope\.key\.json: no such file \[key_not_found\]/);
    // configure-fees reads the parameters in force first: unchanged ones need no key at all.
    const fees = await run(["configure-fees", "--f-min", "0.001"], { QUDAG_DATA_DIR: dir });
    assert.match(fees.err, /\[node_unreachable\]$/);
    // In network mode local, a dev chain's authority key beside its data stands in for the secret.
    Deno.mkdirSync(`${dir}/exchange-keys`);
    Deno.writeTextFileSync(`${dir}/exchange-keys/exchange-master.seed`, SEED + "\n");
    const local = await run(["mint", "--account", "alice", "--amount", "5"], { QUDAG_DATA_DIR: dir });
    assert.match(local.err, /\[node_unreachable\]$/, "signed with the local key, then tried the node");
    const testnet = await run(["mint", "--account", "alice", "--amount", "5"], {
      QUDAG_DATA_DIR: dir,
      NETWORK_MODE: "testnet",
    });
    assert.match(testnet.err, /set EXCHANGE_MASTER_KEY .*or pass --key-path FILE \[key_missing\]$/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("exchange account commands need the account's key in the store", async () => {
  for (
    const args of [
      ["transfer", "--from", "alice", "--to", "bob", "--amount", "1"],
      ["burn", "--account", "alice", "--amount", "1"],
    ]
  ) {
    const r = await run(args, { QUDAG_KEY_PASSPHRASE: "x" });
    assert.equal(r.code, 1);
    assert.match(r.err, /no account key for "alice" in .*create-account --name NAME.*\[key_not_found\]$/);
  }
  // create-account asks the node before making a key.
  const c = await run(["create-account", "--name", "alice"], { QUDAG_KEY_PASSPHRASE: "x" });
  assert.equal(c.code, 1);
  assert.match(c.err, /cannot reach a node at http:\/\/127\.0\.0\.1:9.*\[node_unreachable\]$/);
});

Deno.test("exchange talks to the local exchange API (8081) unless --node or QUDAG_NODE_URL says otherwise", () => {
  assert.equal(exchangeNodeUrl(resolveConfig({ env: {} })), DEFAULT_EXCHANGE_URL);
  assert.equal(DEFAULT_EXCHANGE_URL, "http://127.0.0.1:8081");
  assert.equal(
    exchangeNodeUrl(resolveConfig({ env: { QUDAG_NODE_URL: "http://10.0.0.1:9999" } })),
    "http://10.0.0.1:9999",
  );
  assert.equal(
    exchangeNodeUrl(resolveConfig({ env: {}, flags: { "--node": "https://x.example" } })),
    "https://x.example",
  );
});

Deno.test("checkProof() accepts the documented format and names what is wrong otherwise", () => {
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const good = {
    format: "qudag-agent-proof/1",
    account: "alice",
    issuedAt: "2026-11-01T00:00:00Z",
    issuer: "kyc",
    evidence: { method: "document" },
  };
  const now = Date.parse("2026-11-21T00:00:00Z");
  assert.deepEqual(checkProof(enc(good), "p.json", now), { account: "alice" });
  for (
    const [doc, message] of [
      [[], /not a JSON object/],
      [{ ...good, format: "other/1" }, /format is "other\/1"/],
      [{ ...good, account: "Alice!" }, /account must be/],
      [{ ...good, issuedAt: "yesterday" }, /issuedAt must be an ISO 8601 date/],
      [{ ...good, issuedAt: "2027-01-01T00:00:00Z" }, /is in the future/],
      [{ ...good, issuer: 5 }, /issuer must be a string/],
      [{ ...good, evidence: {} }, /evidence must be a non-empty JSON object/],
    ] as const
  ) {
    assert.throws(() => checkProof(enc(doc), "p.json", now), (e: unknown) => {
      assert.ok(e instanceof CliError);
      assert.equal(e.code, "proof_invalid");
      assert.match(e.message, message);
      return true;
    });
  }
  assert.throws(() => checkProof(new Uint8Array([0xff, 0xfe]), "p.json", now), /not UTF-8 JSON/);
});
