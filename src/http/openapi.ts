/**
 * The one OpenAPI 3.1 document of a node: the public API (8080) and, when the
 * node serves it, the exchange API (8081), generated from the route
 * definitions of the two apps (zod-openapi) and merged. Paths only the
 * exchange port serves carry that port's `servers` entry; paths both ports
 * serve (health, status, the document) carry both. A path both apps define
 * differently is a bug, refused here.
 *
 * `routeDrift` compares an app's router with the document: every route the app
 * answers must be described for its server, and every operation described
 * for that server must be a route (tests/openapi_drift_test.ts).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { VERSION } from "../version.ts";
import type { Env } from "./app.ts";
import { ERROR_STATUSES } from "./_route.ts";

type Json = Record<string, unknown>;

export interface ApiServers {
  /** Base URL of the public API, e.g. http://127.0.0.1:8080. */
  public: string;
  /** Base URL of the exchange API, when served. */
  exchange?: string;
}

const DESCRIPTION = [
  "The HTTP API of a qudag node: the public API (default port 8080) and the rUv exchange API (port 8081, with",
  "--enable-exchange). Operations tagged `exchange` are served on the exchange port only.",
  "",
  'Every error is JSON `{ "error": { "code", "message", "requestId" } }` with a stable machine code:',
  ...Object.entries(ERROR_STATUSES).map(([status, codes]) => `- ${status}: ${codes}`),
  "",
  "Writes need `x-api-key` when the node has QUDAG_API_KEY; the vault and the node's keys (`/api/v1/crypto`) need it",
  "on every call and are closed while no key is configured. Lists are paged with `?limit=` and `?cursor=` (the",
  "previous page's `nextCursor`).",
].join("\n");

/** The URL a client reaches a server on: a wildcard address is reached on loopback. */
export function apiServerUrl(host: string, port: number): string {
  const reach = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reach.includes(":") ? `[${reach}]` : reach}:${port}`;
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

function documentOf(app: OpenAPIHono<Env>, servers: ApiServers): Json {
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { title: "qudag node API", version: VERSION, description: DESCRIPTION },
    servers: [{ url: servers.public, description: "public API" }],
  }) as unknown as Json;
}

function canonical(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x as Json).sort(([a], [b]) => a.localeCompare(b)))
        : x,
  );
}

/** Builds the document once both apps are made, and serves the same object from then on. */
export class OpenApiDocument {
  #apps: { public: OpenAPIHono<Env>; exchange: OpenAPIHono<Env> | null; servers: ApiServers } | null = null;
  #doc: Json | null = null;

  attach(publicApp: OpenAPIHono<Env>, exchangeApp: OpenAPIHono<Env> | null, servers: ApiServers): void {
    this.#apps = { public: publicApp, exchange: exchangeApp, servers };
    this.#doc = null;
  }

  get(): Json {
    if (this.#doc) return this.#doc;
    if (!this.#apps) throw new Error("OpenApiDocument.get() before attach()");
    const { servers } = this.#apps;
    const pub = documentOf(this.#apps.public, servers);
    this.#doc = this.#apps.exchange === null || servers.exchange === undefined
      ? withSecurity(pub)
      : withSecurity(merge(pub, documentOf(this.#apps.exchange, servers), servers));
    return this.#doc;
  }
}

function merge(pub: Json, ex: Json, servers: ApiServers): Json {
  const paths: Json = { ...(pub.paths as Json) };
  const pubServer = { url: servers.public, description: "public API" };
  const exServer = { url: servers.exchange!, description: "exchange API" };
  for (const [path, item] of Object.entries(ex.paths as Json)) {
    if (path in paths) {
      if (canonical(paths[path]) !== canonical(item)) {
        throw new Error(`OpenAPI: ${path} is defined differently by the public and the exchange app`);
      }
      paths[path] = { servers: [pubServer, exServer], ...(item as Json) };
    } else {
      paths[path] = { servers: [exServer], ...(item as Json) };
    }
  }
  const components = { ...(pub.components as Json) };
  for (const [kind, entries] of Object.entries((ex.components ?? {}) as Json)) {
    const mine = { ...((components[kind] ?? {}) as Json) };
    for (const [name, value] of Object.entries(entries as Json)) {
      if (name in mine && canonical(mine[name]) !== canonical(value)) {
        throw new Error(`OpenAPI: component ${kind}/${name} is defined differently by the two apps`);
      }
      mine[name] = value;
    }
    components[kind] = mine;
  }
  return { ...pub, paths, components };
}

function withSecurity(doc: Json): Json {
  const components = { ...(doc.components as Json) };
  components.securitySchemes = {
    apiKey: {
      type: "apiKey",
      in: "header",
      name: "x-api-key",
      description: "the node's QUDAG_API_KEY",
    },
  };
  return { ...doc, components };
}

export interface Drift {
  /** Routes the app answers that the document does not describe there ("GET /a/{b}"). */
  undocumented: string[];
  /** Operations the document says this server serves that the app does not answer. */
  missing: string[];
}

/** The (method, path) pairs an app's router answers, in OpenAPI path syntax; middleware excluded. */
export function routesOf(app: { routes: readonly { method: string; path: string }[] }): Set<string> {
  const out = new Set<string>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue; // middleware (app.use)
    out.add(`${r.method.toUpperCase()} ${r.path.replace(/:([^/]+)/g, "{$1}")}`);
  }
  return out;
}

/**
 * The (method, path) operations a document says `serverUrl` serves: those of
 * paths whose own `servers` list it, and, when `serverUrl` is the document's
 * top-level server, those of paths without their own list.
 */
export function operationsOf(doc: Json, serverUrl: string): Set<string> {
  const top = ((doc.servers ?? []) as { url: string }[]).map((s) => s.url);
  const out = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    const own = (item as { servers?: { url: string }[] }).servers?.map((s) => s.url);
    if (!(own ?? top).includes(serverUrl)) continue;
    for (const m of METHODS) if ((item as Json)[m] !== undefined) out.add(`${m.toUpperCase()} ${path}`);
  }
  return out;
}

/** How an app's router and the document disagree about what `serverUrl` serves; both lists empty when they agree. */
export function routeDrift(
  app: { routes: readonly { method: string; path: string }[] },
  doc: Json,
  serverUrl: string,
): Drift {
  const routes = routesOf(app);
  const ops = operationsOf(doc, serverUrl);
  return {
    undocumented: [...routes].filter((r) => !ops.has(r)).sort(),
    missing: [...ops].filter((o) => !routes.has(o)).sort(),
  };
}
