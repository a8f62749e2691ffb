import assert from "node:assert/strict";
import { certificateToJson, type CheckpointStatement, encodeStatement, statementDigest } from "../checkpoint/mod.ts";
import type { MlDsaSigner } from "../crypto/backend.ts";
import { createNobleBackend } from "../crypto/noble.ts";
import { type Genesis, makeGenesis, parseGenesis } from "../node/genesis.ts";
import { type Io, runCli } from "./mod.ts";

const noble = createNobleBackend();
const filled = (byte: number) => new Uint8Array(32).fill(byte);
const BOUNDARY_MS = Date.parse("2026-06-01T12:00:00.000Z");

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
  return { io, out: () => out.join("\n"), err: () => err.join("\n") };
}

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  const f = fakeIo(env);
  const code = await runCli(args, f.io);
  return { code, out: f.out(), err: f.err() };
}

interface Chain {
  dir: string;
  genesisPath: string;
  genesis: Genesis;
  signers: MlDsaSigner[];
}

/** A temp dir with a four-validator genesis (node1..node4) written the way scripts/testnet.ts writes one. */
async function withChain(fn: (chain: Chain) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "qudag_checkpoint_cli_" });
  try {
    const signers = await Promise.all([1, 2, 3, 4].map((i) => noble.mlDsaSigner(filled(0x60 + i))));
    const bytes = makeGenesis(
      "checkpoint-test",
      "2026-01-01T00:00:00.000Z",
      signers.map((s, i) => ({ name: `node${i + 1}`, publicKey: s.publicKey })),
    );
    const genesisPath = `${dir}/genesis.json`;
    Deno.writeFileSync(genesisPath, bytes);
    await fn({ dir, genesisPath, genesis: parseGenesis(bytes, genesisPath), signers });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function statementOf(chainId: Uint8Array): CheckpointStatement {
  return {
    chainId,
    seq: 12,
    boundaryMs: BOUNDARY_MS,
    prevBoundaryMs: BOUNDARY_MS - 10_000,
    vertexCount: 40,
    frontier: [filled(0x0a).toHex(), filled(0x0b).toHex()],
    txAccumulator: filled(0xa0),
    stateHash: filled(0x5a),
    journalHash: filled(0x10),
    prevDigest: filled(0xdd),
  };
}

/** Writes a certificate signed by the validators at `who` (0-based) and returns its path. */
async function writeCertificate(chain: Chain, who: number[], name: string, chainId = chain.genesis.chainId) {
  const statement = statementOf(chainId);
  const message = encodeStatement(statement);
  const signatures = await Promise.all(who.map(async (i) => ({
    validator: chain.genesis.validators[i].id,
    signature: await chain.signers[i].sign(message),
  })));
  const path = `${chain.dir}/${name}`;
  Deno.writeTextFileSync(path, JSON.stringify(certificateToJson({ statement, signatures }), null, 2));
  return path;
}

Deno.test("runCli() checkpoint verify prints a certificate signed by 3 of 4 validators and exits 0", () =>
  withChain(async (chain) => {
    const file = await writeCertificate(chain, [0, 1, 3], "cp12.json");
    const r = await run(["checkpoint", "verify", file, "--genesis", chain.genesisPath]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "");
    assert.equal(
      r.out,
      `checkpoint 12 of chain ${chain.genesis.chainIdHex.slice(0, 16)}…: certified by 3 of 4 validators ` +
        `(node1, node2, node4); state hash ${"5a".repeat(32)}; boundary 2026-06-01T12:00:00.000Z`,
    );
  }));

Deno.test("runCli() checkpoint verify --json prints the verdict as JSON on the noble backend", () =>
  withChain(async (chain) => {
    const file = await writeCertificate(chain, [0, 1, 2, 3], "cp12.json");
    const r = await run(["checkpoint", "verify", file, "--genesis", chain.genesisPath, "--json"], {
      QUDAG_CRYPTO_BACKEND: "noble",
    });
    assert.equal(r.code, 0, r.err);
    const d = JSON.parse(r.out);
    assert.equal(d.certified, true);
    assert.equal(d.seq, 12);
    assert.equal(d.chainId, chain.genesis.chainIdHex);
    assert.equal(d.digest, JSON.parse(Deno.readTextFileSync(file)).digest);
    assert.equal(d.quorum, 3);
    assert.equal(d.cryptoBackend, "noble");
    assert.deepEqual(d.signers.map((s: { name: string }) => s.name), ["node1", "node2", "node3", "node4"]);
  }));

Deno.test("runCli() checkpoint verify refuses an under-signed certificate with exit 1 and its code", () =>
  withChain(async (chain) => {
    const file = await writeCertificate(chain, [0, 2], "cp12.json");
    const r = await run(["checkpoint", "verify", file, "--genesis", chain.genesisPath]);
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.equal(
      r.err,
      "error: Cannot verify checkpoint 12: 2 of 4 validators signed, more than 2/3 (3) needed [checkpoint_under_signed]",
    );
    const json = await run(["checkpoint", "verify", file, "--genesis", chain.genesisPath, "--json"]);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.out).code, "checkpoint_under_signed");
    assert.equal(JSON.parse(json.out).certified, false);
  }));

Deno.test("runCli() checkpoint verify refuses another chain's certificate and a tampered one", () =>
  withChain(async (chain) => {
    const other = await writeCertificate(chain, [0, 1, 2, 3], "other.json", filled(0x77));
    const r = await run(["checkpoint", "verify", other, "--genesis", chain.genesisPath]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: Cannot verify checkpoint 12: it is for chain 7777.*\[checkpoint_wrong_chain\]$/);

    const file = await writeCertificate(chain, [0, 1, 2], "cp12.json");
    const doc = JSON.parse(Deno.readTextFileSync(file));
    doc.statement.stateHash = "5b".repeat(32);
    Deno.writeTextFileSync(file, JSON.stringify(doc));
    const edited = await run(["checkpoint", "verify", file, "--genesis", chain.genesisPath]);
    assert.equal(edited.code, 1);
    assert.match(edited.err, /\[checkpoint_digest_mismatch\]$/);
    // Re-stamping the digest does not help: the signatures are over the original statement.
    doc.digest = statementDigest({
      ...statementOf(chain.genesis.chainId),
      stateHash: filled(0x5b),
    }).toHex();
    Deno.writeTextFileSync(file, JSON.stringify(doc));
    const restamped = await run(["checkpoint", "verify", file, "--genesis", chain.genesisPath]);
    assert.equal(restamped.code, 1);
    assert.match(restamped.err, /does not verify over this statement \[checkpoint_bad_signature\]$/);
  }));

Deno.test("runCli() checkpoint verify reports unreadable, non-JSON and missing inputs", () =>
  withChain(async (chain) => {
    const missing = await run(["checkpoint", "verify", `${chain.dir}/none.json`, "--genesis", chain.genesisPath]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.err,
      /^error: cannot read checkpoint file .*none\.json: no such file \[checkpoint_unreadable\]$/,
    );
    Deno.writeTextFileSync(`${chain.dir}/junk.json`, "{ not json");
    const junk = await run(["checkpoint", "verify", `${chain.dir}/junk.json`, "--genesis", chain.genesisPath]);
    assert.equal(junk.code, 1);
    assert.match(junk.err, /not UTF-8 JSON \[checkpoint_malformed\]$/);
    const badGenesis = await run([
      "checkpoint",
      "verify",
      `${chain.dir}/junk.json`,
      "--genesis",
      `${chain.dir}/junk.json`,
    ]);
    assert.equal(badGenesis.code, 1);
    assert.match(badGenesis.err, /\[genesis_invalid\]$/);
    const noGenesis = await run(["checkpoint", "verify", `${chain.dir}/junk.json`]);
    assert.equal(noGenesis.code, 2);
    assert.match(noGenesis.err, /--genesis GENESIS is required/);
    assert.match(noGenesis.err, /usage: qudag checkpoint verify FILE/);
    const noFile = await run(["checkpoint", "verify", "--genesis", chain.genesisPath]);
    assert.equal(noFile.code, 2);
  }));

Deno.test("runCli() help checkpoint verify prints its usage", async () => {
  const r = await run(["help", "checkpoint", "verify"]);
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.includes("usage: qudag checkpoint verify FILE --genesis GENESIS [--json]"), r.out);
  const group = await run(["checkpoint", "--help"]);
  assert.equal(group.code, 0);
  assert.match(group.out, /verify\s+check a checkpoint certificate/);
});
