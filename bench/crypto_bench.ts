/**
 * `deno task bench:crypto [-- --json] [--quick] [--native-lib=PATH]`: operations per second of each
 * crypto backend (native, webcrypto, noble) on this machine, and the ratios
 * native/WebCrypto and native/noble measured in the same run.
 *
 * Each figure is the median of ROUNDS timed rounds of ROUND_MS each (after one
 * warm-up round), with the backends' rounds interleaved so that load from
 * elsewhere on a shared machine skews no ratio; the whole run takes ~40 s. Operations run
 * one after another (latency-bound), as a node verifying one vertex at a time
 * would; batch verification is reported in signatures per second.
 */

import type { CryptoBackend, MlDsaSigner, MlDsaVerifier, VerifyItem } from "../src/crypto/backend.ts";
import { openFastestNative, openNative } from "../src/crypto/ffi.ts";
import { createNativeBackendFrom } from "../src/crypto/native.ts";
import { createNobleBackend } from "../src/crypto/noble.ts";
import { createWebCryptoBackend, probeWebCrypto } from "../src/crypto/webcrypto.ts";

const args = new Set(Deno.args);
const JSON_OUTPUT = args.has("--json");
const QUICK = args.has("--quick");
/** `--native-lib=PATH` benchmarks that build of the library; by default, the one a node opens (openFastestNative). */
const NATIVE_LIB = Deno.args.find((a) => a.startsWith("--native-lib="))?.slice("--native-lib=".length);
/** Timed rounds per figure; the median is reported. */
const ROUNDS = QUICK ? 1 : 5;
/** Length of one timed round. */
const ROUND_MS = QUICK ? 100 : 200;
/** Items per batch-verify call. */
const BATCH_ITEMS = 64;
/** Iterations per round never exceed this, whatever the speed. */
const ITERATIONS_MAX = 1_000_000;

type OpName =
  | "mldsa87_keygen"
  | "mldsa87_sign"
  | "mldsa87_verify"
  | "mldsa87_verify_batch_1_thread"
  | "mldsa87_verify_batch_2_threads"
  | "mlkem768_encaps"
  | "mlkem768_decaps"
  | "blake3_1kib"
  | "blake3_1mib";

const OPS: readonly OpName[] = [
  "mldsa87_keygen",
  "mldsa87_sign",
  "mldsa87_verify",
  "mldsa87_verify_batch_1_thread",
  "mldsa87_verify_batch_2_threads",
  "mlkem768_encaps",
  "mlkem768_decaps",
  "blake3_1kib",
  "blake3_1mib",
];

/** How many units one call of the operation counts for (signatures in a batch). */
const UNITS: Partial<Record<OpName, number>> = {
  mldsa87_verify_batch_1_thread: BATCH_ITEMS,
  mldsa87_verify_batch_2_threads: BATCH_ITEMS,
};

type Op = () => unknown | Promise<unknown>;

/** Operations per second over one timed round. */
async function timedRound(op: Op, units: number): Promise<number> {
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  while (count < ITERATIONS_MAX) {
    await op();
    count++;
    elapsed = performance.now() - start;
    if (elapsed >= ROUND_MS) break;
  }
  return (count * units * 1000) / elapsed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Operations measured side by side: within a group, every round runs each
 * (operation, backend) pair in turn, so a burst of load from elsewhere on this
 * shared machine hits all of them alike and the ratios stay fair.
 */
const GROUPS: readonly (readonly OpName[])[] = [
  ["mldsa87_keygen"],
  ["mldsa87_sign"],
  ["mldsa87_verify"],
  ["mldsa87_verify_batch_1_thread", "mldsa87_verify_batch_2_threads"],
  ["mlkem768_encaps"],
  ["mlkem768_decaps"],
  ["blake3_1kib"],
  ["blake3_1mib"],
];

interface Fixture {
  seed: Uint8Array;
  message: Uint8Array;
  signer: MlDsaSigner;
  verifier: MlDsaVerifier;
  signature: Uint8Array;
  batch: VerifyItem[];
  encapsulationKey: Uint8Array;
  decapsulationKey: Uint8Array;
  ciphertext: Uint8Array;
  kib: Uint8Array;
  mib: Uint8Array;
}

async function fixture(backend: CryptoBackend): Promise<Fixture> {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const message = crypto.getRandomValues(new Uint8Array(256)); // about a vertex header
  const signer = await backend.mlDsaSigner(seed);
  const signature = await signer.sign(message);
  const verifier = await backend.mlDsaVerifier(signer.publicKey);
  const batch: VerifyItem[] = [];
  // 8 signers, each signing 8 messages: a batch as a DAG round would bring.
  for (let s = 0; s < 8; s++) {
    const batchSigner = await backend.mlDsaSigner(crypto.getRandomValues(new Uint8Array(32)));
    for (let m = 0; m < BATCH_ITEMS / 8; m++) {
      const batchMessage = crypto.getRandomValues(new Uint8Array(256));
      batch.push({
        publicKey: batchSigner.publicKey,
        message: batchMessage,
        signature: await batchSigner.sign(batchMessage),
      });
    }
  }
  const d = crypto.getRandomValues(new Uint8Array(32));
  const z = crypto.getRandomValues(new Uint8Array(32));
  const { encapsulationKey, decapsulationKey } = await backend.mlKemKeygen(768, d, z);
  const { ciphertext } = await backend.mlKemEncaps(768, encapsulationKey);
  return {
    seed,
    message,
    signer,
    verifier,
    signature,
    batch,
    encapsulationKey,
    decapsulationKey,
    ciphertext,
    kib: crypto.getRandomValues(new Uint8Array(1024)),
    mib: new Uint8Array(1 << 20).fill(0x5a),
  };
}

function operations(backend: CryptoBackend, f: Fixture): Partial<Record<OpName, Op>> {
  const ops: Partial<Record<OpName, Op>> = {
    mldsa87_keygen: () => backend.mlDsaSigner(f.seed),
    mldsa87_sign: () => f.signer.sign(f.message),
    mldsa87_verify: async () => {
      if (!await f.verifier.verify(f.message, f.signature)) throw new Error("verify failed");
    },
    mldsa87_verify_batch_1_thread: async () => {
      const results = await backend.mlDsaVerifyBatch(f.batch, 1);
      if (!results.every((r) => r)) throw new Error("batch verify failed");
    },
    mlkem768_encaps: () => backend.mlKemEncaps(768, f.encapsulationKey),
    mlkem768_decaps: () => backend.mlKemDecaps(768, f.decapsulationKey, f.ciphertext),
  };
  if (backend.capabilities.batchThreads) {
    ops.mldsa87_verify_batch_2_threads = async () => {
      const results = await backend.mlDsaVerifyBatch(f.batch, 2);
      if (!results.every((r) => r)) throw new Error("batch verify failed");
    };
  }
  const blake3 = backend.blake3;
  if (backend.capabilities.blake3 && blake3 !== undefined) {
    ops.blake3_1kib = () => blake3(f.kib);
    ops.blake3_1mib = () => blake3(f.mib);
  }
  return ops;
}

type Figures = Partial<Record<OpName, number>>;

interface Report {
  machine: { os: string; arch: string; cores: number; deno: string };
  settings: { rounds: number; roundMs: number; batchItems: number };
  backends: Record<string, { available: boolean; reason: string; opsPerSecond: Figures }>;
  ratios: { nativeOverWebcrypto: Figures; nativeOverNoble: Figures; nativeBatch2Over1Thread: number | null };
  notes: string[];
}

async function measureAll(
  backends: { name: string; ops: Partial<Record<OpName, Op>> }[],
): Promise<Record<string, Figures>> {
  const figures: Record<string, Figures> = {};
  for (const { name } of backends) figures[name] = {};
  for (const group of GROUPS) {
    const samples = new Map<string, number[]>();
    for (let round = 0; round <= ROUNDS; round++) {
      for (const op of group) {
        for (const { name, ops } of backends) {
          const run = ops[op];
          if (run === undefined) continue;
          const rate = await timedRound(run, UNITS[op] ?? 1);
          if (round === 0) continue; // warm-up
          const key = `${name}/${op}`;
          samples.set(key, [...(samples.get(key) ?? []), rate]);
        }
      }
    }
    for (const op of group) {
      for (const { name } of backends) {
        const values = samples.get(`${name}/${op}`);
        if (values === undefined) continue;
        figures[name][op] = median(values);
        if (!JSON_OUTPUT) console.error(`  ${name.padEnd(9)} ${op.padEnd(32)} ${format(figures[name][op])}`);
      }
    }
  }
  return figures;
}

function format(value: number | undefined): string {
  if (value === undefined) return "-";
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(1);
}

function ratios(a: Figures, b: Figures): Figures {
  const out: Figures = {};
  for (const op of OPS) {
    const x = a[op], y = b[op];
    if (x !== undefined && y !== undefined && y > 0) out[op] = Math.round((x / y) * 100) / 100;
  }
  return out;
}

async function main(): Promise<void> {
  const report: Report = {
    machine: {
      os: Deno.build.os,
      arch: Deno.build.arch,
      cores: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
    },
    settings: { rounds: ROUNDS, roundMs: ROUND_MS, batchItems: BATCH_ITEMS },
    backends: {},
    ratios: { nativeOverWebcrypto: {}, nativeOverNoble: {}, nativeBatch2Over1Thread: null },
    notes: [
      "ops/s; batch rows are signatures/s; blake3 rows are hashes/s (1 MiB row x 1 = MiB/s)",
      "WebCrypto signs with fresh randomness only and has no BLAKE3; noble ignores the thread hint",
    ],
  };

  const candidates: { name: string; create: () => Promise<CryptoBackend | string> }[] = [
    {
      name: "native",
      create: () => {
        const opened = NATIVE_LIB === undefined ? openFastestNative() : openNative(NATIVE_LIB);
        if (opened.ok) report.notes.push(`native: ${opened.library.path}, the ${opened.library.build} build`);
        return Promise.resolve(opened.ok ? createNativeBackendFrom(opened.library) : opened.reason);
      },
    },
    {
      name: "webcrypto",
      create: async () => {
        const missing = await probeWebCrypto();
        return missing ?? createWebCryptoBackend();
      },
    },
    { name: "noble", create: () => Promise.resolve(createNobleBackend()) },
  ];

  const ready: { name: string; ops: Partial<Record<OpName, Op>> }[] = [];
  for (const candidate of candidates) {
    let created: CryptoBackend | string;
    try {
      created = await candidate.create();
    } catch (error) {
      created = error instanceof Error ? error.message : String(error);
    }
    if (typeof created === "string") {
      report.backends[candidate.name] = { available: false, reason: created, opsPerSecond: {} };
      if (!JSON_OUTPUT) console.error(`  ${candidate.name}: unavailable: ${created}`);
      continue;
    }
    ready.push({ name: candidate.name, ops: operations(created, await fixture(created)) });
  }
  const measured = await measureAll(ready);
  for (const { name } of ready) {
    report.backends[name] = { available: true, reason: "loaded", opsPerSecond: measured[name] };
  }

  const native = report.backends.native?.opsPerSecond ?? {};
  report.ratios.nativeOverWebcrypto = ratios(native, report.backends.webcrypto?.opsPerSecond ?? {});
  report.ratios.nativeOverNoble = ratios(native, report.backends.noble?.opsPerSecond ?? {});
  const one = native.mldsa87_verify_batch_1_thread, two = native.mldsa87_verify_batch_2_threads;
  report.ratios.nativeBatch2Over1Thread = one !== undefined && two !== undefined
    ? Math.round((two / one) * 100) / 100
    : null;

  if (JSON_OUTPUT) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const names = ["native", "webcrypto", "noble"];
  const header = ["operation (ops/s)".padEnd(32), ...names.map((n) => n.padStart(11)), "  nat/wc", " nat/noble"];
  console.log(header.join(" "));
  for (const op of OPS) {
    const row = [op.padEnd(32)];
    for (const name of names) row.push(format(report.backends[name]?.opsPerSecond[op]).padStart(11));
    row.push(String(report.ratios.nativeOverWebcrypto[op] ?? "-").padStart(8));
    row.push(String(report.ratios.nativeOverNoble[op] ?? "-").padStart(10));
    console.log(row.join(" "));
  }
  console.log(
    `native batch verify, 2 threads / 1 thread: ${report.ratios.nativeBatch2Over1Thread ?? "-"}` +
      ` (${report.machine.cores} cores, ${BATCH_ITEMS} signatures per call)`,
  );
  for (const [name, b] of Object.entries(report.backends)) {
    if (!b.available) console.log(`${name}: unavailable: ${b.reason}`);
  }
}

await main();
