/**
 * The OpenAPI document cannot drift from the routes: a real node (started in
 * this process, with the exchange API) serves /openapi.json on both ports, and
 * every route each app's router answers is described for that port, and every
 * operation described for a port is a route there. Also: every operation has
 * an id, a tag, a summary and its error responses; the routes that need the
 * API key say so; and the drift check itself finds a route added without a
 * description and a description without a route.
 */
import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { resolveConfig } from "../src/config/mod.ts";
import { makeExchangeGenesis } from "../src/ledger/genesis.ts";
import { silentLogger } from "../src/log/mod.ts";
import { makeGenesis } from "../src/node/genesis.ts";
import { startNode } from "../src/node/mod.ts";
import { OpenApiDocument, routeDrift } from "../src/http/openapi.ts";
import { ExchangePortStatus, NodeStatus } from "../src/http/status.ts";
import type { Env } from "../src/http/app.ts";

type Json = Record<string, unknown>;
const API_KEY = "drift-test-api-key";

async function withNode(fn: (node: Awaited<ReturnType<typeof startNode>>) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "qudag-drift-" });
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const roles = ["fees", "exchange-master", "fee-admin", "agent-verifier", "governance"].map((name) => ({
    name,
    publicKey: ml_dsa87.keygen(crypto.getRandomValues(new Uint8Array(32))).publicKey,
  }));
  const exchange = makeExchangeGenesis({
    timeMs: BigInt(Date.now()),
    supplyCap: 0n,
    accounts: roles,
    roles: {
      feeAccount: "fees",
      exchangeMaster: "exchange-master",
      feeAdmin: "fee-admin",
      agentVerifier: "agent-verifier",
      governance: "governance",
    },
  });
  const genesis = `${dir}/genesis.json`;
  Deno.writeFileSync(
    genesis,
    makeGenesis(
      "drift",
      new Date().toISOString(),
      [{ name: "n1", publicKey: ml_dsa87.keygen(seed).publicKey }],
      exchange,
    ),
  );
  const config = resolveConfig({
    env: {
      NETWORK_MODE: "testnet",
      NODE_PRIVATE_KEY: seed.toHex(),
      QUDAG_DATA_DIR: dir,
      QUDAG_GENESIS_FILE: genesis,
      QUDAG_HTTP_PORT: "0",
      QUDAG_METRICS_PORT: "0",
      QUDAG_P2P_PORT: "0",
      QUDAG_EXCHANGE_PORT: "0",
      QUDAG_EXCHANGE_ENABLED: "true",
      QUDAG_API_KEY: API_KEY,
      QUDAG_STATE_SYNC: "false",
    },
  });
  const node = await startNode({ config, logger: silentLogger });
  try {
    await fn(node);
  } finally {
    await node.stop("test over");
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test({
  name: "OpenAPI document: every route of both ports is described there, and every described operation is a route",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withNode(async (node) => {
      const publicUrl = `http://127.0.0.1:${node.ports.http}`;
      const exchangeUrl = `http://127.0.0.1:${node.ports.exchange}`;
      const doc = await (await fetch(`${publicUrl}/openapi.json`)).json() as Json;
      const same = await (await fetch(`${exchangeUrl}/openapi.json`)).json() as Json;
      assert.deepEqual(same, doc, "both ports serve the one document");
      assert.equal(doc.openapi, "3.1.0");

      assert.ok(node.apps.exchange, "the exchange app runs");
      for (const [app, url] of [[node.apps.public, publicUrl], [node.apps.exchange, exchangeUrl]] as const) {
        const drift = routeDrift(app, doc, url);
        assert.deepEqual(drift, { undocumented: [], missing: [] }, url);
      }

      // Each operation: an id, a tag, a summary, and the errors every route can answer.
      const ids = new Set<string>();
      for (const [path, item] of Object.entries(doc.paths as Json)) {
        for (const [method, op] of Object.entries(item as Json)) {
          if (method === "servers") continue;
          const o = op as Json;
          const where = `${method.toUpperCase()} ${path}`;
          assert.ok(typeof o.operationId === "string" && !ids.has(o.operationId), `${where}: operationId`);
          ids.add(o.operationId as string);
          assert.ok(Array.isArray(o.tags) && o.tags.length > 0, `${where}: tags`);
          assert.ok(typeof o.summary === "string", `${where}: summary`);
          const responses = o.responses as Json;
          for (const status of ["500", "503"]) assert.ok(status in responses, `${where}: no ${status} response`);
          const body = (responses["500"] as { content: Json }).content["application/json"] as { schema: Json };
          assert.deepEqual(body.schema, { $ref: "#/components/schemas/Error" }, where);
          if (o.requestBody) assert.ok("415" in responses && "413" in responses, `${where}: body errors`);
          if (o.security) assert.ok("401" in responses, `${where}: 401`);
        }
      }
      // The API key: every vault and crypto operation, and writes; never a public read.
      const secured = (path: string, method: string) =>
        Boolean(
          ((doc.paths as Json)[path] as Json)[method] && (((doc.paths as Json)[path] as Json)[method] as Json).security,
        );
      assert.ok(secured("/api/v1/vault/secrets/search", "get"));
      assert.ok(secured("/api/v1/crypto/keys", "get"));
      assert.ok(secured("/api/v1/exchange/transactions", "post"));
      assert.ok(secured("/api/v1/peers", "post"));
      assert.ok(!secured("/api/v1/exchange/accounts", "get"));
      assert.ok(!secured("/api/v1/status", "get"));
      assert.deepEqual((doc.components as Json).securitySchemes, {
        apiKey: { type: "apiKey", in: "header", name: "x-api-key", description: "the node's QUDAG_API_KEY" },
      });

      // The status reports the node assembles are what the document says they are.
      const status = await (await fetch(`${publicUrl}/api/v1/status`)).json();
      const checked = NodeStatus.safeParse(status);
      assert.ok(checked.success, JSON.stringify(checked.error?.issues));
      const exchangeStatus = ExchangePortStatus.safeParse(await (await fetch(`${exchangeUrl}/api/v1/status`)).json());
      assert.ok(exchangeStatus.success, JSON.stringify(exchangeStatus.error?.issues));

      // The page that browses it.
      const page = await fetch(`${publicUrl}/docs`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /swagger-ui-bundle\.js/);
      const script = await fetch(`${exchangeUrl}/docs/swagger-ui-bundle.js`);
      assert.equal(script.status, 200);
      assert.ok((await script.text()).length > 100_000);
    }),
});

Deno.test("routeDrift() finds a route added without a description, and a description without a route", () => {
  const app = new OpenAPIHono<Env>();
  app.openapi(
    createRoute({
      method: "get",
      path: "/a/{id}",
      request: { params: z.object({ id: z.string() }) },
      responses: { 200: { description: "a" } },
    }),
    (c) => c.body(null, 200),
  );
  const doc = new OpenApiDocument();
  doc.attach(app, null, { public: "http://x" });
  const described = doc.get();
  assert.deepEqual(routeDrift(app, described, "http://x"), { undocumented: [], missing: [] });

  app.get("/b", (c) => c.text("not described")); // a route added the plain Hono way
  assert.deepEqual(routeDrift(app, described, "http://x"), { undocumented: ["GET /b"], missing: [] });

  const extra = structuredClone(described);
  (extra.paths as Json)["/c"] = { post: { responses: {} } };
  assert.deepEqual(routeDrift(app, extra, "http://x").missing, ["POST /c"]);
  assert.deepEqual(routeDrift(app, described, "http://elsewhere"), {
    undocumented: ["GET /a/{id}", "GET /b"],
    missing: [],
  });
});
