import assert from "node:assert/strict";
import { fromHex, toHex } from "../keys/mod.ts";
import { CHAIN_B, testContext, testValidators } from "./_testing.ts";
import { ReceiveCipher, SendCipher } from "./channel.ts";
import { dataFrameBytesMax, FINISH_BYTES, HELLO_BYTES, KIND_APP, KIND_CONFIRM, REPLY_BYTES } from "./frame.ts";
import {
  checkConfirm,
  deriveSessionSecrets,
  type HandshakeContext,
  HandshakeError,
  type HandshakeFailure,
  InitiatorHandshake,
  ReplayCache,
  ResponderHandshake,
  type Session,
  x25519KeyPair,
  x25519Shared,
} from "./handshake.ts";

async function refusedWith(reason: HandshakeFailure, run: () => unknown): Promise<HandshakeError> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError ${reason}, got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  return caught;
}

interface Run {
  hello: Uint8Array;
  reply: Uint8Array;
  finish: Uint8Array;
  initiator: Session;
  responder: Session;
}

async function handshake(i: HandshakeContext, r: HandshakeContext, replays = new ReplayCache(16)): Promise<Run> {
  const init = await InitiatorHandshake.start(i);
  const resp = new ResponderHandshake(r, replays);
  const reply = await resp.onHello(init.hello);
  const { finish, session: initiator } = await init.onReply(reply);
  const responder = await resp.onFinish(finish);
  return { hello: init.hello, reply, finish, initiator, responder };
}

const [a, b, c] = await testValidators(3);

Deno.test("handshake: both sides get mirrored keys, the peer's id and the same session id", async () => {
  const run = await handshake(await testContext(a, [a, b]), await testContext(b, [a, b]));
  assert.equal(run.hello.length, HELLO_BYTES);
  assert.equal(run.reply.length, REPLY_BYTES);
  assert.equal(run.finish.length, FINISH_BYTES);
  assert.equal(run.initiator.peerId, b.id);
  assert.equal(run.responder.peerId, a.id);
  assert.deepEqual(run.initiator.sendKey, run.responder.receiveKey);
  assert.deepEqual(run.initiator.receiveKey, run.responder.sendKey);
  assert.notDeepEqual(run.initiator.sendKey, run.initiator.receiveKey);
  assert.equal(run.initiator.sessionId, run.responder.sessionId);
  checkConfirm(run.initiator, run.responder.confirmMac);

  // The keys work as a channel both ways.
  const max = dataFrameBytesMax(1024);
  const toB = await SendCipher.create(run.initiator.sendKey);
  const atB = await ReceiveCipher.create(run.responder.receiveKey, max);
  const toA = await SendCipher.create(run.responder.sendKey);
  const atA = await ReceiveCipher.create(run.initiator.receiveKey, max);
  assert.deepEqual((await atB.open(await toB.seal(KIND_APP, new Uint8Array([1, 2])))).payload, new Uint8Array([1, 2]));
  const confirm = await atA.open(await toA.seal(KIND_CONFIRM, run.responder.confirmMac));
  checkConfirm(run.initiator, confirm.payload);
});

Deno.test("handshake: every connection gets fresh session keys", async () => {
  const i = await testContext(a, [a, b]);
  const r = await testContext(b, [a, b]);
  const one = await handshake(i, r);
  const two = await handshake(i, r);
  assert.notDeepEqual(one.initiator.sendKey, two.initiator.sendKey);
  assert.notDeepEqual(one.initiator.receiveKey, two.initiator.receiveKey);
  assert.notEqual(one.initiator.sessionId, two.initiator.sessionId);
});

Deno.test("deriveSessionSecrets() depends on both the X25519 and the ML-KEM share, the transcript and the token", async () => {
  const x = new Uint8Array(32).fill(1);
  const k = new Uint8Array(32).fill(2);
  const th = new Uint8Array(32).fill(3);
  const token = new TextEncoder().encode("token");
  const base = await deriveSessionSecrets(x, k, th, token);
  const x2 = x.slice();
  x2[31] ^= 1;
  const k2 = k.slice();
  k2[0] ^= 0x80;
  const th2 = th.slice();
  th2[5] ^= 4;
  for (
    const changed of [
      await deriveSessionSecrets(x2, k, th, token), // X25519 broken, ML-KEM share intact: still different
      await deriveSessionSecrets(x, k2, th, token), // ML-KEM broken, X25519 share intact: still different
      await deriveSessionSecrets(x, k, th2, token),
    ]
  ) {
    assert.notDeepEqual(changed.initiatorToResponderKey, base.initiatorToResponderKey);
    assert.notDeepEqual(changed.responderToInitiatorKey, base.responderToInitiatorKey);
    assert.notDeepEqual(changed.initiatorTokenMac, base.initiatorTokenMac);
  }
  const otherToken = await deriveSessionSecrets(x, k, th, new TextEncoder().encode("tokem"));
  assert.deepEqual(otherToken.initiatorToResponderKey, base.initiatorToResponderKey);
  assert.notDeepEqual(otherToken.initiatorTokenMac, base.initiatorTokenMac);
  assert.notDeepEqual(otherToken.responderTokenMac, base.responderTokenMac);
  assert.deepEqual(await deriveSessionSecrets(x, k, th, token), base);
});

Deno.test("x25519KeyPair() and x25519Shared() match RFC 7748 section 6.1", async () => {
  const alice = await x25519KeyPair(fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  const bob = await x25519KeyPair(fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  assert.equal(toHex(alice.publicKey), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  assert.equal(toHex(bob.publicKey), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  assert.equal(toHex(await x25519Shared(alice.privateKey, bob.publicKey)), shared);
  assert.equal(toHex(await x25519Shared(bob.privateKey, alice.publicKey)), shared);
  await refusedWith("key_exchange", () => x25519Shared(alice.privateKey, new Uint8Array(32)));
});

Deno.test("handshake refuses another genesis", async () => {
  const init = await InitiatorHandshake.start(await testContext(a, [a, b], { chainId: CHAIN_B }));
  const resp = new ResponderHandshake(await testContext(b, [a, b]), new ReplayCache(16));
  await refusedWith("wrong_genesis", () => resp.onHello(init.hello));
});

Deno.test("handshake refuses a validator outside the genesis set, either way round", async () => {
  const init = await InitiatorHandshake.start(await testContext(a, [a, b]));
  const bc = await testContext(b, [b, c]);
  await refusedWith("unknown_validator", () => new ResponderHandshake(bc, new ReplayCache(16)).onHello(init.hello));
  // The responder c is unknown to an initiator whose genesis is {a, b}.
  const resp = new ResponderHandshake(await testContext(c, [a, c]), new ReplayCache(16));
  const reply = await resp.onHello(init.hello);
  await refusedWith("unknown_validator", () => init.onReply(reply));
});

Deno.test("handshake refuses a wrong or missing token, on the listening side first", async () => {
  for (const [ti, tr] of [["right", "wrong"], ["", "right"], ["right", ""]]) {
    const init = await InitiatorHandshake.start(await testContext(a, [a, b], { token: ti }));
    const resp = new ResponderHandshake(await testContext(b, [a, b], { token: tr }), new ReplayCache(16));
    const { finish, session } = await init.onReply(await resp.onHello(init.hello));
    await refusedWith("bad_token", () => resp.onFinish(finish));
    // A token proof from any other session (here with the responder's token) is refused by the initiator.
    const responderRun = await handshake(
      await testContext(a, [a, b], { token: tr }),
      await testContext(b, [a, b], { token: tr }),
    );
    await refusedWith("bad_token", () => checkConfirm(session, responderRun.responder.confirmMac));
  }
  // The same non-empty token on both sides passes.
  await handshake(await testContext(a, [a, b], { token: "t" }), await testContext(b, [a, b], { token: "t" }));
});

Deno.test("handshake refuses a replayed hello, and a replayed finish in a new session", async () => {
  const i = await testContext(a, [a, b]);
  const r = await testContext(b, [a, b]);
  const replays = new ReplayCache(16);
  const captured = await handshake(i, r, replays);
  await refusedWith("replayed_hello", () => new ResponderHandshake(r, replays).onHello(captured.hello));
  // A node with a fresh cache (restarted) answers the old hello, but the old finish does not verify.
  const fresh = new ResponderHandshake(r, new ReplayCache(16));
  await fresh.onHello(captured.hello);
  await refusedWith("bad_signature", () => fresh.onFinish(captured.finish));
});

Deno.test("handshake refuses a replayed reply and a tampered reply or finish", async () => {
  const i = await testContext(a, [a, b]);
  const r = await testContext(b, [a, b]);
  const old = await handshake(i, r);
  const init = await InitiatorHandshake.start(i);
  await refusedWith("bad_signature", () => init.onReply(old.reply));

  const init2 = await InitiatorHandshake.start(i);
  const resp2 = new ResponderHandshake(r, new ReplayCache(16));
  const reply = (await resp2.onHello(init2.hello)).slice();
  reply[100] ^= 1; // inside the ML-KEM ciphertext, which the responder signed
  await refusedWith("bad_signature", () => init2.onReply(reply));

  const init3 = await InitiatorHandshake.start(i);
  const resp3 = new ResponderHandshake(r, new ReplayCache(16));
  const { finish } = await init3.onReply(await resp3.onHello(init3.hello));
  const bad = finish.slice();
  bad[10] ^= 1;
  await refusedWith("bad_signature", () => resp3.onFinish(bad));
});

Deno.test("handshake refuses malformed, oversized and off-protocol frames", async () => {
  const i = await testContext(a, [a, b]);
  const r = await testContext(b, [a, b]);
  const init = await InitiatorHandshake.start(i);
  const resp = () => new ResponderHandshake(r, new ReplayCache(16));
  await refusedWith("malformed", () => resp().onHello(init.hello.subarray(0, 100)));
  await refusedWith("malformed", () => resp().onHello(new Uint8Array(0)));
  await refusedWith("oversized", () => resp().onHello(new Uint8Array(1 << 20)));
  const wrongType = init.hello.slice();
  wrongType[0] = 0x03;
  await refusedWith("malformed", () => resp().onHello(wrongType));
  const v2 = init.hello.slice();
  v2[2] = 2;
  await refusedWith("protocol_version", () => resp().onHello(v2));
  const self = await InitiatorHandshake.start(await testContext(b, [a, b]));
  await refusedWith("self_connection", () => resp().onHello(self.hello));
  const pinned = await InitiatorHandshake.start(i, c.id);
  await refusedWith("unexpected_peer", async () => pinned.onReply(await resp().onHello(pinned.hello)));
});

Deno.test("ReplayCache forgets the oldest nonce beyond its bound", () => {
  const cache = new ReplayCache(2);
  const n = (x: number) => new Uint8Array(32).fill(x);
  assert.ok(cache.add(n(1)));
  assert.ok(!cache.add(n(1)));
  assert.ok(cache.add(n(2)));
  assert.ok(cache.add(n(3)));
  assert.ok(cache.add(n(1)), "1 was evicted");
  assert.ok(!cache.add(n(3)));
});
