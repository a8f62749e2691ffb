import assert from "node:assert/strict";
import { NoDelayWebSocket, ServerWebSocket } from "./_ws.ts";
import { encodeFrame, OP_BINARY, OP_PONG } from "./_ws_frame.ts";
import { readUpgradeRequest, refuseUpgrade, UPGRADE_HEAD_BYTES_MAX } from "./_ws_http.ts";
import { rawUpgrade, writeRepeated, WS_OP_PING } from "./_testing.ts";

interface Server {
  url: string;
  received: Uint8Array[];
  sockets: WebSocket[];
  close(): Promise<void>;
}

/** A Deno.serve WebSocket server on 127.0.0.1 that echoes binary messages (or runs `onSocket`). */
function startServer(onSocket?: (ws: WebSocket) => void, protocol = "p1"): Server {
  const received: Uint8Array[] = [];
  const sockets: WebSocket[] = [];
  const closed: Promise<unknown>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol, idleTimeout: 0 });
    socket.binaryType = "arraybuffer";
    sockets.push(socket);
    closed.push(new Promise((resolve) => socket.addEventListener("close", resolve)));
    if (onSocket) onSocket(socket);
    else {
      socket.onmessage = (e) => {
        received.push(new Uint8Array(e.data as ArrayBuffer));
        socket.send(e.data as ArrayBuffer);
      };
    }
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/x`,
    received,
    sockets,
    async close() {
      await Promise.all(closed);
      await server.shutdown();
    },
  };
}

function events(ws: NoDelayWebSocket) {
  const messages: ArrayBuffer[] = [];
  const opened = new Promise<void>((resolve) => ws.onopen = () => resolve());
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  ws.onmessage = (e) => messages.push(e.data as ArrayBuffer);
  return { messages, opened, closed };
}

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), `timed out waiting for ${what}`);
}

Deno.test("NoDelayWebSocket: upgrades, agrees on the subprotocol and exchanges messages of every length class", async () => {
  const server = startServer();
  const ws = new NoDelayWebSocket(server.url, ["p1"], { messageBytesMax: 1 << 20 });
  const ev = events(ws);
  await ev.opened;
  assert.equal(ws.protocol, "p1");
  const sizes = [0, 1, 125, 126, 1200, 65535, 65536, 300_000];
  for (const size of sizes) ws.send(new Uint8Array(size).fill(size % 251));
  await until("echoes", () => ev.messages.length === sizes.length);
  assert.deepEqual(ev.messages.map((m) => m.byteLength), sizes);
  assert.ok(ev.messages.every((m, i) => new Uint8Array(m).every((b) => b === sizes[i] % 251)));
  ws.close(1000, "bye");
  const closed = await ev.closed;
  assert.equal(closed.code, 1000);
  assert.equal(ws.readyState, 3);
  await server.close();
});

Deno.test("NoDelayWebSocket: a 4 KiB message gets no ~40 ms Nagle stall", async () => {
  const server = startServer();
  const ws = new NoDelayWebSocket(server.url, ["p1"], { messageBytesMax: 1 << 20 });
  const ev = events(ws);
  await ev.opened;
  const rtts: number[] = [];
  for (let i = 0; i < 11; i++) {
    const echoed = new Promise((resolve) => ws.onmessage = resolve);
    const t = performance.now();
    ws.send(new Uint8Array(4096));
    await echoed;
    rtts.push(performance.now() - t);
  }
  rtts.sort((a, b) => a - b);
  assert.ok(rtts[5] < 25, `median round trip ${rtts[5].toFixed(1)} ms`);
  ws.close();
  await ev.closed;
  await server.close();
});

Deno.test("NoDelayWebSocket: reports the server's close code and reason", async () => {
  const server = startServer((socket) => socket.onopen = () => socket.close(4001, "wrong_genesis"));
  const ws = new NoDelayWebSocket(server.url, ["p1"], { messageBytesMax: 1024 });
  const ev = events(ws);
  const closed = await ev.closed;
  assert.deepEqual([closed.code, closed.reason, closed.wasClean], [4001, "wrong_genesis", true]);
  await server.close();
});

Deno.test("NoDelayWebSocket: refuses a message over messageBytesMax from its header (1009)", async () => {
  const server = startServer((socket) => socket.onopen = () => socket.send(new Uint8Array(5000)));
  const ws = new NoDelayWebSocket(server.url, ["p1"], { messageBytesMax: 4096 });
  const ev = events(ws);
  const closed = await ev.closed;
  assert.equal(closed.code, 1009);
  assert.equal(ev.messages.length, 0);
  await server.close();
});

Deno.test("NoDelayWebSocket: reports a refused upgrade and a refused connection as 1006 with an error", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("too many handshakes\n", { status: 503 }),
  );
  const ws = new NoDelayWebSocket(`ws://127.0.0.1:${server.addr.port}/x`, ["p1"], { messageBytesMax: 1024 });
  const ev = events(ws);
  let errored = false;
  ws.onerror = () => errored = true;
  assert.equal((await ev.closed).code, 1006);
  assert.ok(errored);
  await server.shutdown();

  const refused = new NoDelayWebSocket(`ws://127.0.0.1:${server.addr.port}/x`, ["p1"], { messageBytesMax: 1024 });
  const ev2 = events(refused);
  assert.equal((await ev2.closed).code, 1006);
  assert.throws(() => new NoDelayWebSocket("wss://127.0.0.1:1/x", [], { messageBytesMax: 1 }), SyntaxError);
});

/** A Deno.listen server that upgrades with ServerWebSocket (echoing) or refuses with readUpgradeRequest's answer. */
function startOwnServer(messageBytesMax: number, echoOwned = false) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sockets: ServerWebSocket[] = [];
  const refusals: string[] = [];
  const closed: Promise<unknown>[] = [];
  const loop = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      let upgrade;
      try {
        upgrade = await readUpgradeRequest(conn);
      } catch (error) {
        refusals.push(`error: ${(error as Error).message}`);
        conn.close();
        continue;
      }
      if ("status" in upgrade) {
        refusals.push(`${upgrade.status} ${upgrade.why}`);
        await refuseUpgrade(conn, upgrade.status, upgrade.why);
        continue;
      }
      const ws = new ServerWebSocket(
        conn,
        upgrade.request,
        upgrade.request.protocols[0] ?? "",
        upgrade.rest,
        messageBytesMax,
      );
      closed.push(new Promise((resolve) => ws.onclose = resolve));
      ws.onmessage = (e) =>
        echoOwned
          ? ws.sendOwned(new Uint8Array(e.data as ArrayBuffer))
          : ws.send(new Uint8Array(e.data as ArrayBuffer));
      sockets.push(ws);
    }
  })();
  return {
    port: listener.addr.port,
    sockets,
    refusals,
    async close() {
      listener.close();
      await loop;
      await Promise.all(closed);
    },
  };
}

Deno.test("ServerWebSocket: Deno's own client talks to it; masked frames of every length class unmask", async () => {
  const server = startOwnServer(1 << 20);
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/p`, ["p1"]);
  ws.binaryType = "arraybuffer";
  const messages: ArrayBuffer[] = [];
  ws.onmessage = (e) => messages.push(e.data as ArrayBuffer);
  await new Promise((resolve) => ws.onopen = resolve);
  assert.equal(ws.protocol, "p1");
  const sizes = [0, 125, 126, 65535, 65536, 200_000];
  for (const size of sizes) ws.send(new Uint8Array(size).fill(size % 253));
  await until("echoes", () => messages.length === sizes.length);
  assert.deepEqual(messages.map((m) => m.byteLength), sizes);
  assert.ok(messages.every((m, i) => new Uint8Array(m).every((b) => b === sizes[i] % 253)));
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  ws.close(1000);
  assert.equal((await closed).code, 1000);
  await server.close();
});

Deno.test("ServerWebSocket and NoDelayWebSocket: large frames back to back arrive whole, byte for byte, both ways", async () => {
  // Frames over one read are read straight into a buffer of their size; small ones after them come in the same reads.
  const server = startOwnServer(1 << 20);
  const ws = new NoDelayWebSocket(`ws://127.0.0.1:${server.port}/p`, ["p1"], { messageBytesMax: 1 << 20 });
  const ev = events(ws);
  await ev.opened;
  const sizes = [200_000, 3, 70_000, 65_537, 1, 600_000, 131_072, 0, 1 << 20];
  const sent = sizes.map((n) => crypto.getRandomValues(new Uint8Array(n).subarray(0, Math.min(n, 65536))).buffer)
    .map((head, i) => {
      const out = new Uint8Array(sizes[i]);
      for (let at = 0; at < out.length; at += head.byteLength) {
        out.set(new Uint8Array(head).subarray(0, out.length - at), at);
      }
      out[out.length - 1] ^= i; // the last byte differs from the repeated pattern
      return out;
    });
  for (const m of sent) ws.send(m);
  await until("echoes", () => ev.messages.length === sizes.length);
  assert.deepEqual(ev.messages.map((m) => m.byteLength), sizes);
  for (let i = 0; i < sizes.length; i++) assert.deepEqual(new Uint8Array(ev.messages[i]), sent[i], `message ${i}`);
  ws.close(1000, "bye");
  await ev.closed;
  await server.close();
});

Deno.test("onbytes: binary messages as bytes the receiver owns, each holding at most about twice its size", async () => {
  const server = startOwnServer(1 << 20);
  const ws = new NoDelayWebSocket(`ws://127.0.0.1:${server.port}/p`, ["p1"], { messageBytesMax: 1 << 20 });
  const ev = events(ws);
  const bytes: Uint8Array[] = [];
  ws.onbytes = (payload) => {
    bytes.push(payload);
    payload.fill(0xff); // the receiver's to change: what arrives next is not affected
  };
  await ev.opened;
  const sizes = [3, 300_000, 10, 200_000, 70_000, 1];
  const sent = sizes.map((n, i) => new Uint8Array(n).map((_, j) => (j * 7 + i) & 0xfe));
  for (const m of sent) ws.send(m);
  await until("echoes", () => bytes.length === sizes.length);
  assert.equal(ev.messages.length, 0, "binary messages no longer reach onmessage");
  for (let i = 0; i < sizes.length; i++) {
    assert.equal(bytes[i].length, sizes[i]);
    assert.ok(bytes[i].every((b) => b === 0xff), `message ${i} was the receiver's own`);
    // Each holds at most about twice its size: a small message is copied out of the read it came in.
    assert.ok(bytes[i].buffer.byteLength <= 2 * Math.max(sizes[i], 16), `message ${i}: ${bytes[i].buffer.byteLength}`);
  }
  ws.close(1000, "bye");
  await ev.closed;
  await server.close();
});

Deno.test("ServerWebSocket: refuses a message over messageBytesMax from its header (1009 oversized)", async () => {
  const server = startOwnServer(4096);
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/p`);
  await new Promise((resolve) => ws.onopen = resolve);
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  ws.send(new Uint8Array(1 << 20));
  const event = await closed;
  assert.deepEqual([event.code, event.reason], [1009, "oversized"]);
  assert.equal(server.sockets[0].protocolError?.code, 1009);
  await server.close();
});

Deno.test("readUpgradeRequest(): plain HTTP gets an HTTP refusal, an endless head an error", async () => {
  const server = startOwnServer(1024);
  const plain = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await plain.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const buf = new Uint8Array(512);
  const n = await plain.read(buf);
  assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 426 /);
  plain.close();
  const endless = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await endless.write(new TextEncoder().encode("GET / HTTP/1.1\r\nX: " + "a".repeat(UPGRADE_HEAD_BYTES_MAX + 10)));
  await until("refused", () => server.refusals.length === 2);
  endless.close();
  assert.match(server.refusals[0], /^426 /);
  assert.match(server.refusals[1], /head too large/);
  await server.close();
});

Deno.test("ServerWebSocket: 50 MiB of pings from a client that never reads queue at most one pong (1008 flood)", async () => {
  const server = startOwnServer(1 << 20);
  const client = await rawUpgrade(server.port);
  await until("server socket", () => server.sockets.length === 1);
  const socket = server.sockets[0];
  // Sample the server's send queue while the pings go out (the client never reads a byte).
  let queuedMax = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      queuedMax = Math.max(queuedMax, socket.bufferedAmount);
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  const ping = encodeFrame(WS_OP_PING, new Uint8Array(125).fill(7), true);
  await writeRepeated(client, ping, Math.ceil((50 << 20) / ping.length));
  // Let the server parse what is still buffered, up to its close of the connection.
  for (let i = 0; i < 200 && socket.readyState !== 3; i++) await new Promise((r) => setTimeout(r, 10));
  sampling = false;
  await sampler;
  assert.ok(queuedMax <= 4096, `server queued ${queuedMax} bytes of pongs`);
  assert.equal(socket.protocolError?.code, 1008);
  client.close();
  await server.close();
});

Deno.test("sendOwned: payloads given away arrive byte for byte both ways, masked in place by the client", async () => {
  const server = startOwnServer(1 << 20, true);
  const ws = new NoDelayWebSocket(`ws://127.0.0.1:${server.port}/p`, ["p1"], { messageBytesMax: 1 << 20 });
  const ev = events(ws);
  await ev.opened;
  // Around the size from which the payload goes out behind a header of its own, and past a coalesced write.
  const sizes = [1, 16_383, 16_384, 16_385, 300_000, 5, 70_000, 600_000, 2];
  const kept: Uint8Array[] = [];
  let given = 0;
  for (const size of sizes) {
    const payload = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
    kept.push(payload.slice());
    ws.sendOwned(payload);
    if (size >= 16_384 && payload.some((b, i) => b !== kept[kept.length - 1][i])) given++;
  }
  // The client masked the large payloads where they were (a fresh random key: almost surely some byte changed).
  assert.equal(given, sizes.filter((n) => n >= 16_384).length);
  await until("echoes", () => ev.messages.length === sizes.length);
  assert.deepEqual(ev.messages.map((m) => new Uint8Array(m)), kept);
  ws.close(1000);
  await ev.closed;
  await server.close();
});

/** A connection whose writes can be held open and whose reads are fed by the test. */
class GatedConn {
  readonly writes: Uint8Array[] = [];
  readonly localAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 } as const;
  readonly remoteAddr = { transport: "tcp", hostname: "127.0.0.1", port: 2 } as const;
  hold = false;
  #release: (() => void) | null = null;
  #fed: Uint8Array[] = [];
  #reader: (() => void) | null = null;
  #closed = false;

  write(b: Uint8Array): Promise<number> {
    this.writes.push(b.slice());
    if (!this.hold) return Promise.resolve(b.length);
    return new Promise((resolve) => this.#release = () => resolve(b.length));
  }
  release(): void {
    this.hold = false;
    const r = this.#release;
    this.#release = null;
    r?.();
  }
  feed(b: Uint8Array): void {
    this.#fed.push(b);
    this.#reader?.();
  }
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#fed.length === 0 && !this.#closed) await new Promise<void>((r) => this.#reader = r);
    if (this.#closed) return null;
    const b = this.#fed.shift()!;
    p.set(b);
    return b.length;
  }
  close(): void {
    this.#closed = true;
    this.#reader?.();
  }
  setNoDelay(): void {}
}

Deno.test("sendOwned: a pong never goes between a header and its payload", async () => {
  const conn = new GatedConn();
  const socket = new ServerWebSocket(
    conn as unknown as Deno.TcpConn,
    { path: "/p", protocols: [], key: "dGhlIHNhbXBsZSBub25jZQ==" },
    "",
    new Uint8Array(0),
    1 << 20,
  );
  await until("open", () => socket.readyState === 1 && conn.writes.length === 1);
  // The header's write waits; a ping is read meanwhile and its pong must wait for the payload.
  conn.hold = true;
  socket.sendOwned(new Uint8Array(100_000).fill(5));
  await until("header written", () => conn.writes.length === 2);
  conn.feed(encodeFrame(WS_OP_PING, new Uint8Array([1, 2, 3]), true));
  await new Promise((r) => setTimeout(r, 20));
  conn.release();
  await until("payload and pong written", () => conn.writes.length === 4);
  const [, head, payload, pong] = conn.writes;
  assert.deepEqual([...head.subarray(0, 2)], [0x80 | OP_BINARY, 127]);
  assert.equal(payload.length, 100_000);
  assert.deepEqual([...pong], [0x80 | OP_PONG, 3, 1, 2, 3]);
  conn.close();
  await until("closed", () => socket.readyState === 3);
});
