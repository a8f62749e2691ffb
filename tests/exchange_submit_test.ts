/**
 * Submission to the exchange on 4 real nodes: every node dry-runs a submitted
 * transaction against its ledger before it enters consensus. A transaction the
 * ledger would refuse is answered at once with HTTP 422 and the ledger's code,
 * on every node, and changes nothing anywhere (balances, supply, next nonces,
 * state hash; no node knows its id). The refused nonce stays free: the same
 * nonce is then accepted. Nonce chains n, n+1, n+2 submitted back to back, to
 * one node and alternating between two, are accepted and applied with the
 * same receipts on every node; a chained transaction the ledger refuses after
 * consensus accepted it consumes its nonce, so the next one still goes
 * through. Resubmitting a transaction answers the same id and state. At the
 * end every node holds the same ledger, and the balances follow exactly from
 * the receipts.
 */
import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import {
  blake3,
  defaultFeeParams,
  encodeTransaction,
  transactionId,
  type TransactionPayload,
  transactionSigningMessage,
  type UnsignedTransaction,
} from "../src/core/mod.ts";
import { fromHex, toHex } from "../src/keys/mod.ts";
import { startTestnet } from "../scripts/testnet.ts";
import { type Key, keyFromSeed } from "./_tx.ts";

const RUV = 1_000_000n;
const NODES = 4;
const MINTED = 1_000n * RUV;
/** How long every node gets to apply a transaction any node took. */
const CONVERGE_MS = 20_000;
/**
 * A refusal comes from the dry run, without consensus: this bound only keeps
 * a slow machine from failing, while an answer that waited for consensus or
 * a time-out still fails it.
 */
const REFUSAL_MS_MAX = 2_000;
/** ML-DSA-87 signature bytes: the end of every signed transaction. */
const SIGNATURE_BYTES = 4_627;
const MAX_FEE_DEFAULT = 1n << 40n;

interface Receipt {
  code: string;
  feeUnits: string;
  ratePpb: number;
  vertex: string;
  timeMs: string;
}

/** A submit answer, a transaction view, or an error body. */
interface TxView {
  id?: string;
  state?: string;
  receipt?: Receipt | null;
  error?: { code: string; message: string; requestId?: string };
}

interface AccountView {
  id: string;
  name: string;
  balanceUnits: string;
  nextNonce: string;
  lastMs: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "exchange submit: refusals are immediate 422s that change nothing, nonce chains go through on every node",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-exchange-submit-" });
    const net = await startTestnet({ nodes: NODES, dir, basePort: 0, quiet: true });
    const d = net.description;
    const chainId = fromHex(d.chainId);
    const apiKey = Deno.readTextFileSync(d.apiKeyFile).trim();
    const role = (name: string) => keyFromSeed(fromHex(Deno.readTextFileSync(d.exchangeKeys[name]).trim()));
    const [master, verifier] = ["exchange-master", "agent-verifier"].map(role);
    const [alice, bob, carol, mallory] = [41, 42, 43, 44].map((n) => keyFromSeed(new Uint8Array(32).fill(n)));
    const memo = new Uint8Array();

    const sign = (key: Key, nonce: bigint, payload: TransactionPayload, maxFee = MAX_FEE_DEFAULT) => {
      const unsigned = { chainId, account: key.id, nonce, timestampMs: 0n, maxFee, ...payload } as UnsignedTransaction;
      return encodeTransaction({
        ...unsigned,
        signature: ml_dsa87.sign(transactionSigningMessage(unsigned), key.secretKey),
      });
    };
    const transfer = (from: Key, nonce: bigint, to: Uint8Array, amount: bigint, maxFee?: bigint) =>
      sign(from, nonce, { kind: "transfer", to, amount, memo }, maxFee);
    const idOf = (tx: Uint8Array) => toHex(transactionId(tx));

    const get = async <T>(i: number, path: string): Promise<T> => {
      const res = await fetch(`${d.nodes[i].exchange}/api/v1/exchange${path}`);
      return await res.json() as T;
    };
    /** Submits to node i: HTTP status, body, and how long the answer took. */
    const post = async (i: number, tx: Uint8Array) => {
      const started = performance.now();
      const res = await fetch(`${d.nodes[i].exchange}/api/v1/exchange/transactions`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
        body: tx.slice().buffer,
      });
      const body = await res.json() as TxView;
      return { status: res.status, body, ms: performance.now() - started };
    };
    /** Node log lines mentioning any of `needles` (ids, request ids), for failure messages. */
    const logsAbout = (needles: string[]) =>
      d.nodes.flatMap((n, i) =>
        net.log(i).split("\n").filter((l) => needles.some((x) => l.includes(x))).map((l) =>
          `node ${i} (${n.name}): ${l}`
        )
      ).join("\n");
    const taken = (r: { status: number; body: TxView }, tx: Uint8Array) =>
      (r.status === 202 || r.status === 200) && r.body.id === idOf(tx) &&
      ["pending", "processing", "accepted"].includes(r.body.state ?? "");
    /** Alice's transfers some node took (after setup), for the waits and the final tally. */
    const alicesTxs: { id: string; amount: bigint; what: string }[] = [];
    /** Submits to node i and expects it taken (pending, or further along): returns the id. */
    const submit = async (i: number, tx: Uint8Array, what: string) => {
      const r = await post(i, tx);
      assert.ok(taken(r, tx), `${what} on node ${i}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id!;
    };
    const submitTransfer = async (i: number, tx: Uint8Array, amount: bigint, what: string) => {
      const id = await submit(i, tx, what);
      alicesTxs.push({ id, amount, what });
      return id;
    };

    /**
     * Waits until every node has decided and applied every id; returns the
     * receipts, [tx][node]. Fails at once if a node rejects one.
     */
    const applied = async (ids: string[], what: string): Promise<Receipt[][]> => {
      const deadline = Date.now() + CONVERGE_MS;
      while (true) {
        const views = await Promise.all(
          d.nodes.map((_, i) => Promise.all(ids.map((id) => get<TxView>(i, `/transactions/${id}`)))),
        );
        if (views.every((v) => v.every((t) => t.state === "accepted" && t.receipt))) {
          return ids.map((_, k) => views.map((v) => v[k].receipt!));
        }
        const rejected = views.some((v) => v.some((t) => t.state === "rejected"));
        if (rejected || Date.now() > deadline) {
          throw new Error(
            `${what}: not accepted and applied on every node${rejected ? " (rejected)" : ""} within ${
              CONVERGE_MS / 1000
            } s:\n${views.map((v, i) => `node ${i}: ${JSON.stringify(v)}`).join("\n")}\n--- node logs\n${
              logsAbout(ids)
            }`,
          );
        }
        await sleep(100);
      }
    };
    /** The receipt of one transaction, the same on every node. */
    const agreed = (receipts: Receipt[], what: string) => {
      for (const [i, r] of receipts.entries()) assert.deepEqual(r, receipts[0], `${what}: node ${i} vs node 0`);
      return receipts[0];
    };
    /** What the ledger holds on node i, without the fields that move on their own. */
    const ledgerView = async (i: number) => {
      const s = await get<Record<string, unknown>>(i, "/status");
      const { accounts } = await get<{ accounts: AccountView[] }>(i, "/accounts");
      return {
        stateHash: s.stateHash as string,
        supplyUnits: s.supplyUnits as string,
        mintedUnits: s.mintedUnits,
        burnedUnits: s.burnedUnits,
        configHash: s.configHash,
        fees: s.fees,
        halted: s.halted,
        accounts: accounts.map((a) => ({
          id: a.id,
          name: a.name,
          balanceUnits: a.balanceUnits,
          nextNonce: a.nextNonce,
          lastMs: a.lastMs,
        })),
      };
    };
    type LedgerView = Awaited<ReturnType<typeof ledgerView>>;
    /** Every node's ledger view, asserted identical (state hash included). */
    const agreedView = async (what: string): Promise<LedgerView> => {
      const views = await Promise.all(d.nodes.map((_, i) => ledgerView(i)));
      for (let i = 1; i < NODES; i++) assert.deepEqual(views[i], views[0], `${what}: node ${i} differs from node 0`);
      assert.equal(views[0].halted, null, `${what}: ledger halted`);
      return views[0];
    };
    /** Waits until every node applied all of alice's transfers so far; then their common view. */
    const settled = async (what: string) => {
      await applied(alicesTxs.map((t) => t.id), what);
      return await agreedView(what);
    };
    const account = (v: LedgerView, name: string) => {
      const a = v.accounts.find((a) => a.name === name);
      assert.ok(a, `no account ${name}`);
      return { balance: BigInt(a.balanceUnits), nextNonce: BigInt(a.nextNonce) };
    };
    /**
     * Asserts `end` is `start` after alice sent these transfers to bob (and
     * `consumed` more nonces were used by refusals): exact to the unit.
     */
    const moved = (start: LedgerView, end: LedgerView, sent: { amount: bigint; fee: bigint }[], consumed = 0) => {
      const amounts = sent.reduce((s, x) => s + x.amount, 0n);
      const fees = sent.reduce((s, x) => s + x.fee, 0n);
      assert.equal(account(end, "alice").balance, account(start, "alice").balance - amounts - fees, "alice");
      assert.equal(account(end, "bob").balance, account(start, "bob").balance + amounts, "bob");
      assert.equal(account(end, "fees").balance, account(start, "fees").balance + fees, "the fee account");
      assert.equal(
        account(end, "alice").nextNonce,
        account(start, "alice").nextNonce + BigInt(sent.length + consumed),
        "alice's next nonce",
      );
      assert.equal(end.supplyUnits, start.supplyUnits, "supply");
    };
    /** A transfer's receipt, the same on every node, applied. */
    const paid = (receipts: Receipt[], amount: bigint, what: string) => {
      const r = agreed(receipts, what);
      assert.equal(r.code, "ok", `${what}: ${JSON.stringify(r)}`);
      const fee = BigInt(r.feeUnits);
      assert.ok(fee >= 1n && fee <= amount, `${what}: fee ${fee}`);
      return { amount, fee };
    };
    const step = (name: string, fn: () => Promise<void>) =>
      t.step({ name, fn, sanitizeOps: false, sanitizeResources: false, sanitizeExit: false });

    const refusedIds: string[] = [];
    const unknownEverywhere = async (what: string) => {
      for (let i = 0; i < NODES; i++) {
        for (const id of refusedIds) {
          const v = await get<TxView>(i, `/transactions/${id}`);
          assert.equal(
            v.error?.code,
            "not_found",
            `${what}: refused ${id} is known to node ${i}: ${JSON.stringify(v)}`,
          );
        }
      }
    };
    /** Alice's first transfer after the refusals, with the nonce the refused overspend had. */
    let firstTransfer: Uint8Array | null = null;

    try {
      const ready = await step("setup: alice and bob create their accounts, the master mints to alice", async () => {
        const setup: [string, number, Uint8Array][] = [
          ["create alice", 0, sign(alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey })],
          ["create bob", 1, sign(bob, 0n, { kind: "create_account", name: "bob", publicKey: bob.publicKey })],
          ["mint to alice", 2, sign(master, 0n, { kind: "mint", to: alice.id, amount: MINTED })],
        ];
        for (const [what, node, tx] of setup) {
          const [receipts] = await applied([await submit(node, tx, what)], what);
          assert.equal(agreed(receipts, what).code, "ok", `${what}: ${JSON.stringify(receipts[0])}`);
        }
        const v = await agreedView("after setup");
        assert.deepEqual(account(v, "alice"), { balance: MINTED, nextNonce: 1n });
        assert.deepEqual(account(v, "bob"), { balance: 0n, nextNonce: 1n });
        assert.equal(BigInt(v.supplyUnits), MINTED);
      });
      if (!ready) return;

      await step(
        "each refusal is an immediate 422 with the ledger's code on every node and changes nothing",
        async () => {
          const before = await agreedView("before the refusals");
          const n = account(before, "alice").nextNonce;
          const quote = await get<{ feeUnits: string }>(1, "/fees/quote?account=alice&amount=100");
          // alice has sent nothing yet (u = 0): the rate is exactly F_min, 0.1%, whatever her age.
          assert.equal(BigInt(quote.feeUnits), 100_000n, JSON.stringify(quote));
          // Max fee = the quoted fee: taken now, and only after the refusals (u and t only raise the fee).
          firstTransfer = transfer(alice, n, bob.id, 100n * RUV, BigInt(quote.feeUnits));
          const flipped = firstTransfer.slice();
          flipped[flipped.length - SIGNATURE_BYTES + 100] ^= 0x01;
          const refusals: [string, Uint8Array, string][] = [
            // The whole balance: amount ≤ balance, amount + fee is not.
            ["insufficient funds", transfer(alice, n, bob.id, MINTED), "insufficient_funds"],
            ["bad signature (one bit flipped)", flipped, "bad_signature"],
            ["stale nonce", transfer(alice, n - 1n, bob.id, RUV), "nonce_too_low"],
            ["future nonce (n + 5)", transfer(alice, n + 5n, bob.id, RUV), "nonce_too_high"],
            ["unknown sender", transfer(carol, 0n, bob.id, RUV), "unknown_account"],
            ["unknown recipient", transfer(alice, n, carol.id, RUV), "unknown_recipient"],
            [
              "duplicate name",
              sign(mallory, 0n, { kind: "create_account", name: "alice", publicKey: mallory.publicKey }),
              "name_taken",
            ],
            [
              "mint not signed by the master",
              sign(alice, n, { kind: "mint", to: alice.id, amount: RUV }),
              "not_authorized",
            ],
            [
              "fee change not signed by the fee admin",
              sign(bob, 1n, { kind: "configure_fees", fees: { ...defaultFeeParams(), fMinPpb: 2_000_000 } }),
              "not_authorized",
            ],
            ["max fee one unit below the fee", transfer(alice, n, bob.id, 100n * RUV, 99_999n), "fee_exceeds_max_fee"],
            [
              "attestation that has already expired",
              sign(verifier, 0n, {
                kind: "attest_agent",
                agent: alice.id,
                proofDigest: blake3(new TextEncoder().encode("alice-proof.json")),
                expiryMs: 1n,
              }),
              "attestation_expired",
            ],
          ];
          for (const [what, tx, code] of refusals) {
            refusedIds.push(idOf(tx));
            for (let i = 0; i < NODES; i++) {
              const r = await post(i, tx);
              const body = JSON.stringify(r.body);
              assert.equal(r.status, 422, `${what} on node ${i}: expected 422 ${code}, got ${r.status} ${body}`);
              assert.equal(r.body.error?.code, code, `${what} on node ${i}: ${body}`);
              assert.ok(r.body.error!.message.length > 0, `${what} on node ${i}: no message`);
              assert.ok(r.ms < REFUSAL_MS_MAX, `${what} on node ${i}: the refusal took ${Math.round(r.ms)} ms`);
            }
          }
          assert.deepEqual(await agreedView("after the refusals"), before);
          await unknownEverywhere("after the refusals");
        },
      );

      await step("no stuck account: the refused overspend's nonce is taken by the next transfer", async () => {
        assert.ok(firstTransfer, "the refusals step made it");
        const start = await settled("before the transfer");
        const id = await submitTransfer(3, firstTransfer, 100n * RUV, "alice's transfer after the refusals");
        const [receipts] = await applied([id], "alice's transfer after the refusals");
        const sent = paid(receipts, 100n * RUV, "alice's transfer after the refusals");
        assert.equal(sent.fee, 100_000n, "the quoted fee is the fee charged (u was 0)");
        moved(start, await agreedView("after the transfer"), [sent]);
      });

      await step("a resubmitted transaction answers the same id and state on every node", async () => {
        assert.ok(firstTransfer, "the refusals step made it");
        const id = idOf(firstTransfer);
        await applied([id], "alice's transfer after the refusals");
        for (let i = 0; i < NODES; i++) {
          const r = await post(i, firstTransfer);
          assert.equal(r.status, 200, `resubmitted to node ${i}: ${r.status} ${JSON.stringify(r.body)}`);
          assert.deepEqual(r.body, { id, state: "accepted" }, `resubmitted to node ${i}`);
        }
      });

      await step("a nonce chain n, n+1, n+2 sent back to back to one node is applied everywhere", async () => {
        const start = await settled("before the chain");
        const n = account(start, "alice").nextNonce;
        const amounts = [10n * RUV, 20n * RUV, 30n * RUV];
        const txs = amounts.map((amount, k) => transfer(alice, n + BigInt(k), bob.id, amount));
        const ids: string[] = [];
        for (const [k, tx] of txs.entries()) {
          ids.push(await submitTransfer(0, tx, amounts[k], `nonce n+${k} to node 0`));
          if (k > 0) continue;
          // The same bytes again at once: the same id, still on its way.
          const again = await post(0, tx);
          assert.ok(taken(again, tx), `duplicate of nonce n: ${again.status} ${JSON.stringify(again.body)}`);
        }
        const receipts = await applied(ids, "chain to node 0");
        const sent = receipts.map((r, k) => paid(r, amounts[k], `nonce n+${k}`));
        moved(start, await agreedView("after the chain"), sent);
      });

      await step("a chained transaction the ledger refuses after acceptance consumes its nonce", async () => {
        const start = await settled("before the chain");
        const n = account(start, "alice").nextNonce;
        // n leaves about 20 rUv; n+1 passes the dry run (n is still on its way, so it is only
        // nonce_too_high there) but overspends once applied; n+2 still applies.
        const spend = account(start, "alice").balance - 21n * RUV;
        const txs = [
          transfer(alice, n, bob.id, spend),
          transfer(alice, n + 1n, bob.id, 500n * RUV),
          transfer(alice, n + 2n, bob.id, RUV),
        ];
        const ids: string[] = [];
        ids.push(await submitTransfer(3, txs[0], spend, "nonce n"));
        ids.push(await submitTransfer(3, txs[1], 0n, "nonce n+1, an overspend"));
        ids.push(await submitTransfer(3, txs[2], RUV, "nonce n+2"));
        const receipts = await applied(ids, "chain with an overspend");
        const refused = agreed(receipts[1], "nonce n+1");
        assert.equal(refused.code, "insufficient_funds", JSON.stringify(refused));
        assert.equal(refused.feeUnits, "0", "a refusal pays no fee");
        const sent = [paid(receipts[0], spend, "nonce n"), paid(receipts[2], RUV, "nonce n+2")];
        moved(start, await agreedView("after the chain"), sent, 1);
      });

      await step("a nonce chain n, n+1, n+2 alternating between nodes 1 and 2 is applied everywhere", async () => {
        const start = await settled("before the chain");
        const n = account(start, "alice").nextNonce;
        const amounts = [RUV, 2n * RUV, 3n * RUV];
        const nodes = [1, 2, 1];
        const txs = amounts.map((amount, k) => transfer(alice, n + BigInt(k), bob.id, amount));
        const ids: string[] = [];
        let lastTakenMs = 0;
        for (const [k, tx] of txs.entries()) {
          const r = await post(nodes[k], tx);
          if (!taken(r, tx) && k === 0) {
            assert.fail(`nonce n to node ${nodes[0]}: ${r.status} ${JSON.stringify(r.body)}`);
          }
          if (!taken(r, tx)) {
            // What the refusing node knew of the predecessor at that moment, and its log.
            const pred = await get<TxView>(nodes[k], `/transactions/${ids[k - 1]}`);
            const predHome = await get<TxView>(nodes[k - 1], `/transactions/${ids[k - 1]}`);
            assert.fail(
              `nonce n+${k} (n = ${n}) to node ${nodes[k]}, ${
                Math.round(performance.now() - lastTakenMs)
              } ms after node ${nodes[k - 1]} took n+${k - 1}: ${r.status} ${JSON.stringify(r.body)}\n` +
                `n+${k - 1} (${ids[k - 1]}) then: on node ${nodes[k]} ${JSON.stringify(pred)}, on node ${
                  nodes[k - 1]
                } ${JSON.stringify(predHome)}\n--- node logs\n${logsAbout([...ids, r.body.error?.requestId ?? "-"])}`,
            );
          }
          lastTakenMs = performance.now();
          ids.push(r.body.id!);
          alicesTxs.push({ id: r.body.id!, amount: amounts[k], what: `nonce n+${k} to node ${nodes[k]}` });
        }
        const receipts = await applied(ids, "chain alternating between nodes 1 and 2");
        const sent = receipts.map((r, k) => paid(r, amounts[k], `nonce n+${k}`));
        moved(start, await agreedView("after the chain"), sent);
      });

      await step(
        "the same transfers posted to all four nodes at once: one carrier each, one outcome everywhere",
        async () => {
          const start = await settled("before the simultaneous posts");
          const n = account(start, "alice").nextNonce;
          const amounts = [RUV / 10n, RUV / 5n, RUV / 4n, RUV / 2n];
          const txs = amounts.map((amount, k) => transfer(alice, n + BigInt(k), bob.id, amount));
          const ids: string[] = [];
          for (const [k, tx] of txs.entries()) {
            // Every node gets the same bytes in the same instant: several carry them in vertices of their own.
            const answers = await Promise.all(d.nodes.map((_, i) => post(i, tx)));
            for (const [i, r] of answers.entries()) {
              assert.ok(taken(r, tx), `nonce n+${k} posted to node ${i}: ${r.status} ${JSON.stringify(r.body)}`);
            }
            ids.push(idOf(tx));
            alicesTxs.push({ id: idOf(tx), amount: amounts[k], what: `nonce n+${k} posted to every node` });
          }
          const receipts = await applied(ids, "transfers posted to every node");
          const sent = receipts.map((r, k) => paid(r, amounts[k], `nonce n+${k} posted to every node`));
          moved(start, await agreedView("after the simultaneous posts"), sent);
          // At most one vertex carrying a transaction is ever accepted: no ledger saw one carried twice.
          for (const [i, node] of d.nodes.entries()) {
            const scrape = await (await fetch(node.metrics)).text();
            const duplicates = scrape.split("\n").filter((l) =>
              l.startsWith("qudag_ledger_duplicate_transactions_total") && !l.endsWith(" 0")
            );
            assert.deepEqual(duplicates, [], `node ${i} applied a transaction carried twice`);
          }
        },
      );

      await step("every node ends with the same ledger; balances follow exactly from the receipts", async () => {
        const end = await settled("at the end");
        const receipts = await applied(alicesTxs.map((x) => x.id), "at the end");
        let spent = 0n, received = 0n, fees = 0n;
        for (const [k, x] of alicesTxs.entries()) {
          const r = agreed(receipts[k], x.what);
          if (r.code !== "ok") continue;
          spent += x.amount + BigInt(r.feeUnits);
          received += x.amount;
          fees += BigInt(r.feeUnits);
        }
        assert.deepEqual(account(end, "alice"), { balance: MINTED - spent, nextNonce: 1n + BigInt(alicesTxs.length) });
        assert.equal(account(end, "bob").balance, received);
        assert.equal(account(end, "fees").balance, fees);
        assert.equal(BigInt(end.supplyUnits), MINTED);
        await unknownEverywhere("at the end");
      });
    } finally {
      await net.stop();
    }
  },
});
