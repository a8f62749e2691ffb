/**
 * What a hostile party on the peer port can try before it has authenticated,
 * and what the transport does about it: each test is one attack.
 */
import assert from "node:assert/strict";
import { encodeFrame, NoDelayWebSocket, readUpgradeRequest, ServerWebSocket } from "./_ws.ts";
import { WS_PATH, WS_SUBPROTOCOL } from "./frame.ts";
import { peerUrl } from "./transport.ts";
import { rawUpgrade, startNode, testValidators, waitFor, writeRepeated, WS_OP_PING } from "./_testing.ts";

const [a, b] = await testValidators(2);
const genesis = [a, b];

Deno.test("PeerTransport: a WebSocket ping flood before the handshake is refused as flood", async () => {
  const nb = await startNode(b, genesis);
  const client = await rawUpgrade(nb.port);
  try {
    const ping = encodeFrame(WS_OP_PING, new Uint8Array(125), true);
    await writeRepeated(client, ping, 100_000);
    await waitFor("flood refusal", () => nb.transport.metrics.handshakeFailures.get({ reason: "flood" }) === 1);
    assert.ok(nb.lines.some((l) => l.msg === "peer refused" && l.reason === "flood"));
  } finally {
    client.close();
    await nb.transport.close();
  }
});

/**
 * A peer address whose owner relays our own hello back to our listener, and
 * then closes our dial with "self_connection" as if we had dialed ourselves.
 */
async function startSelfDialFaker(victimPort: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sockets: { close(): void }[] = [];
  let relayed = 0;
  const loop = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      const upgrade = await readUpgradeRequest(conn);
      if ("status" in upgrade) {
        conn.close();
        continue;
      }
      const dialed = new ServerWebSocket(conn, upgrade.request, WS_SUBPROTOCOL, upgrade.rest, 1 << 20);
      sockets.push(dialed);
      dialed.onmessage = (event) => {
        const hello = new Uint8Array(event.data as ArrayBuffer);
        const relay = new NoDelayWebSocket(`ws://127.0.0.1:${victimPort}${WS_PATH}`, [WS_SUBPROTOCOL], {
          messageBytesMax: 1 << 20,
        });
        sockets.push(relay);
        relay.onopen = () => relay.send(hello);
        relay.onclose = (closed) => {
          if (closed.reason !== "self_connection") return;
          relayed++;
          dialed.close(4001, "self_connection");
        };
      };
    }
  })();
  return {
    address: `127.0.0.1:${listener.addr.port}`,
    relayed: () => relayed,
    async close() {
      listener.close();
      await loop;
      for (const s of sockets) s.close();
    },
  };
}

Deno.test('PeerTransport: a dialed party cannot fake "you dialed yourself" to make this node forget its address', async () => {
  const na = await startNode(a, genesis);
  const faker = await startSelfDialFaker(na.port);
  try {
    na.transport.connect(faker.address);
    await waitFor("the fake self-connection", () => faker.relayed() >= 1);
    await waitFor(
      "the dial's outcome",
      () =>
        na.transport.metrics.handshakeFailures.get({ reason: "remote_refused" }) >= 1 ||
        na.lines.some((l) => l.msg === "peer address is this node; not dialing it again"),
    );
    assert.deepEqual(na.transport.targets(), [peerUrl(faker.address)]);
    assert.ok(!na.lines.some((l) => l.msg === "peer address is this node; not dialing it again"));
  } finally {
    await na.transport.close();
    await faker.close();
  }
});
