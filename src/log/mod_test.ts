import assert from "node:assert/strict";
import { createLogger, type Level, silentLogger } from "./mod.ts";

const FIXED = new Date("2026-01-02T03:04:05.678Z");

function capture(level: Level) {
  const lines: string[] = [];
  const log = createLogger({ level, write: (l) => lines.push(l), now: () => FIXED });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

Deno.test("createLogger() writes one JSON object per line with time, level, msg and fields", () => {
  const { log, lines, parsed } = capture("info");
  log.info("started", { port: 8080, peers: ["a"] });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes("\n"));
  assert.deepEqual(parsed()[0], {
    time: "2026-01-02T03:04:05.678Z",
    level: "info",
    msg: "started",
    port: 8080,
    peers: ["a"],
  });
});

Deno.test("createLogger() keeps a message with a newline on one line", () => {
  const { log, lines, parsed } = capture("info");
  log.warn("two\nlines");
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes("\n"));
  assert.equal(parsed()[0].msg, "two\nlines");
});

Deno.test("createLogger() drops levels below the minimum", () => {
  const { log, parsed } = capture("warn");
  log.trace("t");
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.deepEqual(parsed().map((l) => l.level), ["warn", "error"]);
  assert.equal(log.enabled("info"), false);
  assert.equal(log.enabled("warn"), true);
  assert.equal(log.enabled("error"), true);
});

Deno.test("createLogger() at trace writes every level", () => {
  const { log, parsed } = capture("trace");
  for (const l of ["trace", "debug", "info", "warn", "error"] as const) log[l](l);
  assert.deepEqual(parsed().map((l) => l.msg), ["trace", "debug", "info", "warn", "error"]);
});

Deno.test("child() adds its fields to every line and call fields override them", () => {
  const { log, parsed } = capture("info");
  const child = log.child({ requestId: "r1", area: "dag" });
  const grandchild = child.child({ area: "exchange" });
  child.info("a");
  grandchild.info("b", { extra: 1 });
  child.info("c", { requestId: "r2" });
  log.info("d");
  const [a, b, c, d] = parsed();
  assert.equal(a.requestId, "r1");
  assert.equal(a.area, "dag");
  assert.equal(b.requestId, "r1");
  assert.equal(b.area, "exchange");
  assert.equal(b.extra, 1);
  assert.equal(c.requestId, "r2");
  assert.equal(d.requestId, undefined);
  assert.equal(child.enabled("debug"), false);
});

Deno.test("createLogger() expands err into error, error_name and error_code", () => {
  const { log, parsed } = capture("info");
  class CodedError extends Error {
    readonly code = "storage_locked";
    constructor(message: string) {
      super(message);
      this.name = "CodedError";
    }
  }
  log.error("failed", { err: new CodedError("database is locked") });
  log.error("plain", { err: new TypeError("bad type") });
  log.error("thrown string", { err: "just text" });
  const [coded, plain, text] = parsed();
  assert.equal(coded.error, "database is locked");
  assert.equal(coded.error_name, "CodedError");
  assert.equal(coded.error_code, "storage_locked");
  assert.equal(coded.err, undefined);
  assert.equal(plain.error, "bad type");
  assert.equal(plain.error_name, "TypeError");
  assert.ok(!("error_code" in plain));
  assert.equal(text.error, "just text");
});

Deno.test("createLogger() serialises a bigint field as a decimal string", () => {
  const { log, parsed } = capture("info");
  log.info("balance", { amount: 12345678901234567890n });
  assert.equal(parsed()[0].amount, "12345678901234567890");
});

Deno.test("createLogger() serialises a bigint in child fields", () => {
  const { log, parsed } = capture("info");
  log.child({ height: 7n }).info("at height");
  assert.equal(parsed()[0].height, "7");
});

Deno.test("createLogger() serialises a bigint nested in a field", () => {
  const { log, parsed } = capture("info");
  log.info("transfer", { tx: { amount: 5n } });
  assert.deepEqual(parsed()[0].tx, { amount: "5" });
});

Deno.test("createLogger() uses the injected clock for every line", () => {
  let t = 0;
  const lines: string[] = [];
  const log = createLogger({
    level: "info",
    write: (l) => lines.push(l),
    now: () => new Date(Date.UTC(2026, 0, 1) + t++),
  });
  log.info("a");
  log.info("b");
  assert.deepEqual(lines.map((l) => JSON.parse(l).time), ["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.001Z"]);
});

Deno.test("silentLogger writes nothing and reports error enabled", () => {
  silentLogger.error("nothing", { err: new Error("x") });
  assert.equal(silentLogger.enabled("error"), true);
  assert.equal(silentLogger.enabled("info"), false);
});

Deno.test("stderr lines of one turn are written in order, a warn at once, the rest before a normal exit", async () => {
  const script = `
    import { createLogger } from "${new URL("./mod.ts", import.meta.url).href}";
    const log = createLogger({ level: "info" });
    log.info("a");
    log.info("b");
    log.warn("c");
    log.info("d");
    await new Promise((r) => setTimeout(r, 0));
    log.info("e", { n: 1n, deep: { n: 2n } });
    Deno.exit(0);
  `;
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", script], stderr: "piped" }).output();
  assert.equal(out.code, 0);
  const lines = new TextDecoder().decode(out.stderr).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.msg), ["a", "b", "c", "d", "e"]);
  assert.deepEqual([lines[4].n, lines[4].deep], ["1", { n: "2" }]);
});
