/**
 * The exchange on 4 real nodes: the seed flow's ledger steps (create
 * genesis-treasury, mint 10,000,000 rUv, create alice and bob, transfer 50,000
 * and 30,000, configure fees, attest alice, lock) submitted to different nodes
 * through the exchange API, each awaited; then every node reports the same
 * balances, supply and ledger state hash, exact to the smallest unit.
 */
import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import {
  blake3,
  defaultFeeParams,
  encodeTransaction,
  type TransactionPayload,
  transactionSigningMessage,
  type UnsignedTransaction,
} from "../src/core/mod.ts";
import { fromHex, toHex } from "../src/keys/mod.ts";
import { startTestnet } from "../scripts/testnet.ts";
import { type Key, keyFromSeed } from "./_tx.ts";

const RUV = 1_000_000n;

Deno.test({
  name: "exchange: the seed flow on 4 real nodes ends with the same exact balances and state hash everywhere",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-exchange-" });
    const net = await startTestnet({ nodes: 4, dir, basePort: 0 });
    const d = net.description;
    const chainId = fromHex(d.chainId);
    const apiKey = Deno.readTextFileSync(d.apiKeyFile).trim();
    const role = (name: string) => keyFromSeed(fromHex(Deno.readTextFileSync(d.exchangeKeys[name]).trim()));
    const [master, feeAdmin, verifier, governance] = ["exchange-master", "fee-admin", "agent-verifier", "governance"]
      .map(role);
    const [treasury, alice, bob] = [31, 32, 33].map((n) => keyFromSeed(new Uint8Array(32).fill(n)));
    const sign = (key: Key, nonce: bigint, payload: TransactionPayload) => {
      const unsigned = {
        chainId,
        account: key.id,
        nonce,
        timestampMs: 0n,
        maxFee: 1n << 40n,
        ...payload,
      } as UnsignedTransaction;
      return encodeTransaction({
        ...unsigned,
        signature: ml_dsa87.sign(transactionSigningMessage(unsigned), key.secretKey),
      });
    };
    const exchange = (i: number, path: string, init?: RequestInit) =>
      fetch(`${d.nodes[i].exchange}/api/v1/exchange${path}`, init).then((r) => r.json());
    /** Submits to node i and waits until every node applied it; returns node 0's receipt. */
    const step = async (i: number, tx: Uint8Array) => {
      const sent = await exchange(i, "/transactions", {
        method: "POST",
        headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
        body: tx.slice().buffer,
      });
      assert.ok(sent.id, JSON.stringify(sent));
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const views = await Promise.all(d.nodes.map((_, j) => exchange(j, `/transactions/${sent.id}`)));
        if (views.every((v) => v.state === "accepted" && v.receipt)) return views[0].receipt;
        await new Promise((r) => setTimeout(r, 150));
      }
      throw new Error(`transaction ${sent.id} not applied on every node in time`);
    };
    try {
      const memo = new Uint8Array();
      const steps: [string, number, Uint8Array][] = [
        [
          "create treasury",
          0,
          sign(treasury, 0n, { kind: "create_account", name: "genesis-treasury", publicKey: treasury.publicKey }),
        ],
        ["mint", 1, sign(master, 0n, { kind: "mint", to: treasury.id, amount: 10_000_000n * RUV })],
        ["create alice", 2, sign(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey })],
        ["create bob", 3, sign(bob, 0n, { kind: "create_account", name: "bob", publicKey: bob.publicKey })],
        ["transfer alice", 0, sign(treasury, 1n, { kind: "transfer", to: alice.id, amount: 50_000n * RUV, memo })],
        ["transfer bob", 1, sign(treasury, 2n, { kind: "transfer", to: bob.id, amount: 30_000n * RUV, memo })],
        ["configure fees", 2, sign(feeAdmin, 0n, { kind: "configure_fees", fees: defaultFeeParams() })],
        [
          "attest alice",
          3,
          sign(verifier, 0n, {
            kind: "attest_agent",
            agent: alice.id,
            proofDigest: blake3(new TextEncoder().encode("alice-proof.json")),
            expiryMs: BigInt(Date.now()) + 86_400_000n,
          }),
        ],
      ];
      const receipts: Record<string, { code: string; feeUnits: string }> = {};
      for (const [name, node, tx] of steps) receipts[name] = await step(node, tx);
      for (const [name, r] of Object.entries(receipts)) assert.equal(r.code, "ok", `${name}: ${JSON.stringify(r)}`);

      const status0 = await exchange(0, "/status");
      const lock = sign(governance, 0n, {
        kind: "immutable_lock",
        configHash: fromHex(status0.configHash),
        gracePeriodMs: 3_600_000n,
      });
      assert.equal((await step(1, lock)).code, "ok");

      // Every node: same supply, same balances, same state hash; supply = minted, fees kept.
      const statuses = await Promise.all(d.nodes.map((_, j) => exchange(j, "/status")));
      for (const s of statuses) {
        assert.equal(s.stateHash, statuses[0].stateHash);
        assert.equal(s.supplyUnits, statuses[0].supplyUnits);
        assert.equal(s.supplyUnits, (10_000_000n * RUV).toString());
      }
      const balance = async (j: number, who: string) => (await exchange(j, `/accounts/${who}/balance`));
      for (let j = 0; j < 4; j++) {
        const a = await balance(j, "alice");
        const b = await balance(j, "bob");
        assert.equal(a.balanceUnits, (50_000n * RUV).toString());
        assert.equal(b.balanceUnits, (30_000n * RUV).toString());
        const t = await balance(j, "genesis-treasury");
        const fees = BigInt(receipts["transfer alice"].feeUnits) + BigInt(receipts["transfer bob"].feeUnits);
        assert.equal(BigInt(t.balanceUnits), 10_000_000n * RUV - 80_000n * RUV - fees);
      }
      assert.equal(BigInt(receipts["transfer alice"].feeUnits), 50n * RUV, "0.1% of 50,000 rUv for a new account");
      const immutable = await exchange(2, "/immutable");
      assert.ok(immutable.lock, JSON.stringify(immutable));
      assert.equal(toHex(fromHex(statuses[0].stateHash)), statuses[3].stateHash);
    } finally {
      await net.stop();
    }
  },
});
