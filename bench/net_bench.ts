/**
 * Peer transport throughput on loopback: the time to a first session, handshakes
 * into one node, and encrypted 1 KiB messages per second one way. The receiving
 * node runs in a Worker (its own thread and event loop), as a second process would.
 *
 *   ./node_modules/.bin/deno run --allow-net=127.0.0.1 --allow-read --allow-env --allow-ffi bench/net_bench.ts [messages]
 */

import { selectCryptoBackend } from "../src/crypto/select.ts";
import { keyIdOf } from "../src/keys/mod.ts";
import { PeerTransport, type TransportLimits } from "../src/net/transport.ts";

const MESSAGE_BYTES = 1024;
const SPOKES = 10;
const WAIT_MS_MAX = 120_000;
/** Frames kept queued by the sender; refilled as the queue drains. */
const SEND_WINDOW = 4096;

// Generous limits: this measures the channel, not the flood guard.
const LIMITS: Partial<TransportLimits> = {
  floodFramesPerSecond: 10_000_000,
  floodFramesBurst: 10_000_000,
  sendQueueFramesMax: 1_000_000,
  sendQueueBytesMax: 2 ** 31,
  inboxFramesMax: 1_000_000,
  inboxBytesMax: 2 ** 31,
  handshakesPerSecond: 10_000,
  handshakeBurst: 10_000,
};

const seedOf = (n: number) => new Uint8Array(32).fill(n);
const CHAIN_ID = new Uint8Array(32).fill(9);

async function until(condition: () => boolean): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > WAIT_MS_MAX) throw new Error("bench timed out");
    await new Promise((r) => setTimeout(r, 1));
  }
}

interface WorkerStart {
  validators: Uint8Array[];
  messages: number;
}

async function receiver(start: WorkerStart): Promise<void> {
  const post = (m: unknown) => (self as unknown as Worker).postMessage(m);
  const { backend } = await selectCryptoBackend();
  const signer = await backend.mlDsaSigner(seedOf(2));
  const b = new PeerTransport({
    genesis: { chainId: CHAIN_ID, validators: start.validators },
    backend,
    signer,
    limits: LIMITS,
  });
  let received = 0;
  let firstMs = 0;
  b.onMessage(() => {
    if (received++ === 0) firstMs = performance.now();
    if (received === start.messages) post({ done: true, seconds: (performance.now() - firstMs) / 1000 });
  });
  post({ port: b.listen({ hostname: "127.0.0.1", port: 0 }).port });
  (self as unknown as Worker).onmessage = async () => {
    await b.close();
    post({ closed: true });
  };
}

async function main(): Promise<void> {
  const messages = Number(Deno.args[0] ?? 200_000);
  const selected = await selectCryptoBackend();
  const backend = selected.backend;
  const signers = await Promise.all([1, 2].map((n) => backend.mlDsaSigner(seedOf(n))));
  const spokeSigners = await Promise.all(
    Array.from({ length: SPOKES }, (_, i) => backend.mlDsaSigner(seedOf(100 + i))),
  );
  const validators = [...signers, ...spokeSigners].map((s) => s.publicKey);
  const genesis = { chainId: CHAIN_ID, validators };

  // Handshakes: SPOKES fresh nodes dial one hub at once.
  const hub = new PeerTransport({ genesis, backend, signer: signers[1], limits: LIMITS });
  const hubPort = hub.listen({ hostname: "127.0.0.1", port: 0 }).port;
  const spokes = spokeSigners.map((signer) => new PeerTransport({ genesis, backend, signer, limits: LIMITS }));
  const t0 = performance.now();
  spokes.forEach((s) => s.connect(`127.0.0.1:${hubPort}`));
  await until(() => hub.peers().length === spokes.length);
  const handshakeMs = performance.now() - t0;
  await Promise.all([...spokes.map((s) => s.close()), hub.close()]);

  // Throughput: a (here) -> b (worker).
  const worker = new Worker(import.meta.url, { type: "module" });
  const events: Record<string, unknown>[] = [];
  worker.onmessage = (e: MessageEvent) => events.push(e.data);
  worker.postMessage({ validators, messages } satisfies WorkerStart);
  await until(() => events.some((e) => "port" in e));
  const port = events.find((e) => "port" in e)?.port as number;
  const a = new PeerTransport({ genesis, backend, signer: signers[0], limits: LIMITS });
  const bId = keyIdOf(signers[1].publicKey);
  const hsStart = performance.now();
  a.connect(`127.0.0.1:${port}`);
  await until(() => a.isConnected(bId));
  const firstSessionMs = performance.now() - hsStart;

  const message = new Uint8Array(MESSAGE_BYTES).fill(7);
  let sent = 0;
  while (sent < messages) {
    const queued = a.peers()[0]?.queuedFrames ?? 0;
    const room = Math.min(SEND_WINDOW - queued, messages - sent);
    for (let i = 0; i < room; i++) if (a.send(bId, message) === "queued") sent++;
    await new Promise((r) => setTimeout(r, 0));
  }
  await until(() => events.some((e) => "done" in e));
  const seconds = events.find((e) => "done" in e)?.seconds as number;
  worker.postMessage("close");
  await until(() => events.some((e) => "closed" in e));
  await a.close();
  worker.terminate();

  console.log(`crypto backend: ${selected.name} (${selected.reason})`);
  console.log(`first session (dial + WebSocket upgrade + handshake): ${firstSessionMs.toFixed(1)} ms`);
  console.log(
    `${SPOKES} concurrent handshakes into one node: ${handshakeMs.toFixed(0)} ms (${
      (SPOKES / (handshakeMs / 1000)).toFixed(0)
    }/s)`,
  );
  console.log(
    `${messages} x ${MESSAGE_BYTES} B encrypted, one way, sender and receiver on separate threads: ${
      (messages / seconds).toFixed(0)
    } msg/s, ${(messages * MESSAGE_BYTES / seconds / 2 ** 20).toFixed(1)} MiB/s`,
  );
}

if ("WorkerGlobalScope" in globalThis) {
  (self as unknown as Worker).onmessage = (e: MessageEvent) => void receiver(e.data as WorkerStart);
} else {
  await main();
}
