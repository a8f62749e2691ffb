/**
 * The one import of the WASM core. Deno loads `.wasm` as an ES module (no
 * read permission needed; `deno bundle` inlines it; `deno compile` embeds
 * it), so this works under the node's narrow `--allow-read=./data`.
 *
 * Call convention (wasm/src/ffi.rs): copy the input into a buffer from
 * `qudag_alloc`, call, read the result buffer (output on success, the error
 * message otherwise), free the input. Every call is synchronous, so the
 * single result buffer is never shared between calls.
 */
import * as wasm from "../../wasm/qudag_core.wasm";
import { CoreError, isCoreErrorCode } from "./_error.ts";

/** The export ABI this loader speaks (wasm/src/ffi.rs ABI_VERSION). */
const ABI_VERSION = 6;

const loadedAbi = wasm.qudag_abi_version();
if (loadedAbi !== ABI_VERSION) {
  throw new Error(
    `Cannot use wasm/qudag_core.wasm: its ABI version is ${loadedAbi}, this loader expects ${ABI_VERSION}; rebuild it with \`deno task build:wasm\``,
  );
}

type Export = (ptr: number, len: number) => number;
/** An input the call writes straight into the core's memory (a FrameWriter): no buffer of its own first. */
interface Writable {
  readonly length: number;
  writeTo(out: Uint8Array): void;
}
type Input = Uint8Array | Writable;
type LedgerExport = (handle: number, ptr: number, len: number) => number;

/** Bytes produced by one successful call, copied out of wasm memory. */
function takeResult(): Uint8Array {
  const ptr = wasm.qudag_result_ptr();
  const len = wasm.qudag_result_len();
  // Copy: the view would dangle once memory grows or the next call runs.
  return new Uint8Array(wasm.memory.buffer, ptr, len).slice();
}

const decoder = new TextDecoder();
/** Code names by number: fixed by the loaded module. */
const codeNames = new Map<number, string | undefined>();

/** The name of a numeric code, or undefined if it is not a code (asked of the core once per code). */
function codeName(code: number): string | undefined {
  if (!codeNames.has(code)) {
    codeNames.set(code, wasm.qudag_error_name(code) === 0 ? decoder.decode(takeResult()) : undefined);
  }
  return codeNames.get(code);
}

function check(code: number): Uint8Array {
  const out = takeResult();
  if (code === 0) return out;
  const message = decoder.decode(out);
  const name = codeName(code) ?? "internal";
  if (!isCoreErrorCode(name)) {
    throw new CoreError(
      "internal",
      `The core returned code ${code} (${name}), unknown to this loader: ${message}`,
    );
  }
  throw new CoreError(name, message);
}

function trapped(error: unknown): never {
  if (error instanceof WebAssembly.RuntimeError) {
    throw new CoreError("internal", `The WASM core trapped: ${error.message}`, {
      cause: error,
    });
  }
  throw error;
}

/** Calls an export that takes one input buffer. */
function callWith(fn: Export, input: Input): Uint8Array {
  const len = input.length;
  const ptr = wasm.qudag_alloc(len);
  if (ptr === 0) {
    throw new CoreError(
      "internal",
      `The WASM core could not allocate ${len} bytes`,
    );
  }
  try {
    // The view after the allocation: it may have grown the memory, which detaches older views.
    const into = new Uint8Array(wasm.memory.buffer, ptr, len);
    if (input instanceof Uint8Array) into.set(input);
    else input.writeTo(into);
    return check(fn(ptr, len));
  } catch (error) {
    return trapped(error);
  } finally {
    wasm.qudag_free(ptr, len);
  }
}

/** Calls a ledger export: a handle plus one input buffer. */
function callLedger(fn: LedgerExport, handle: number, input: Input): Uint8Array {
  return callWith((p, l) => fn(handle, p, l), input);
}

/** Calls an export that takes no input. */
function callNone(fn: () => number): Uint8Array {
  try {
    return check(fn());
  } catch (error) {
    return trapped(error);
  }
}

export const core = {
  /** Bytes of the core's linear memory (it grows and never shrinks). */
  memoryBytes: (): number => wasm.memory.buffer.byteLength,
  blake3: (input: Uint8Array, outLen: number): Uint8Array =>
    callWith((p, l) => wasm.qudag_blake3_hash(p, l, outLen), input),
  txEncode: (frame: Uint8Array) => callWith(wasm.qudag_tx_encode, frame),
  txSigningMessage: (frame: Uint8Array) => callWith(wasm.qudag_tx_signing_message, frame),
  txDecode: (bytes: Uint8Array) => callWith(wasm.qudag_tx_decode, bytes),
  vertexEncode: (frame: Input) => callWith(wasm.qudag_vertex_encode, frame),
  vertexSigningMessage: (frame: Input) => callWith(wasm.qudag_vertex_signing_message, frame),
  vertexDecode: (bytes: Uint8Array) => callWith(wasm.qudag_vertex_decode, bytes),
  feeDefaults: () => callNone(wasm.qudag_fee_defaults),
  feeParamsValidate: (frame: Uint8Array) => callWith(wasm.qudag_fee_params_validate, frame),
  feeCompute: (frame: Uint8Array) => callWith(wasm.qudag_fee_compute, frame),
  amountParse: (text: Uint8Array) => callWith(wasm.qudag_amount_parse, text),
  amountFormat: (units: Uint8Array) => callWith(wasm.qudag_amount_format, units),
  constants: () => callNone(wasm.qudag_constants),
  ledgerGenesis: (frame: Uint8Array) => callWith(wasm.qudag_ledger_genesis, frame),
  ledgerImport: (bytes: Uint8Array) => callWith(wasm.qudag_ledger_import, bytes),
  ledgerFree: (handle: number) => callNone(() => wasm.qudag_ledger_free(handle)),
  ledgerExport: (handle: number) => callNone(() => wasm.qudag_ledger_export(handle)),
  ledgerStateHash: (handle: number) => callNone(() => wasm.qudag_ledger_state_hash(handle)),
  ledgerAccounts: (handle: number) => callNone(() => wasm.qudag_ledger_accounts(handle)),
  ledgerStatus: (handle: number) => callNone(() => wasm.qudag_ledger_status(handle)),
  ledgerPrepare: (handle: number, frame: Input) => callLedger(wasm.qudag_ledger_prepare, handle, frame),
  ledgerApply: (handle: number, frame: Input) => callLedger(wasm.qudag_ledger_apply, handle, frame),
  ledgerCheck: (handle: number, frame: Input) => callLedger(wasm.qudag_ledger_check, handle, frame),
  ledgerAccount: (handle: number, id: Uint8Array) => callLedger(wasm.qudag_ledger_account, handle, id),
  ledgerLookupName: (handle: number, name: Uint8Array) => callLedger(wasm.qudag_ledger_lookup_name, handle, name),
  ledgerFeeQuote: (handle: number, frame: Uint8Array) => callLedger(wasm.qudag_ledger_fee_quote, handle, frame),
  ledgerSettle: (handle: number, ids: Uint8Array) => callLedger(wasm.qudag_ledger_settle, handle, ids),
  ledgerCutHashes: (handle: number, ids: Uint8Array) => callLedger(wasm.qudag_ledger_cut_hashes, handle, ids),
  ledgerCutSnapshot: (handle: number, ids: Uint8Array) => callLedger(wasm.qudag_ledger_cut_snapshot, handle, ids),
  /** The name of a numeric code, or undefined if it is not a code. */
  codeName,
} as const;
