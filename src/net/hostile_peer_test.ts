/**
 * What a hostile party on the peer port can try before it has authenticated,
 * and what the transport does about it: each test is one attack.
 */
import assert from "node:assert/strict";
import { encodeFrame } from "./_ws.ts";
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
