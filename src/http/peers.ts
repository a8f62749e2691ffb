/** /api/v1/peers: who this node is connected to, and the operator's add / remove / ban. */
import { Hono } from "hono";
import { type PeerTransport, peerUrl } from "../net/transport.ts";
import type { Env } from "./app.ts";
import { ApiError } from "./errors.ts";

const ADDRESS_RE = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;
const ID_RE = /^[0-9a-f]{64}$/;

async function field(c: { req: { json(): Promise<unknown> } }, name: string): Promise<string> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
  const v = (body as Record<string, unknown>)?.[name];
  if (typeof v !== "string") throw new ApiError(400, "invalid_request", `expected { "${name}": "..." }`);
  return v;
}

export function createPeersApi(transport: PeerTransport, names: ReadonlyMap<string, string>): Hono<Env> {
  const api = new Hono<Env>();
  api.get("/", (c) =>
    c.json({
      peers: transport.peers().map((p) => ({
        id: p.peerId,
        name: names.get(p.peerId) ?? null,
        remote: p.remote,
        role: p.role,
        connectedAtMs: p.connectedAtMs,
        queuedFrames: p.queuedFrames,
      })),
      dialing: transport.targets(),
      banned: transport.banned(),
    }));
  api.post("/", async (c) => {
    const address = await field(c, "address");
    if (!ADDRESS_RE.test(address)) throw new ApiError(400, "invalid_request", `address must be host:port or [v6]:port`);
    try {
      transport.connect(address);
    } catch (e) {
      throw new ApiError(400, "invalid_request", (e as Error).message);
    }
    return c.json({ dialing: address }, 202);
  });
  api.post("/remove", async (c) => {
    const address = await field(c, "address");
    let url: string;
    try {
      url = peerUrl(address);
    } catch (e) {
      throw new ApiError(400, "invalid_request", (e as Error).message);
    }
    if (!transport.targets().includes(url)) throw new ApiError(404, "not_found", `not dialing ${address}`);
    transport.forget(address);
    return c.json({ forgotten: address });
  });
  api.post("/ban", async (c) => {
    const id = (await field(c, "peerId")).toLowerCase();
    if (!ID_RE.test(id)) throw new ApiError(400, "invalid_request", "peerId must be 64 hex digits");
    if (!transport.ban(id)) throw new ApiError(404, "not_found", `${id.slice(0, 16)}… is not a genesis validator`);
    return c.json({ banned: id });
  });
  api.post("/unban", async (c) => {
    const id = (await field(c, "peerId")).toLowerCase();
    if (!transport.unban(id)) throw new ApiError(404, "not_found", `${id.slice(0, 16)}… is not banned`);
    return c.json({ unbanned: id });
  });
  return api;
}
