/**
 * The routes every port serves: /health, /ready, /api/v1/status, the OpenAPI
 * document at /openapi.json, and a browsable page of it at /docs (Swagger UI,
 * served from the npm package swagger-ui-dist, so it works offline).
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Env, StatusReport } from "./app.ts";
import { defineRoute } from "./_route.ts";
import { json } from "./_schemas.ts";
import { holdsApiKey } from "./api_key.ts";
import { ApiError } from "./errors.ts";
import { StatusBody, withoutAddresses } from "./status.ts";

export interface SystemDeps {
  /** Throws when the node cannot serve; a `code` on the error (NotReadyError, a storage error) is the reason given. */
  checkReady: () => void;
  status: () => StatusReport;
  /** Holders of this key see peers' addresses in the status; null: nobody does. */
  apiKey: string | null;
  document: () => unknown;
}

/**
 * Why the node is not ready, as a stable code (shutting_down, ledger_halted,
 * ...), and optionally a more precise stable code (the ledger's halt code).
 */
export class NotReadyError extends Error {
  readonly code: string;
  readonly detailCode: string | undefined;
  constructor(code: string, message: string, detailCode?: string) {
    super(message);
    this.name = "NotReadyError";
    this.code = code;
    this.detailCode = detailCode;
  }
}

const REASON_RE = /^[a-z][a-z0-9_]{0,63}$/;

const stableCode = (v: unknown): string | undefined => typeof v === "string" && REASON_RE.test(v) ? v : undefined;

/**
 * What a readiness check tells a client: the error's stable code (and
 * detail code), never its message (paths, SQL, ...).
 */
export function notReadyReason(cause: unknown): { reason: string; detail?: string } {
  const reason = stableCode((cause as { code?: unknown } | null)?.code);
  if (reason === undefined) return { reason: "internal" };
  const detail = cause instanceof NotReadyError ? stableCode(cause.detailCode) : undefined;
  return detail === undefined ? { reason } : { reason, detail };
}

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>qudag API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui", deepLinking: true });\n`;

const ASSETS = ["swagger-ui.css", "swagger-ui-bundle.js", "init.js"] as const;
type Asset = typeof ASSETS[number];
const ASSET_TYPES: Record<Asset, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "init.js": "text/javascript; charset=utf-8",
};

/** Loaded on first use only: 1.9 MB that a node serving no browser never reads. */
async function asset(name: Asset): Promise<string> {
  switch (name) {
    case "swagger-ui.css":
      return (await import("swagger-ui-dist/swagger-ui.css", { with: { type: "text" } })).default;
    case "swagger-ui-bundle.js":
      return (await import("swagger-ui-dist/swagger-ui-bundle.js", { with: { type: "text" } })).default;
    case "init.js":
      return DOCS_INIT;
  }
}

const Alive = z.object({ status: z.literal("alive") }).openapi("Alive");
const Ready = z.object({ status: z.literal("ready") }).openapi("Ready");
const Document = z.record(z.string(), z.unknown()).openapi({ description: "an OpenAPI 3.1 document" });
const text = (type: string, description: string) => ({
  description,
  content: { [type]: { schema: z.string() } },
});

export function systemRoutes(app: OpenAPIHono<Env>, deps: SystemDeps): void {
  app.openapi(
    defineRoute({
      method: "get",
      path: "/health",
      operationId: "health",
      tags: ["node"],
      summary: "The process is alive",
      responses: { 200: json(Alive, "alive") },
    }),
    (c) => c.json({ status: "alive" as const }, 200),
  );
  app.openapi(
    defineRoute({
      method: "get",
      path: "/ready",
      operationId: "ready",
      tags: ["node"],
      summary: "Ready to serve: storage writable, not stopping, the exchange ledger (if any) not halted",
      responses: { 200: json(Ready, "ready") },
    }),
    (c) => {
      try {
        deps.checkReady();
      } catch (cause) {
        // The detail (a database path, an SQLite message) is for the operator's log, not for whoever asks.
        const why = notReadyReason(cause);
        c.get("logger").warn("not ready", { ...why, err: cause });
        throw new ApiError(503, "not_ready", `not ready [${why.reason}${why.detail ? `: ${why.detail}` : ""}]`, why);
      }
      return c.json({ status: "ready" as const }, 200);
    },
  );
  app.openapi(
    defineRoute({
      method: "get",
      path: "/api/v1/status",
      operationId: "status",
      tags: ["node"],
      summary: "This node: identity, chain, crypto backend, storage, DAG, peers, consensus, settlement, exchange",
      description: "On the public port, a client without the API key (and without Origin or If-None-Match) is " +
        "answered by the port's front thread from a copy of the report the node refreshes every 250 ms while it is asked for; a copy " +
        "older than 1 s is never served.",
      responses: { 200: json(StatusBody, "the node's status (the exchange port answers its ledger summary)") },
    }, { cache: "short" }),
    // The report is assembled by the node; the schema above is checked against it by the API tests. Peers'
    // addresses are the operator's: shown to holders of the API key only.
    (c) => {
      const report = deps.status();
      const shown = holdsApiKey(c.req.header("x-api-key"), deps.apiKey) ? report : withoutAddresses(report);
      return c.json(shown as z.infer<typeof StatusBody>, 200);
    },
  );
  app.openapi(
    defineRoute({
      method: "get",
      path: "/openapi.json",
      operationId: "openapiDocument",
      tags: ["docs"],
      summary: "This OpenAPI 3.1 document: the public API and the exchange API",
      responses: { 200: json(Document, "the document") },
    }, { cache: "short" }),
    (c) => c.json(deps.document() as Record<string, unknown>, 200),
  );
  app.openapi(
    defineRoute({
      method: "get",
      path: "/docs",
      operationId: "docsPage",
      tags: ["docs"],
      summary: "A browsable page of the document (Swagger UI)",
      responses: { 200: text("text/html", "the page") },
    }, { cache: "short" }),
    (c) => c.html(DOCS_PAGE, 200),
  );
  app.openapi(
    defineRoute({
      method: "get",
      path: "/docs/{asset}",
      operationId: "docsAsset",
      tags: ["docs"],
      summary: "The page's script and style sheet",
      request: { params: z.object({ asset: z.enum(ASSETS) }) },
      responses: {
        200: {
          description: "the file",
          content: { "text/css": { schema: z.string() }, "text/javascript": { schema: z.string() } },
        },
      },
    }, { cache: "short" }),
    async (c) => {
      const name = c.req.valid("param").asset;
      return c.body(await asset(name), 200, { "content-type": ASSET_TYPES[name] });
    },
  );
}
