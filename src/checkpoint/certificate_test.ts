import assert from "node:assert/strict";
import { blake3 } from "../core/mod.ts";
import type { MlDsaSigner } from "../crypto/backend.ts";
import { createNobleBackend } from "../crypto/noble.ts";
import {
  certificateFromJson,
  type CertificateJson,
  certificateToJson,
  type CheckpointCertificate,
  type CheckpointSignature,
  quorum,
  type SignatureCheck,
  verifyCertificate,
} from "./certificate.ts";
import { CheckpointError, type CheckpointErrorCode, type CheckpointStatement, encodeStatement } from "./statement.ts";

const noble = createNobleBackend();
const filled = (byte: number) => new Uint8Array(32).fill(byte);

const STATEMENT: CheckpointStatement = {
  chainId: filled(0xc1),
  seq: 12,
  boundaryMs: 1_780_000_000_000,
  prevBoundaryMs: 1_779_999_990_000,
  vertexCount: 37,
  frontier: [filled(1).toHex(), filled(2).toHex()],
  txAccumulator: filled(0xa0),
  stateHash: filled(0x5a),
  journalHash: filled(0x10),
  prevDigest: filled(0xdd),
};

interface Fixture {
  /** Four genesis validators' signers, then one outsider. */
  signers: MlDsaSigner[];
  ids: string[];
  context: { chainId: Uint8Array; validators: { id: string; publicKey: Uint8Array }[] };
}

let fixture: Promise<Fixture> | undefined;
function setup(): Promise<Fixture> {
  return fixture ??= (async () => {
    const signers = await Promise.all([1, 2, 3, 4, 5].map((i) => noble.mlDsaSigner(filled(0x40 + i))));
    const ids = signers.map((s) => blake3(s.publicKey).toHex());
    const validators = signers.slice(0, 4).map((s, i) => ({ id: ids[i], publicKey: s.publicKey }));
    return { signers, ids, context: { chainId: STATEMENT.chainId, validators } };
  })();
}

async function sign(f: Fixture, who: number, statement = STATEMENT): Promise<CheckpointSignature> {
  return { validator: f.ids[who], signature: await f.signers[who].sign(encodeStatement(statement)) };
}

async function certificate(f: Fixture, who: number[]): Promise<CheckpointCertificate> {
  return { statement: STATEMENT, signatures: await Promise.all(who.map((i) => sign(f, i))) };
}

/** A real ML-DSA-87 check that counts its calls. */
function counting(): { verify: SignatureCheck; calls: () => number } {
  let calls = 0;
  return {
    verify: async (publicKey, message, signature) => {
      calls++;
      return await (await noble.mlDsaVerifier(publicKey)).verify(message, signature);
    },
    calls: () => calls,
  };
}

async function assertRefused(cert: CheckpointCertificate, code: CheckpointErrorCode, message: RegExp, calls?: number) {
  const f = await setup();
  const check = counting();
  const verdict = await verifyCertificate(cert, f.context, check.verify);
  assert.equal(verdict.ok, false);
  if (verdict.ok) return;
  assert.equal(verdict.code, code, verdict.message);
  assert.match(verdict.message, message);
  if (calls !== undefined) assert.equal(check.calls(), calls, "signatures verified");
}

Deno.test("quorum() is more than two thirds", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 10, 100].map(quorum), [1, 2, 3, 3, 4, 5, 5, 7, 67]);
  for (let n = 1; n <= 300; n++) {
    assert.ok(3 * quorum(n) > 2 * n && 3 * (quorum(n) - 1) <= 2 * n, `n=${n}`);
  }
  assert.throws(() => quorum(-1), RangeError);
});

Deno.test("verifyCertificate() certifies a statement signed by 3 of 4 and by 4 of 4 validators", async () => {
  const f = await setup();
  const three = await verifyCertificate(await certificate(f, [3, 0, 1]), f.context, counting().verify);
  assert.deepEqual(three, { ok: true, signers: [f.ids[3], f.ids[0], f.ids[1]].sort() });
  const all = await verifyCertificate(await certificate(f, [0, 1, 2, 3]), f.context, counting().verify);
  assert.deepEqual(all, { ok: true, signers: f.ids.slice(0, 4).sort() });
});

Deno.test("verifyCertificate() refuses 2 of 4 as under-signed without verifying anything", async () => {
  const f = await setup();
  await assertRefused(
    await certificate(f, [0, 1]),
    "checkpoint_under_signed",
    /^Cannot verify checkpoint 12: 2 of 4 validators signed, more than 2\/3 \(3\) needed$/,
    0,
  );
});

Deno.test("verifyCertificate() refuses a signature over another statement, even among enough good ones", async () => {
  const f = await setup();
  const other = { ...STATEMENT, stateHash: filled(0x5b) };
  const good = await certificate(f, [0, 1, 2]);
  const withBad = { statement: STATEMENT, signatures: [...good.signatures, await sign(f, 3, other)] };
  await assertRefused(withBad, "checkpoint_bad_signature", new RegExp(`validator ${f.ids[3].slice(0, 16)}`), 4);
  const replaced = { statement: STATEMENT, signatures: [...good.signatures.slice(0, 2), await sign(f, 2, other)] };
  await assertRefused(replaced, "checkpoint_bad_signature", /does not verify over this statement/);
});

Deno.test("verifyCertificate() refuses a signature filed under another validator's id", async () => {
  const f = await setup();
  const cert = await certificate(f, [0, 1, 2]);
  const mislabelled = [cert.signatures[0], cert.signatures[1], { ...cert.signatures[2], validator: f.ids[3] }];
  await assertRefused({ ...cert, signatures: mislabelled }, "checkpoint_bad_signature", /does not verify/);
});

Deno.test("verifyCertificate() refuses a signer outside the genesis before verifying", async () => {
  const f = await setup();
  await assertRefused(await certificate(f, [0, 1, 2, 4]), "checkpoint_unknown_signer", /not a genesis validator/, 0);
});

Deno.test("verifyCertificate() refuses a validator that signs twice", async () => {
  const f = await setup();
  const cert = await certificate(f, [0, 1, 2]);
  const twice = { ...cert, signatures: [...cert.signatures, await sign(f, 1)] };
  await assertRefused(twice, "checkpoint_duplicate_signer", /signed twice/, 0);
});

Deno.test("verifyCertificate() refuses a certificate of another chain", async () => {
  const f = await setup();
  const cert = await certificate(f, [0, 1, 2, 3]);
  const verdict = await verifyCertificate(cert, { ...f.context, chainId: filled(0xc2) }, counting().verify);
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.code, "checkpoint_wrong_chain");
});

Deno.test("verifyCertificate() refuses a malformed statement or signature as a result, not an exception", async () => {
  const f = await setup();
  const cert = await certificate(f, [0, 1, 2]);
  await assertRefused({ ...cert, statement: { ...STATEMENT, seq: 0 } }, "checkpoint_malformed", /seq is 0/, 0);
  const short = [...cert.signatures.slice(0, 2), { ...cert.signatures[2], signature: new Uint8Array(100) }];
  await assertRefused({ ...cert, signatures: short }, "checkpoint_malformed", /100 bytes, expected 4627/, 0);
});

Deno.test("certificateToJson() and certificateFromJson() round-trip through JSON text", async () => {
  const f = await setup();
  const cert = await certificate(f, [0, 1, 2]);
  const json = certificateToJson(cert);
  assert.equal(json.format, "qudag-checkpoint/1");
  assert.equal(json.statement.seq, "12");
  assert.equal(json.statement.boundaryMs, "1780000000000");
  assert.equal(json.digest, blake3(encodeStatement(STATEMENT)).toHex());
  assert.equal(json.signatures[0].signature, cert.signatures[0].signature.toBase64());
  const back = certificateFromJson(JSON.parse(JSON.stringify(json)));
  assert.deepEqual(back, {
    statement: { ...STATEMENT, frontier: [...STATEMENT.frontier] },
    signatures: cert.signatures,
  });
  assert.deepEqual(await verifyCertificate(back, f.context, counting().verify), {
    ok: true,
    signers: f.ids.slice(0, 3).sort(),
  });
});

Deno.test("certificateFromJson() refuses tampering", async () => {
  const f = await setup();
  const good = certificateToJson(await certificate(f, [0, 1, 2]));
  const tampered: [string, (j: CertificateJson) => void, CheckpointErrorCode, RegExp][] = [
    ["digest", (j) => j.digest = filled(0).toHex(), "checkpoint_digest_mismatch", /is not the statement's digest/],
    ["state hash", (j) => j.statement.stateHash = filled(0x5b).toHex(), "checkpoint_digest_mismatch", /digest/],
    ["bad base64", (j) => j.signatures[1].signature = "@@@@", "checkpoint_malformed", /not canonical base64/],
    ["base64 with a newline", (j) => j.signatures[1].signature += "\n", "checkpoint_malformed", /canonical base64/],
    ["short signature", (j) => j.signatures[0].signature = "AAAA", "checkpoint_malformed", /3 bytes, expected 4627/],
    ["format", (j) => (j as { format: string }).format = "qudag-checkpoint/2", "checkpoint_malformed", /format/],
    ["extra field", (j) => Object.assign(j, { note: 1 }), "checkpoint_malformed", /unknown field "note"/],
    [
      "missing field",
      (j) => delete (j.statement as Partial<CertificateJson["statement"]>).seq,
      "checkpoint_malformed",
      /no field seq/,
    ],
    ["seq as a number", (j) => (j.statement as unknown as { seq: number }).seq = 12, "checkpoint_malformed", /seq/],
    ["seq with a zero", (j) => j.statement.seq = "012", "checkpoint_malformed", /seq/],
    [
      "uppercase hex",
      (j) => j.statement.chainId = j.statement.chainId.toUpperCase(),
      "checkpoint_malformed",
      /chainId/,
    ],
    ["validator", (j) => j.signatures[0].validator = "node1", "checkpoint_malformed", /validator/],
    ["unsorted frontier", (j) => j.statement.frontier.reverse(), "checkpoint_malformed", /not sorted/],
  ];
  for (const [what, change, code, message] of tampered) {
    const j = structuredClone(good);
    change(j);
    assert.throws(() => certificateFromJson(j), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, `${what}: ${e}`);
      assert.equal(e.code, code, `${what}: ${e.message}`);
      assert.match(e.message, message, what);
      return true;
    });
  }
  for (const value of [null, [], "x", 1]) {
    assert.throws(
      () => certificateFromJson(value),
      (e: unknown) => (e as CheckpointError).code === "checkpoint_malformed",
    );
  }
});
