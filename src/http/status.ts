/**
 * The shape of GET /api/v1/status. The node assembles the report
 * (src/node/status.ts); this schema documents it and the API tests check the
 * served report against it. Sections are open objects: a field added to the
 * report does not break a client, a documented field that disappears fails
 * the conformance test.
 */
import { z } from "@hono/zod-openapi";
import type { StatusReport } from "./app.ts";

const Hex = z.string().regex(/^[0-9a-f]*$/);

const NodeSection = z.object({
  id: z.string(),
  keyId: Hex,
  version: z.string(),
  networkMode: z.enum(["local", "devnet", "testnet", "mainnet"]),
  startedAt: z.string(),
  uptimeS: z.number().int().min(0),
  boots: z.number().int().min(1),
  firstStartedAt: z.string(),
  region: z.string().nullable(),
});

const LedgerHalt = z.object({ code: z.string(), message: z.string(), vertex: z.string().nullable() });

export const NodeStatus = z.object({
  node: NodeSection,
  crypto: z.object({
    backend: z.string(),
    build: z.string().nullable().openapi({
      description: "the native library's build: x86-64-v4 (AVX-512) or x86-64-v3; null for the other backends",
    }),
    fallback: z.string().nullable(),
    reason: z.string(),
  }),
  storage: z.object({ kind: z.string(), schemaVersion: z.number().int(), vertices: z.number().int().min(0) }),
  chain: z.object({
    id: Hex,
    network: z.string(),
    validators: z.array(z.object({ name: z.string(), id: Hex })),
    isValidator: z.boolean(),
  }),
  dag: z.object({
    vertices: z.number().int().min(0),
    tips: z.number().int().min(0),
    orphans: z.number().int().min(0),
    inMemory: z.number().int().min(0),
  }),
  peers: z.array(z.object({
    id: Hex,
    remote: z.string().nullable().openapi({
      description: "the peer's address; null unless the request carries the node's x-api-key",
    }),
    role: z.string(),
    since: z.number(),
  })),
  consensus: z.object({
    params: z.object({
      k: z.number().int(),
      alphaPreference: z.number().int(),
      alphaConfidence: z.number().int(),
      beta: z.number().int(),
    }),
    pollsStarted: z.number().int().min(0),
    pollsFinished: z.number().int().min(0),
    decisions: z.object({ accepted: z.number().int().min(0), rejected: z.number().int().min(0) }),
    acceptedTxHash: z.string(),
  }),
  settlement: z.object({
    cut: z.number().int().min(0),
    boundaryMs: z.number(),
    frontier: z.number().int().min(0),
    blocked: z.object({ boundaryMs: z.number(), blockers: z.number(), sinceMs: z.number() }).nullable(),
    checkpoint: z.object({ seq: z.number().int(), digest: z.string() }).nullable(),
    certified: z.object({ seq: z.number().int(), digest: z.string() }).nullable(),
  }),
  exchange: z.object({
    enabled: z.boolean(),
    nodeType: z.string(),
    ledger: z.object({ stateHash: Hex, journalVertices: z.number().int().min(0), halted: LedgerHalt.nullable() })
      .nullable(),
  }),
}).openapi("NodeStatus");

/** What the exchange port (8081) answers at /api/v1/status: its ledger in one line. */
export const ExchangePortStatus = z.object({
  exchange: z.object({
    accounts: z.number().int().min(0),
    supply: z.string(),
    stateHash: Hex,
    appliedVertices: z.number().int().min(0),
    journalVertices: z.number().int().min(0),
    cut: z.number().int().min(0),
  }),
}).openapi("ExchangePortStatus");

export const StatusBody = z.union([NodeStatus, ExchangePortStatus]).openapi("Status");

/**
 * The report as anyone may see it: peers' addresses (private network
 * addresses on Fly) removed. The status has no other address.
 */
export function withoutAddresses(report: StatusReport): StatusReport {
  if (!Array.isArray(report.peers)) return report;
  return { ...report, peers: report.peers.map((p) => ({ ...(p as Record<string, unknown>), remote: null })) };
}
