/** `qudag checkpoint`: offline checks of checkpoint certificates against a genesis file. */
import {
  certificateFromJson,
  CheckpointError,
  type CheckpointStatement,
  quorum,
  statementDigest,
  verifyCertificate,
} from "../checkpoint/mod.ts";
import { selectCryptoBackend } from "../crypto/select.ts";
import { type Genesis, readGenesis } from "../node/genesis.ts";
import { UsageError } from "./_args.ts";
import type { Command, Group, Io } from "./_command.ts";
import { CONFIG_FLAG, configFlagSpecs, loadConfig } from "./_config.ts";
import { CliError } from "./_errors.ts";

/** A certificate of 1,024 signatures is ~6.4 MB of JSON; anything much larger is not one. */
const CERTIFICATE_FILE_BYTES_MAX = 8 * 1024 * 1024;
/** Date's range: ±8.64e15 ms around 1970. */
const DATE_MS_MAX = 8.64e15;

function readCertificateFile(path: string): unknown {
  let bytes: Uint8Array;
  try {
    const size = Deno.statSync(path).size;
    if (size > CERTIFICATE_FILE_BYTES_MAX) {
      throw new CheckpointError(
        "checkpoint_malformed",
        `checkpoint file ${path} is ${size} bytes, more than ${CERTIFICATE_FILE_BYTES_MAX}`,
      );
    }
    bytes = Deno.readFileSync(path);
  } catch (cause) {
    if (cause instanceof CheckpointError) throw cause;
    const why = cause instanceof Deno.errors.NotFound ? "no such file" : (cause as Error).message;
    throw new CliError("checkpoint_unreadable", `cannot read checkpoint file ${path}: ${why}`, { cause });
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new CheckpointError("checkpoint_malformed", `checkpoint file ${path} is not UTF-8 JSON`, { cause });
  }
}

function isoOf(ms: number): string | null {
  return ms <= DATE_MS_MAX ? new Date(ms).toISOString() : null;
}

function describe(s: CheckpointStatement, genesis: Genesis, signers: readonly string[], backend: string) {
  // Signers in genesis order, so "node1, node2, node4" reads like the genesis file.
  const named = genesis.validators.filter((v) => signers.includes(v.id)).map((v) => ({ id: v.id, name: v.name }));
  return {
    certified: true,
    seq: s.seq,
    chainId: s.chainId.toHex(),
    network: genesis.network,
    digest: statementDigest(s).toHex(),
    boundaryMs: s.boundaryMs,
    boundary: isoOf(s.boundaryMs),
    prevBoundaryMs: s.prevBoundaryMs,
    vertexCount: s.vertexCount,
    frontier: [...s.frontier],
    txAccumulator: s.txAccumulator.toHex(),
    stateHash: s.stateHash.toHex(),
    journalHash: s.journalHash.toHex(),
    prevDigest: s.prevDigest.toHex(),
    validators: genesis.validators.length,
    quorum: quorum(genesis.validators.length),
    signers: named,
    cryptoBackend: backend,
  };
}

/** With --json a refusal is a JSON object on stdout (exit 1); without, an `error: … [code]` line from runCli. */
function refuse(io: Io, json: boolean, e: CheckpointError): number {
  if (!json) throw e;
  io.out(JSON.stringify({ certified: false, code: e.code, message: e.message }, null, 2));
  return 1;
}

const verify: Command = {
  name: "verify",
  summary: "check a checkpoint certificate against a genesis file, offline",
  usage: "qudag checkpoint verify FILE --genesis GENESIS [--json]",
  maxPositionals: 1,
  flags: [
    {
      name: "--genesis",
      kind: "string",
      value: "GENESIS",
      help: "the chain's genesis file (its validators and chain id)",
    },
    { name: "--json", kind: "bool", help: "print the result as JSON" },
    CONFIG_FLAG,
    ...configFlagSpecs(["crypto.backend"]),
  ],
  details: [
    "FILE is a qudag-checkpoint/1 JSON certificate. It is certified when more than 2/3 of the",
    "genesis validators signed its statement and every signature in it verifies.",
    "Exit codes: 0 certified, 1 not certified (the reason's code is printed), 2 usage.",
  ].join("\n"),
  async run(parsed, io) {
    const file = parsed.positionals[0];
    if (!file) throw new UsageError("name a checkpoint certificate file");
    const genesisPath = parsed.flags["--genesis"];
    if (typeof genesisPath !== "string") throw new UsageError("--genesis GENESIS is required");
    const json = parsed.flags["--json"] === true;
    const config = loadConfig(parsed, io);
    const genesis = readGenesis(genesisPath);
    let cert;
    try {
      cert = certificateFromJson(readCertificateFile(file));
    } catch (e) {
      if (e instanceof CheckpointError) return refuse(io, json, e);
      throw e;
    }
    // "auto" falls back from native to WebCrypto to noble when the native library is missing.
    const { backend, name } = await selectCryptoBackend({
      requested: config.crypto.backend,
      nativeLibraryPath: config.crypto.nativeLibrary,
    });
    const verdict = await verifyCertificate(
      cert,
      { chainId: genesis.chainId, validators: genesis.validators },
      async (publicKey, message, signature) =>
        await (await backend.mlDsaVerifier(publicKey)).verify(message, signature),
    );
    if (!verdict.ok) return refuse(io, json, new CheckpointError(verdict.code, verdict.message));
    const d = describe(cert.statement, genesis, verdict.signers, name);
    if (json) {
      io.out(JSON.stringify(d, null, 2));
      return 0;
    }
    io.out(
      `checkpoint ${d.seq} of chain ${d.chainId.slice(0, 16)}…: certified by ${d.signers.length} of ${d.validators} ` +
        `validators (${d.signers.map((v) => v.name).join(", ")}); state hash ${d.stateHash}; ` +
        `boundary ${d.boundary ?? `${d.boundaryMs} ms`}`,
    );
    return 0;
  },
};

export const checkpoint: Group = {
  name: "checkpoint",
  summary: "verify validator-signed checkpoint certificates",
  commands: [verify],
};
