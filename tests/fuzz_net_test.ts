/**
 * Seeded fuzzing of every decoder of the peer port (tests/_fuzz.ts): WebSocket
 * frames and upgrade requests, the handshake's frames and its two state
 * machines (with real crypto), the encrypted channel, and the consensus
 * protocol. The seed is printed; QUDAG_FUZZ_SEED replays a run.
 */
import { encodeFrame, parseFrame, WsFrameError } from "../src/net/_ws_frame.ts";
import { checkUpgradeResponse, parseUpgradeRequest } from "../src/net/_ws_http.ts";
import { testContext, testValidators } from "../src/net/_testing.ts";
import { ChannelError, ReceiveCipher, SendCipher } from "../src/net/channel.ts";
import {
  checkDataFrame,
  decodeFinish,
  decodeHello,
  decodeReply,
  FrameError,
  KIND_APP,
  KIND_CONFIRM,
  KIND_PING,
} from "../src/net/frame.ts";
import { HandshakeError, InitiatorHandshake, ReplayCache, ResponderHandshake } from "../src/net/handshake.ts";
import { decodeMessage, encodeMessage, messageCost, ProtocolError, type ProtocolMessage } from "../src/net/protocol.ts";
import { fuzz } from "./_fuzz.ts";

const te = new TextEncoder();
const [a, b] = await testValidators(2);
const ctxA = await testContext(a, [a, b]);
const ctxB = await testContext(b, [a, b]);

Deno.test("fuzz: WebSocket frames (both directions, and a stream of several)", async () => {
  const payloads = [0, 5, 125, 126, 300, 65_535, 65_536].map((n) => new Uint8Array(n).fill(n & 0xff));
  for (const fromClient of [true, false]) {
    const corpus = [0x0, 0x1, 0x2, 0x8, 0x9, 0xa].flatMap((op) =>
      payloads.filter((p) => op < 0x8 || p.length <= 125).map((p) => encodeFrame(op, p, fromClient))
    );
    corpus.push(
      new Uint8Array([...encodeFrame(0x2, payloads[1], fromClient), ...encodeFrame(0x9, payloads[1], fromClient)]),
    );
    await fuzz({
      name: `ws frames from the ${fromClient ? "client" : "server"}`,
      corpus,
      randomBytesMax: 64,
      iterations: 50_000,
      decode: (input) => {
        // As the read loop does: frame after frame until more bytes are needed.
        const frames = [];
        let rest = input;
        for (let i = 0; i < 1_000; i++) {
          const f = parseFrame(rest, 1 << 20, fromClient);
          if (f === null) break;
          frames.push(f.payload);
          rest = rest.subarray(f.end);
        }
        return frames;
      },
      refusal: (e) => e instanceof WsFrameError,
    });
  }
});

Deno.test("fuzz: WebSocket upgrade requests", async () => {
  const corpus = [
    "GET /qudag/p2p/v1 HTTP/1.1\r\nHost: 10.0.0.1:4001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: qudag-p2p-v1",
    "GET http://[fdaa::1]:4001/qudag/p2p/v1?x=1 HTTP/1.1\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade",
    "POST / HTTP/1.0\r\nContent-Length: 0",
  ].map((s) => te.encode(s));
  await fuzz({
    name: "ws upgrade request",
    corpus,
    iterations: 50_000,
    decode: (input) => parseUpgradeRequest(new TextDecoder().decode(input)),
    // Refusals are answers (an HTTP status), never exceptions.
    refusal: () => false,
  });
});

Deno.test("fuzz: WebSocket upgrade responses (what a dialed party answers)", async () => {
  const accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
  const corpus = [
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: qudag-p2p-v1`,
    "HTTP/1.1 503 Refused\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nConnection: close",
  ].map((s) => te.encode(s));
  await fuzz({
    name: "ws upgrade response",
    corpus,
    iterations: 50_000,
    decode: (input) => checkUpgradeResponse(new TextDecoder().decode(input), accept, ["qudag-p2p-v1"]),
    refusal: (e) => e instanceof WsFrameError,
  });
});

Deno.test("fuzz: handshake frames (hello, reply, finish, data)", async () => {
  const initiator = await InitiatorHandshake.start(ctxA);
  const reply = await new ResponderHandshake(ctxB, new ReplayCache(16)).onHello(initiator.hello);
  const { finish } = await initiator.onReply(reply);
  const data = await (await SendCipher.create(new Uint8Array(32))).seal(KIND_APP, te.encode("hello"));
  await fuzz({
    name: "handshake frames",
    corpus: [initiator.hello, reply, finish, data],
    iterations: 50_000,
    decode: (input) => {
      const out = [];
      for (const decode of [decodeHello, decodeReply, decodeFinish, (x: Uint8Array) => checkDataFrame(x, 1 << 20)]) {
        try {
          out.push(decode(input));
        } catch (e) {
          if (!(e instanceof FrameError)) throw e;
        }
      }
      return out;
    },
    refusal: (e) => e instanceof FrameError,
  });
});

Deno.test("fuzz: the responder's handshake (hello, then finish) with real keys", async () => {
  const hellos = await Promise.all([0, 1, 2].map(async () => (await InitiatorHandshake.start(ctxA)).hello));
  await fuzz({
    name: "responder hello",
    corpus: hellos,
    iterations: 5_000,
    decode: (input) => new ResponderHandshake(ctxB, new ReplayCache(16)).onHello(input),
    refusal: (e) => e instanceof HandshakeError,
  });
  // A finish for a fresh hello each time, so every mutated finish meets a responder waiting for one.
  const initiator = await InitiatorHandshake.start(ctxA);
  const { finish } = await initiator.onReply(
    await new ResponderHandshake(ctxB, new ReplayCache(16)).onHello(initiator.hello),
  );
  await fuzz({
    name: "responder finish",
    corpus: [finish],
    iterations: 1_500,
    decode: async (input) => {
      const i = await InitiatorHandshake.start(ctxA);
      const r = new ResponderHandshake(ctxB, new ReplayCache(16));
      await r.onHello(i.hello);
      return await r.onFinish(input);
    },
    refusal: (e) => e instanceof HandshakeError,
  });
});

Deno.test("fuzz: the initiator's handshake (reply) with real keys", async () => {
  const replies = await Promise.all([0, 1].map(async () => {
    const i = await InitiatorHandshake.start(ctxA);
    return await new ResponderHandshake(ctxB, new ReplayCache(16)).onHello(i.hello);
  }));
  await fuzz({
    name: "initiator reply",
    corpus: replies,
    iterations: 3_000,
    decode: async (input) => (await InitiatorHandshake.start(ctxA)).onReply(input),
    refusal: (e) => e instanceof HandshakeError,
  });
});

Deno.test("fuzz: encrypted channel frames", async () => {
  const key = new Uint8Array(32).fill(3);
  const sender = await SendCipher.create(key);
  const corpus = await Promise.all([
    sender.seal(KIND_APP, te.encode("a message")),
    sender.seal(KIND_PING, new Uint8Array(0)),
    sender.seal(KIND_CONFIRM, new Uint8Array(32)),
    sender.seal(KIND_APP, new Uint8Array(5_000)),
  ]);
  await fuzz({
    name: "channel frames",
    corpus,
    iterations: 30_000,
    // A receiver at counter 0: the first frame verifies, a mutated one must be refused as a ChannelError.
    decode: async (input) => await (await ReceiveCipher.create(key, 1 << 20)).open(input),
    refusal: (e) => e instanceof ChannelError,
  });
});

Deno.test("fuzz: consensus protocol messages (and their cost)", async () => {
  const id = (n: number) => n.toString(16).padStart(2, "0").repeat(32);
  const sig = new Uint8Array(4627).fill(5);
  const messages: ProtocolMessage[] = [
    { type: "vertices", vertices: [new Uint8Array(300).fill(1), new Uint8Array(0)] },
    { type: "getVertices", ids: [id(1), id(2)] },
    { type: "query", requestId: 7, frontier: [id(3)] },
    { type: "votes", querier: id(4), requestId: 7, responder: id(5), frontier: [id(6)] },
    { type: "frontier", frontier: [id(6), id(7)], replyWanted: true },
    { type: "checkpointSignature", seq: 3, digest: id(8), signature: sig },
    { type: "getCheckpoint", seq: 0, withSnapshot: true },
    { type: "checkpoint", statement: new Uint8Array(200).fill(2), signatures: [{ validator: id(9), signature: sig }] },
    { type: "getSnapshot", seq: 3, offset: 1024 },
    { type: "snapshotChunk", seq: 3, offset: 0, total: 10, bytes: new Uint8Array(10) },
  ];
  await fuzz({
    name: "protocol messages",
    corpus: messages.map(encodeMessage),
    randomBytesMax: 512,
    iterations: 50_000,
    decode: (input) => {
      messageCost(input); // never throws
      return decodeMessage(input);
    },
    refusal: (e) => e instanceof ProtocolError,
  });
});
