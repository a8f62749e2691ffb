/** /api/v1/peers over real peer transports on loopback (src/net/_testing.ts). */
import assert from "node:assert/strict";
import { startNode, testValidators, waitFor } from "../net/_testing.ts";
import { errorCode, TEST_API_KEY, testApp } from "./_testing.ts";
import { createPeersApi } from "./peers.ts";

const KEY = { "x-api-key": TEST_API_KEY };
const P = "/api/v1/peers";

Deno.test({
  name: "peers API: dial, list in pages by id, ban and unban, forget; refusals with their codes",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const genesis = await testValidators(3);
    const [a, b, c] = await Promise.all(genesis.map((v) => startNode(v, genesis)));
    const names = new Map(genesis.map((v, i) => [v.id, `v${i}`]));
    const t = testApp({ [P]: createPeersApi(a.transport, names, { apiKey: TEST_API_KEY }) });
    try {
      for (const n of [b, c]) {
        const r = await t.call("POST", P, { address: n.address }, KEY);
        assert.equal(r.status, 202, r.text);
        assert.deepEqual(r.json, { dialing: n.address });
      }
      await waitFor("both sessions", () => a.transport.peers().length === 2);
      const all = await t.call("GET", P, undefined, KEY);
      assert.equal(all.status, 200);
      // The operator sees addresses; anyone else sees the same peers without them.
      assert.deepEqual((all.json.peers as { remote: string }[]).map((p) => typeof p.remote), ["string", "string"]);
      const open = await t.call("GET", P);
      assert.equal(open.status, 200);
      assert.deepEqual(
        (open.json.peers as { id: string; remote: string | null }[]).map((p) => [p.id, p.remote]),
        (all.json.peers as { id: string }[]).map((p) => [p.id, null]),
      );
      assert.equal(open.json.dialing, null);
      for (const n of [b, c]) assert.ok(!open.text.includes(n.address), `${n.address} shown without the key`);
      const wrongKey = await t.call("GET", P, undefined, { "x-api-key": "not-the-key" });
      assert.equal(wrongKey.json.dialing, null);
      const ids = [b.validator.id, c.validator.id].sort();
      assert.deepEqual((all.json.peers as { id: string }[]).map((p) => p.id), ids);
      assert.equal((all.json.peers as { name: string }[])[0].name, names.get(ids[0]));
      assert.equal((all.json.dialing as string[]).length, 2);
      assert.equal(all.json.nextCursor, null);
      const first = await t.call("GET", `${P}?limit=1`);
      assert.deepEqual((first.json.peers as { id: string }[]).map((p) => p.id), [ids[0]]);
      assert.equal(first.json.nextCursor, ids[0]);
      const second = await t.call("GET", `${P}?limit=1&cursor=${first.json.nextCursor}`);
      assert.deepEqual((second.json.peers as { id: string }[]).map((p) => p.id), [ids[1]]);

      const ban = await t.call("POST", `${P}/ban`, { peerId: c.validator.id }, KEY);
      assert.deepEqual(ban.json, { banned: c.validator.id });
      await waitFor("the banned session ends", () => !a.transport.isConnected(c.validator.id));
      assert.deepEqual((await t.call("GET", P)).json.banned, [c.validator.id]);
      assert.equal((await t.call("POST", `${P}/unban`, { peerId: c.validator.id }, KEY)).status, 200);
      assert.equal(errorCode(await t.call("POST", `${P}/unban`, { peerId: c.validator.id }, KEY)), "not_found");
      const forgot = await t.call("POST", `${P}/remove`, { address: c.address }, KEY);
      assert.deepEqual(forgot.json, { forgotten: c.address });
      assert.equal(errorCode(await t.call("POST", `${P}/remove`, { address: c.address }, KEY)), "not_found");

      const cases: [string, unknown, Record<string, string>, number, string][] = [
        [P, { address: b.address }, {}, 401, "unauthorized"],
        [P, { address: "no-port" }, KEY, 400, "invalid_request"],
        [P, { address: "host:99999" }, KEY, 400, "invalid_request"],
        [`${P}/ban`, { peerId: "ab".repeat(32) }, KEY, 404, "not_found"],
        [`${P}/ban`, { peerId: "xyz" }, KEY, 400, "invalid_request"],
        [`${P}/remove`, { address: "[::1" }, KEY, 400, "invalid_request"],
      ];
      for (const [path, body, headers, status, code] of cases) {
        const r = await t.call("POST", path, body, headers);
        assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${r.text}`);
        assert.equal(errorCode(r), code);
      }
      assert.equal(errorCode(await t.call("GET", `${P}?cursor=nothex`)), "invalid_request");

      // Without a key on the node, the operator's writes are closed; the table stays readable.
      const closed = testApp({ [P]: createPeersApi(a.transport, names, { apiKey: null }) });
      assert.equal(errorCode(await closed.call("POST", P, { address: b.address })), "api_key_required");
      const table = await closed.call("GET", P, undefined, { "x-api-key": "" });
      assert.equal(table.status, 200);
      // Nobody holds a key the node does not have: no addresses for anyone.
      assert.deepEqual((table.json.peers as { remote: unknown }[]).map((p) => p.remote), [null]);
    } finally {
      await Promise.all([a, b, c].map((n) => n.transport.close()));
    }
  },
});
