/**
 * The native library's two builds (`deno task build:native`): x86-64-v3, and on
 * x86_64 the AVX-512 one (x86-64-v4) beside it, which `openFastestNative()`
 * prefers where this CPU runs it. Both must compute the same bytes.
 */
import assert from "node:assert/strict";
import {
  DEFAULT_NATIVE_LIBRARY_PATH,
  fasterBuildPath,
  type NativeLibrary,
  openFastestNative,
  openNative,
} from "./ffi.ts";
import { createNativeBackend, createNativeBackendFrom } from "./native.ts";
import { ML_DSA_87_ACCUMULATED_100, mlDsaAccumulatedDigest } from "./_native_testing.ts";

const base = openNative();
const faster = openNative(fasterBuildPath(DEFAULT_NATIVE_LIBRARY_PATH));
const ignore = !base.ok;
/** Only where the AVX-512 build is built and this CPU runs it. */
const ignoreFaster = !base.ok || !faster.ok;
if (ignoreFaster) {
  console.warn(
    `native_builds_test.ts: the AVX-512 build is not tested here: ${
      !base.ok ? base.reason : !faster.ok ? faster.reason : ""
    }`,
  );
}

function library(r: ReturnType<typeof openNative>): NativeLibrary {
  if (!r.ok) throw new Error(r.reason);
  return r.library;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("fasterBuildPath names the AVX-512 build beside a library", () => {
  assert.equal(
    fasterBuildPath("./native/target/release/libqudag_native.so"),
    "./native/target/release/libqudag_native.x86-64-v4.so",
  );
  assert.equal(fasterBuildPath("/app/libqudag_native.so"), "/app/libqudag_native.x86-64-v4.so");
  assert.equal(fasterBuildPath("/a.b/libqudag_native.dylib"), "/a.b/libqudag_native.x86-64-v4.dylib");
  assert.equal(fasterBuildPath("lib/qudag"), "lib/qudag.x86-64-v4");
});

Deno.test("each build says what it was compiled for", { ignore }, () => {
  assert.equal(library(base).build, Deno.build.arch === "x86_64" ? "x86-64-v3" : "portable");
  if (faster.ok) assert.equal(faster.library.build, "x86-64-v4");
});

Deno.test("openFastestNative opens the AVX-512 build where it runs, the x86-64-v3 one otherwise", { ignore }, () => {
  const opened = library(openFastestNative());
  assert.equal(opened.build, faster.ok ? "x86-64-v4" : library(base).build);
  assert.equal(opened.path, faster.ok ? fasterBuildPath(DEFAULT_NATIVE_LIBRARY_PATH) : DEFAULT_NATIVE_LIBRARY_PATH);
  // The backend the node selects is that build.
  assert.equal(createNativeBackend().build, opened.build);
});

Deno.test("a faster build that is missing or cannot be loaded is passed over", { ignore }, async () => {
  const dir = await Deno.makeTempDir({ prefix: "qudag-native-builds-" });
  try {
    const path = `${dir}/libqudag_native.so`;
    Deno.copyFileSync(DEFAULT_NATIVE_LIBRARY_PATH, path);
    assert.equal(library(openFastestNative(path)).path, path, "none beside it");
    Deno.writeTextFileSync(fasterBuildPath(path), "not a shared library");
    const opened = openFastestNative(path);
    assert.equal(library(opened).path, path, "an unloadable file beside it");
    assert.equal(opened.ok && opened.library.build, library(base).build);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without --allow-ffi for the AVX-512 build, the x86-64-v3 one opens", {
  ignore: ignoreFaster,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "qudag-native-builds-" });
  try {
    const path = `${dir}/libqudag_native.so`;
    Deno.copyFileSync(DEFAULT_NATIVE_LIBRARY_PATH, path);
    Deno.copyFileSync(fasterBuildPath(DEFAULT_NATIVE_LIBRARY_PATH), fasterBuildPath(path));
    const script = `${dir}/open.ts`;
    Deno.writeTextFileSync(
      script,
      `import { openFastestNative } from ${JSON.stringify(new URL("./ffi.ts", import.meta.url).href)};\n` +
        `const r = openFastestNative(${JSON.stringify(path)});\n` +
        `console.log(JSON.stringify(r.ok ? { path: r.library.path, build: r.library.build } : { reason: r.reason }));\n`,
    );
    const run = async (ffi: string) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", `--allow-ffi=${ffi}`, script],
        stdin: "null",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return JSON.parse(new TextDecoder().decode(out.stdout));
    };
    assert.deepEqual(await run(path), { path, build: "x86-64-v3" });
    assert.deepEqual(await run(`${path},${fasterBuildPath(path)}`), {
      path: fasterBuildPath(path),
      build: "x86-64-v4",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the AVX-512 build computes what the x86-64-v3 build computes", { ignore: ignoreFaster }, async () => {
  const [v3, v4] = [createNativeBackendFrom(library(base)), createNativeBackendFrom(library(faster))];
  // ML-DSA-87's accumulated test (N = 100) through the AVX-512 build: the published digest.
  assert.equal(await mlDsaAccumulatedDigest(v4, 100), ML_DSA_87_ACCUMULATED_100);
  // The same key, signature and verdicts from both, with a context and a message of a vertex's size.
  const seed = new Uint8Array(32).fill(7);
  const message = new Uint8Array(200_000).map((_, i) => i * 31);
  const options = { context: new TextEncoder().encode("qudag/test"), rnd: new Uint8Array(32).fill(1) };
  const [s3, s4] = [await v3.mlDsaSigner(seed), await v4.mlDsaSigner(seed)];
  assert.equal(hex(s4.publicKey), hex(s3.publicKey));
  const signature = await s4.sign(message, options);
  assert.equal(hex(signature), hex(await s3.sign(message, options)));
  for (const b of [v3, v4]) {
    const verifier = await b.mlDsaVerifier(s3.publicKey);
    assert.equal(await verifier.verify(message, signature, options.context), true);
    message[9] ^= 1;
    assert.equal(await verifier.verify(message, signature, options.context), false);
    message[9] ^= 1;
  }
  // ML-KEM-768 and BLAKE3 alike.
  const d = new Uint8Array(32).fill(3);
  const z = new Uint8Array(32).fill(4);
  const m = new Uint8Array(32).fill(5);
  const [k3, k4] = [await v3.mlKemKeygen(768, d, z), await v4.mlKemKeygen(768, d, z)];
  assert.equal(hex(k4.encapsulationKey), hex(k3.encapsulationKey));
  const ek = k3.encapsulationKey;
  const [e3, e4] = [await v3.mlKemEncaps(768, ek, m), await v4.mlKemEncaps(768, ek, m)];
  assert.equal(hex(e4.ciphertext), hex(e3.ciphertext));
  assert.equal(hex(e4.sharedKey), hex(e3.sharedKey));
  assert.equal(hex(await v4.mlKemDecaps(768, k3.decapsulationKey, e3.ciphertext)), hex(e3.sharedKey));
  assert.equal(hex(v4.blake3!(message)), hex(v3.blake3!(message)));
});
