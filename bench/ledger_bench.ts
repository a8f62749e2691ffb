/**
 * `deno run bench/ledger_bench.ts [--json] [--quick]`: how fast the WASM
 * core's ledger transition runs on this machine.
 *
 * - transfers/s: `Ledger.apply()` of pre-signed transfers (decode + BLAKE3 id
 *   of the 4.8 KB signed bytes + causal view + fee math + commit), signature
 *   verdict given as true: ML-DSA-87 verification is the crypto backends' cost,
 *   measured by bench/crypto_bench.ts, and dominates a real node.
 * - the same with 16 concurrent vertices named per apply (a wide DAG frontier);
 * - stateHash() and export() at ACCOUNTS accounts.
 *
 * Each figure is the median of ROUNDS rounds. Transfers are pre-encoded, so
 * only the ledger is timed.
 */
import { blake3, defaultFeeParams, encodeTransaction, Ledger, type LedgerGenesis } from "../src/core/mod.ts";

const args = new Set(Deno.args);
const JSON_OUTPUT = args.has("--json");
const QUICK = args.has("--quick");
/** Timed rounds per figure; the median is reported. */
const ROUNDS = QUICK ? 1 : 5;
/** Accounts in the ledger (senders and recipients of the transfers). */
const ACCOUNTS = QUICK ? 200 : 2_000;
/** Transfers applied per round (64 per vertex). */
const TRANSFERS_PER_ROUND = QUICK ? 2_000 : 10_000;
/** Concurrent vertices named per apply in the wide-frontier figure. */
const CONCURRENT_VERTICES = 16;

const CHAIN = new Uint8Array(32).fill(7);
const T0 = 1_750_000_000_000n;
const RUV = 1_000_000n;

function key(n: number): { publicKey: Uint8Array; id: Uint8Array } {
  const publicKey = new Uint8Array(2592);
  new DataView(publicKey.buffer).setUint32(0, n + 1, true);
  return { publicKey, id: blake3(publicKey) };
}

function tx(account: Uint8Array, nonce: bigint, payload: Record<string, unknown>): Uint8Array {
  return encodeTransaction(
    {
      chainId: CHAIN,
      account,
      nonce,
      timestampMs: 0n,
      maxFee: 1n << 40n,
      signature: new Uint8Array(4627),
      ...payload,
    } as Parameters<typeof encodeTransaction>[0],
  );
}

const roles = Array.from({ length: 5 }, (_, i) => key(1_000_000 + i));
const genesis: LedgerGenesis = {
  chainId: CHAIN,
  timeMs: T0,
  fees: defaultFeeParams(),
  supplyCap: 0n,
  accounts: roles.map((k, i) => ({ name: `role${i}`, publicKey: k.publicKey })),
  roles: {
    feeAccount: roles[0].id,
    exchangeMaster: roles[1].id,
    feeAdmin: roles[2].id,
    agentVerifier: roles[3].id,
    governance: roles[4].id,
  },
};

/** A ledger with ACCOUNTS funded accounts, and the next nonce of each. */
function setUp(): { ledger: Ledger; users: { id: Uint8Array }[]; nonces: bigint[] } {
  const ledger = Ledger.genesis(genesis);
  const users = Array.from({ length: ACCOUNTS }, (_, i) => key(i));
  const ctx = { vertex: new Uint8Array(32), timeMs: T0 + 1n };
  users.forEach((u, i) => {
    ledger.apply(tx(u.id, 0n, { kind: "create_account", name: `u${i}`, publicKey: u.publicKey }), ctx, true);
    ledger.apply(tx(roles[1].id, BigInt(i), { kind: "mint", to: u.id, amount: 1_000_000n * RUV }), ctx, true);
  });
  return { ledger, users, nonces: users.map(() => 1n) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function transfersPerSecond(concurrent: number): number {
  const { ledger, users, nonces } = setUp();
  const rates: number[] = [];
  let vertexNo = 0;
  const vertexId = (n: number) => blake3(new TextEncoder().encode(`v${n}`));
  for (let round = 0; round < ROUNDS; round++) {
    const batch: Uint8Array[] = [];
    for (let i = 0; i < TRANSFERS_PER_ROUND; i++) {
      const from = (round * 7919 + i) % ACCOUNTS;
      const to = (from + 1 + (i % 97)) % ACCOUNTS;
      batch.push(
        tx(users[from].id, nonces[from]++, { kind: "transfer", to: users[to].id, amount: RUV, memo: new Uint8Array() }),
      );
    }
    // One vertex per 64 transfers; the previous `concurrent` vertices stay unsettled.
    const contexts = [];
    for (let v = 0; v < Math.ceil(batch.length / 64); v++) {
      const n = vertexNo + 1 + v;
      const others = Array.from({ length: concurrent }, (_, c) => vertexId(n - 1 - c));
      contexts.push({ vertex: vertexId(n), timeMs: T0 + 2n + BigInt(n), concurrent: others });
    }
    vertexNo += contexts.length;
    const start = performance.now();
    for (let i = 0; i < batch.length; i++) ledger.apply(batch[i], contexts[i >> 6], true);
    rates.push(batch.length / ((performance.now() - start) / 1000));
    ledger.settle(Array.from({ length: Math.max(0, vertexNo - concurrent) }, (_, i) => vertexId(i)));
  }
  ledger.free();
  return median(rates);
}

function msPerCall(fn: () => unknown): number {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

const results = {
  accounts: ACCOUNTS,
  transfers_per_s: Math.round(transfersPerSecond(0)),
  transfers_per_s_16_concurrent: Math.round(transfersPerSecond(CONCURRENT_VERTICES)),
  ...(() => {
    const { ledger } = setUp();
    const out = {
      state_hash_ms: Number(msPerCall(() => ledger.stateHash()).toFixed(2)),
      export_ms: Number(msPerCall(() => ledger.export()).toFixed(2)),
      export_bytes: ledger.export().length,
    };
    ledger.free();
    return out;
  })(),
};

if (JSON_OUTPUT) {
  console.log(JSON.stringify(results));
} else {
  console.log(`ledger (WASM core), ${ACCOUNTS} accounts, median of ${ROUNDS} rounds`);
  console.log(`  transfers applied/s:                    ${results.transfers_per_s}`);
  console.log(`  transfers applied/s, 16 concurrent:     ${results.transfers_per_s_16_concurrent}`);
  console.log(`  stateHash():                            ${results.state_hash_ms} ms`);
  console.log(`  export():                               ${results.export_ms} ms (${results.export_bytes} bytes)`);
}
