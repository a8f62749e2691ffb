/** /api/v1/peers: who this node is connected to, and the operator's add / remove / ban. */
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { type PeerTransport, peerUrl } from "../net/transport.ts";
import { createArea, type Env } from "./app.ts";
import { apiKeyPolicy, holdsApiKey } from "./api_key.ts";
import { defineRoute } from "./_route.ts";
import { Hex64, json, NextCursor, pageLimit } from "./_schemas.ts";
import { ApiError } from "./errors.ts";

const ADDRESS_RE = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;
const PEERS_PAGE_MAX = 1000;

const Peer = z.object({
  id: Hex64,
  name: z.string().nullable().openapi({ description: "the validator's name in the genesis" }),
  remote: z.string().nullable().openapi({
    description: "the peer's address (a private network address on Fly); null unless the request carries the x-api-key",
  }),
  role: z.enum(["initiator", "responder"]).openapi({ description: "initiator when this node dialed" }),
  connectedAtMs: z.number(),
  queuedFrames: z.number().int().min(0),
}).openapi("Peer");

const PeerPage = z.object({
  peers: z.array(Peer).openapi({ description: "connected peers in ascending id order" }),
  nextCursor: NextCursor,
  dialing: z.array(z.string()).nullable().openapi({
    description: "addresses this node keeps dialing; null unless the request carries the x-api-key",
  }),
  banned: z.array(Hex64),
}).openapi("PeerPage");

const Address = z.object({
  address: z.string().max(300).regex(ADDRESS_RE).openapi({
    description: "host:port or [ipv6]:port",
    example: "127.0.0.1:4001",
  }),
});
const PeerId = z.object({ peerId: Hex64 });
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { "application/json": { schema } } });

export interface PeersApiOptions {
  apiKey: string | null;
}

export function createPeersApi(
  transport: PeerTransport,
  names: ReadonlyMap<string, string>,
  o: PeersApiOptions,
): OpenAPIHono<Env> {
  const api = createArea();
  // Writes are the operator's: refused outright without a configured key.
  const auth = apiKeyPolicy(o.apiKey, "operator");
  const tags = ["peers"];

  api.openapi(
    defineRoute({
      method: "get",
      path: "/",
      operationId: "peersList",
      tags,
      summary: "Connected peers (in pages), addresses being dialed, banned validators",
      request: {
        query: z.object({
          limit: pageLimit(PEERS_PAGE_MAX, PEERS_PAGE_MAX),
          cursor: Hex64.optional().openapi({ description: "the nextCursor of the previous page" }),
        }),
      },
      responses: { 200: json(PeerPage, "the peer table") },
    }, { cache: "short" }),
    (c) => {
      const { limit, cursor } = c.req.valid("query");
      // Addresses are the operator's (on Fly, private network addresses): shown to holders of the API key only.
      const operator = holdsApiKey(c.req.header("x-api-key"), o.apiKey);
      const after = cursor?.toLowerCase();
      // At most p2p.max_peers (≤ 1,000) connections: sorting them per request is bounded.
      const page = transport.peers()
        .filter((p) => after === undefined || p.peerId > after)
        .sort((a, b) => (a.peerId < b.peerId ? -1 : 1))
        .slice(0, limit);
      return c.json({
        peers: page.map((p) => ({
          id: p.peerId,
          name: names.get(p.peerId) ?? null,
          remote: operator ? p.remote : null,
          role: p.role,
          connectedAtMs: p.connectedAtMs,
          queuedFrames: p.queuedFrames,
        })),
        nextCursor: page.length === limit ? page[page.length - 1].peerId : null,
        dialing: operator ? transport.targets() : null,
        banned: transport.banned(),
      }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "post",
      path: "/",
      operationId: "peersAdd",
      tags,
      summary: "Dial a peer address and keep dialing it",
      request: { body: body(Address) },
      responses: { 202: json(z.object({ dialing: z.string() }), "dialing") },
    }, { auth }),
    (c) => {
      const { address } = c.req.valid("json");
      try {
        transport.connect(address);
      } catch (e) {
        throw new ApiError(400, "invalid_request", (e as Error).message);
      }
      return c.json({ dialing: address }, 202);
    },
  );

  api.openapi(
    defineRoute({
      method: "post",
      path: "/remove",
      operationId: "peersRemove",
      tags,
      summary: "Stop dialing an address",
      request: { body: body(Address) },
      responses: { 200: json(z.object({ forgotten: z.string() }), "forgotten") },
    }, { auth, errors: [404] }),
    (c) => {
      const { address } = c.req.valid("json");
      let url: string;
      try {
        url = peerUrl(address);
      } catch (e) {
        throw new ApiError(400, "invalid_request", (e as Error).message);
      }
      if (!transport.targets().includes(url)) throw new ApiError(404, "not_found", `not dialing ${address}`);
      transport.forget(address);
      return c.json({ forgotten: address }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "post",
      path: "/ban",
      operationId: "peersBan",
      tags,
      summary: "Refuse a genesis validator (ends its session)",
      request: { body: body(PeerId) },
      responses: { 200: json(z.object({ banned: Hex64 }), "banned") },
    }, { auth, errors: [404] }),
    (c) => {
      const id = c.req.valid("json").peerId.toLowerCase();
      if (!transport.ban(id)) throw new ApiError(404, "not_found", `${id.slice(0, 16)}… is not a genesis validator`);
      return c.json({ banned: id }, 200);
    },
  );

  api.openapi(
    defineRoute({
      method: "post",
      path: "/unban",
      operationId: "peersUnban",
      tags,
      summary: "Lift a ban",
      request: { body: body(PeerId) },
      responses: { 200: json(z.object({ unbanned: Hex64 }), "unbanned") },
    }, { auth, errors: [404] }),
    (c) => {
      const id = c.req.valid("json").peerId.toLowerCase();
      if (!transport.unban(id)) throw new ApiError(404, "not_found", `${id.slice(0, 16)}… is not banned`);
      return c.json({ unbanned: id }, 200);
    },
  );

  return api;
}
