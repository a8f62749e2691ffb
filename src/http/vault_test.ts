import assert from "node:assert/strict";
import { createNobleBackend } from "../crypto/noble.ts";
import { DB_FILE, SqliteStorage } from "../storage/mod.ts";
import { Vault } from "../vault/mod.ts";
import { errorCode, TEST_API_KEY, testApp } from "./_testing.ts";
import { createVaultApi, VAULT_API_BASE } from "./vault.ts";
import { FAST_KDF } from "../keys/_testing.ts";

const KEY = { "x-api-key": TEST_API_KEY };
const S = `${VAULT_API_BASE}/secrets`;

const VALUE = "value-4b1f9e-never-in-logs";
const NOTES = "notes-4b1f9e-never-searched";
const LABEL = "label-4b1f9e";
// Distinctive, so the on-disk check below cannot match it by chance in the vault key's encoded text (as "ann" could).
const USERNAME = "ann-4b1f9e";

async function setup(apiKey: string | null = TEST_API_KEY, withVault = true) {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-vault-api-" });
  const storage = SqliteStorage.open({ dataDir: dir });
  const vault = withVault
    ? await Vault.open({
      store: storage.vault,
      backend: createNobleBackend(),
      passphrase: "vault pass",
      kdf: FAST_KDF,
      nowMs: (() => {
        let t = 1_700_000_000_000;
        return () => t++;
      })(),
      random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    })
    : null;
  const t = testApp({ [VAULT_API_BASE]: createVaultApi(vault, { apiKey }) });
  const close = () => {
    storage.close();
    Deno.removeSync(dir, { recursive: true });
  };
  return { ...t, dir, storage, close };
}

function fileText(path: string): string {
  try {
    return new TextDecoder("latin1").decode(Deno.readFileSync(path));
  } catch {
    return "";
  }
}

Deno.test("vault API: create, get, update with versions, search, delete; the value leaves only in GET of one secret", async () => {
  const t = await setup();
  try {
    const made = await t.call(
      "POST",
      S,
      { label: LABEL, username: USERNAME, url: "https://ex.example", tags: ["mail"], notes: NOTES, value: VALUE },
      KEY,
    );
    assert.equal(made.status, 201, made.text);
    assert.ok(!made.text.includes(VALUE) && !made.text.includes(NOTES));
    const id = made.json.id as string;
    assert.equal(made.json.version, 1);
    assert.equal(made.headers.get("cache-control"), "no-store");

    const got = await t.call("GET", `${S}/${id}`, undefined, KEY);
    assert.equal(got.status, 200);
    assert.equal(got.json.value, VALUE);
    assert.equal(got.json.notes, NOTES);
    assert.deepEqual(got.json.versions, [1]);
    assert.equal(got.headers.get("cache-control"), "no-store");

    const put = await t.call("PUT", `${S}/${id}`, { value: "second-value", tags: ["mail", "work"] }, KEY);
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.version, 2);
    assert.deepEqual(put.json.tags, ["mail", "work"]);
    assert.equal((await t.call("GET", `${S}/${id}`, undefined, KEY)).json.value, "second-value");
    const v1 = await t.call("GET", `${S}/${id}?version=1`, undefined, KEY);
    assert.equal(v1.json.value, VALUE);
    assert.deepEqual(v1.json.versions, [1, 2]);

    const found = await t.call("GET", `${S}/search?q=WORK%20mail`, undefined, KEY);
    assert.equal(found.status, 200);
    assert.deepEqual((found.json.secrets as { id: string }[]).map((s) => s.id), [id]);
    assert.ok(!found.text.includes("second-value") && !found.text.includes(NOTES));
    for (const q of ["second-value", "4b1f9e-never-searched"]) {
      const none = await t.call("GET", `${S}/search?q=${q}`, undefined, KEY);
      assert.deepEqual(none.json.secrets, [], `search matched ${q}`);
    }

    const del = await t.call("DELETE", `${S}/${id}`, undefined, KEY);
    assert.equal(del.status, 200);
    assert.deepEqual(del.json, { id, deleted: true, versions: 2 });
    assert.equal(errorCode(await t.call("GET", `${S}/${id}`, undefined, KEY)), "not_found");

    // Nothing of the secret stays on disk: not in the database file, not in its WAL.
    const disk = fileText(`${t.dir}/${DB_FILE}`) + fileText(`${t.dir}/${DB_FILE}-wal`);
    for (const s of [LABEL, USERNAME, "https://ex.example", "work", VALUE, NOTES, "second-value"]) {
      assert.ok(!disk.includes(s), `${s} is still on disk after the delete`);
    }
    // Nor in the log (debug level included) or the metrics.
    for (const s of [VALUE, NOTES, "second-value"]) {
      assert.ok(!t.logText().includes(s), `${s} is in the log`);
      assert.ok(!t.registry.render().includes(s), `${s} is in the metrics`);
    }
  } finally {
    t.close();
  }
});

Deno.test("vault API: paging search results with limit and cursor", async () => {
  const t = await setup();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await t.call("POST", S, { label: `item ${i}`, value: `v${i}` }, KEY)).json.id as string);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const r = await t.call("GET", `${S}/search?limit=2${cursor ? `&cursor=${cursor}` : ""}`, undefined, KEY);
      assert.equal(r.status, 200, r.text);
      seen.push(...(r.json.secrets as { id: string }[]).map((s) => s.id));
      cursor = r.json.nextCursor as string | null;
      if (cursor === null) break;
    }
    assert.deepEqual(seen, ids.reverse());
    assert.equal(errorCode(await t.call("GET", `${S}/search?cursor=nope`, undefined, KEY)), "invalid_request");
    assert.equal((await t.call("GET", `${S}/search?limit=0`, undefined, KEY)).status, 400);
    assert.equal((await t.call("GET", `${S}/search?limit=501`, undefined, KEY)).status, 400);
  } finally {
    t.close();
  }
});

Deno.test("vault API refusals: each with its stable code, none echoing the value", async () => {
  const t = await setup();
  try {
    const id = (await t.call("POST", S, { label: "x", value: VALUE }, KEY)).json.id as string;
    const cases: [string, string, unknown, Record<string, string>, number, string][] = [
      ["GET", `${S}/${id}`, undefined, {}, 401, "unauthorized"],
      ["GET", `${S}/${id}`, undefined, { "x-api-key": "wrong" }, 401, "unauthorized"],
      ["POST", S, { label: "x", value: VALUE }, {}, 401, "unauthorized"],
      ["GET", `${S}/search`, undefined, {}, 401, "unauthorized"],
      ["GET", `${S}/${"0".repeat(32)}`, undefined, KEY, 404, "not_found"],
      ["PUT", `${S}/${"0".repeat(32)}`, { value: "x" }, KEY, 404, "not_found"],
      ["DELETE", `${S}/${"0".repeat(32)}`, undefined, KEY, 404, "not_found"],
      ["GET", `${S}/not-an-id`, undefined, KEY, 400, "invalid_request"],
      ["GET", `${S}/${id}?version=0`, undefined, KEY, 400, "invalid_request"],
      ["GET", `${S}/${id}?version=9`, undefined, KEY, 404, "not_found"],
      ["POST", S, { value: VALUE }, KEY, 400, "invalid_request"],
      ["POST", S, { label: "", value: VALUE }, KEY, 400, "invalid_request"],
      ["POST", S, { label: "x", value: VALUE + "y".repeat(64 * 1024) }, KEY, 400, "invalid_request"],
      ["POST", S, { label: "x", value: 5 }, KEY, 400, "invalid_request"],
      ["POST", S, "{not json", KEY, 400, "invalid_json"],
      ["POST", S, VALUE, { ...KEY, "content-type": "text/plain" }, 415, "unsupported_media_type"],
      ["PUT", `${S}/${id}`, {}, KEY, 400, "invalid_request"],
      ["GET", `${S}/search?q=${"a ".repeat(9)}`, undefined, KEY, 400, "invalid_request"],
    ];
    for (const [method, path, body, headers, status, code] of cases) {
      const r = await t.call(method, path, body, headers);
      assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
      assert.equal(errorCode(r), code, `${method} ${path}`);
      assert.ok(!r.text.includes(VALUE), `${method} ${path} echoes the value`);
      assert.equal(r.headers.get("cache-control"), "no-store");
    }
    assert.ok(!t.logText().includes(VALUE), "the value is in the log");
  } finally {
    t.close();
  }
});

Deno.test("vault API is closed without an API key on the node (403 api_key_required) and locked without a passphrase", async () => {
  const closed = await setup(null);
  try {
    for (
      const [m, p] of [["POST", S], ["GET", `${S}/search`], ["GET", `${S}/${"0".repeat(32)}`], [
        "DELETE",
        `${S}/${"0".repeat(32)}`,
      ]]
    ) {
      const r = await closed.call(m, p, m === "POST" ? { label: "x", value: "y" } : undefined, KEY);
      assert.equal(r.status, 403, `${m} ${p}`);
      assert.equal(errorCode(r), "api_key_required");
    }
  } finally {
    closed.close();
  }
  const locked = await setup(TEST_API_KEY, false);
  try {
    const r = await locked.call("POST", S, { label: "x", value: "y" }, KEY);
    assert.equal(r.status, 503);
    assert.equal(errorCode(r), "vault_locked");
    assert.equal((await locked.call("GET", `${S}/search`, undefined, {})).status, 401, "the key is checked first");
  } finally {
    locked.close();
  }
});
