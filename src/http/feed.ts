/**
 * /api/v1/feed and /api/v1/stream: the chain's settled vertices and certified
 * checkpoints in one order that is the same on every node (src/node/feed.ts),
 * by pages or as Server-Sent Events. The edge replica (edge/) follows nodes
 * through these.
 *
 * The stream resumes from `Last-Event-ID` (or `?after=`), sends what is there,
 * then waits for more (a comment every `heartbeatMs` keeps proxies from
 * closing it). It never drops an event silently: a client that is more than
 * `behindCutsMax` cuts behind the node, or whose stream reached its bounded
 * lifetime, gets one `resume` event (code `stream_behind` or `stream_expired`,
 * with the cursor to continue from) and the stream ends; the client then reads
 * `/api/v1/feed` from that cursor, or reconnects.
 */
import { z } from "@hono/zod-openapi";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { certificateToJson, decodeStatement } from "../checkpoint/mod.ts";
import {
  FEED_CURSOR_RE,
  FEED_PAGE_EVENTS_DEFAULT,
  FEED_PAGE_EVENTS_MAX,
  FeedError,
  type FeedEvent,
  type FeedReader,
  formatCursor,
  parseCursor,
} from "../node/feed.ts";
import { createArea, type Env } from "./app.ts";
import { defineRoute } from "./_route.ts";
import { Hex64, json, pageLimit } from "./_schemas.ts";
import { ApiError } from "./errors.ts";

/** Streams open at once; one more is refused with stream_busy. */
export const STREAMS_MAX = 64;
/** A client further behind than this many cuts is told to read the feed instead. */
export const STREAM_BEHIND_CUTS_MAX = 32;
/** Events sent per wake-up before the stream checks again how far behind the client is. */
const STREAM_BATCH_EVENTS = 100;

export interface FeedApiOptions {
  /** How often a waiting stream looks for new events (ms). */
  pollMs?: number;
  /** A comment line this often keeps an idle stream open through proxies (ms). */
  heartbeatMs?: number;
  /** A stream ends (with a `resume` event) after this long; the client reconnects with Last-Event-ID (ms). */
  lifetimeMs?: number;
  behindCutsMax?: number;
  streamsMax?: number;
  /** True once the node is stopping: open streams end so that the server can drain. */
  isStopping?: () => boolean;
  /** Monotonic ms. */
  nowMs?: () => number;
}

const Cursor = z.string().regex(FEED_CURSOR_RE).openapi({
  description: 'a feed position "<cut>.<index>" ("0.0": the start of the chain); the same on every node',
  example: "0.0",
});

const Decision = z.object({
  id: Hex64,
  subject: z.enum(["vertex", "tx"]),
  status: z.literal("accepted"),
});

const VertexEvent = z.object({
  type: z.literal("vertex"),
  cursor: Cursor,
  cut: z.number().int().min(1),
  id: Hex64,
  timestampMs: z.number().int().min(0),
  vertex: z.string().openapi({ format: "byte", description: "the signed vertex bytes (base64)" }),
  decisions: z.array(Decision).openapi({
    description: "the vertex, then every transaction it carries: all accepted (only settled, accepted vertices)",
  }),
}).openapi("FeedVertexEvent");

const CheckpointEvent = z.object({
  type: z.literal("checkpoint"),
  cursor: Cursor,
  cut: z.number().int().min(1),
  certificate: z.record(z.string(), z.unknown()).openapi({
    description: "the certified checkpoint of this cut (the same document as GET /api/v1/checkpoints/{seq})",
  }),
}).openapi("FeedCheckpointEvent");

const FeedPageBody = z.object({
  events: z.array(z.union([VertexEvent, CheckpointEvent])),
  nextCursor: Cursor.openapi({ description: "pass as ?after= for the next page" }),
  caughtUp: z.boolean().openapi({ description: "nothing more is available on this node yet" }),
  headCut: z.number().int().min(0).openapi({ description: "the newest cut this node closed" }),
}).openapi("FeedPage");

/** The JSON of one event (the page's item and the stream's `data`). */
export function feedEventJson(e: FeedEvent): z.infer<typeof VertexEvent> | z.infer<typeof CheckpointEvent> {
  if (e.type === "vertex") {
    return {
      type: "vertex",
      cursor: e.cursor,
      cut: e.cut,
      id: e.id,
      timestampMs: e.timestampMs,
      vertex: e.bytes.toBase64(),
      decisions: [
        { id: e.id, subject: "vertex", status: "accepted" },
        ...e.transactions.map((id) => ({ id, subject: "tx" as const, status: "accepted" as const })),
      ],
    };
  }
  const c = e.certificate;
  return {
    type: "checkpoint",
    cursor: e.cursor,
    cut: e.cut,
    certificate: { ...certificateToJson({ statement: decodeStatement(c.statement), signatures: c.signatures }) },
  };
}

function apiError(e: unknown): unknown {
  if (!(e instanceof FeedError)) return e;
  return new ApiError(e.code === "feed_cursor_invalid" ? 400 : 404, e.code, e.message);
}

export function createFeedApi(reader: FeedReader, o: FeedApiOptions = {}): OpenAPIHono<Env> {
  const api = createArea();
  const tags = ["feed"];
  const pollMs = o.pollMs ?? 250;
  const heartbeatMs = o.heartbeatMs ?? 15_000;
  const lifetimeMs = o.lifetimeMs ?? 10 * 60_000;
  const behindMax = o.behindCutsMax ?? STREAM_BEHIND_CUTS_MAX;
  const streamsMax = o.streamsMax ?? STREAMS_MAX;
  const now = o.nowMs ?? (() => performance.now());
  let open = 0;

  api.openapi(
    defineRoute({
      method: "get",
      path: "/feed",
      operationId: "feedRead",
      tags,
      summary: "Settled vertices and certified checkpoints after a cursor, in the chain's feed order",
      request: {
        query: z.object({
          after: Cursor.optional(),
          limit: pageLimit(FEED_PAGE_EVENTS_MAX, FEED_PAGE_EVENTS_DEFAULT),
        }),
      },
      responses: { 200: json(FeedPageBody, "a page of events") },
    }, { cache: "short", errors: [404] }),
    (c) => {
      const q = c.req.valid("query");
      try {
        const page = reader.read(parseCursor(q.after ?? "0.0"), q.limit);
        return c.json({
          events: page.events.map(feedEventJson),
          nextCursor: page.next,
          caughtUp: page.caughtUp,
          headCut: page.headCut,
        }, 200);
      } catch (e) {
        throw apiError(e);
      }
    },
  );

  api.openapi(
    defineRoute({
      method: "get",
      path: "/stream",
      operationId: "feedStream",
      tags,
      summary: "The feed as Server-Sent Events (event: vertex | checkpoint | resume; id: the cursor)",
      description: "Resumes after `Last-Event-ID` (or `?after=`). A client too far behind, or a stream at the end " +
        "of its lifetime, gets one `resume` event `{code, message, after}` (codes `stream_behind`, " +
        "`stream_expired`, `shutting_down`) and the stream ends: continue with GET /api/v1/feed?after=… or reconnect.",
      request: {
        query: z.object({ after: Cursor.optional() }),
        headers: z.object({ "last-event-id": Cursor.optional() }),
      },
      responses: {
        200: {
          description: "an event stream",
          content: { "text/event-stream": { schema: z.string() } },
        },
      },
    }, { errors: [404] }),
    (c) => {
      const from = c.req.valid("header")["last-event-id"] ?? c.req.valid("query").after ?? "0.0";
      let at = parseCursorOr400(from);
      // Fail before the stream starts: an unknown cursor is a plain error response.
      try {
        reader.read(at, 1);
      } catch (e) {
        throw apiError(e);
      }
      if (open >= streamsMax) {
        throw new ApiError(503, "stream_busy", `${streamsMax} streams are open on this node; retry later or elsewhere`);
      }
      open++;
      const started = now();
      return streamSSE(c, async (stream) => {
        try {
          let lastWriteMs = now();
          const resume = (code: string, message: string) =>
            stream.writeSSE({ event: "resume", data: JSON.stringify({ code, message, after: formatCursor(at) }) });
          while (!stream.aborted) {
            if (o.isStopping?.()) {
              await resume("shutting_down", "this node is stopping: resume on another node");
              return;
            }
            if (now() - started > lifetimeMs) {
              await resume("stream_expired", "this stream reached its lifetime: reconnect with Last-Event-ID");
              return;
            }
            const head = reader.headCut();
            if (head - at.seq > behindMax) {
              await resume(
                "stream_behind",
                `the client is ${head - at.seq} cuts behind (more than ${behindMax}): read GET /api/v1/feed?after=${
                  formatCursor(at)
                } until caught up, then stream again`,
              );
              return;
            }
            const page = reader.read(at, STREAM_BATCH_EVENTS);
            for (const e of page.events) {
              await stream.writeSSE({ event: e.type, id: e.cursor, data: JSON.stringify(feedEventJson(e)) });
            }
            at = parseCursor(page.next);
            if (page.events.length > 0) lastWriteMs = now();
            if (!page.caughtUp) continue;
            if (now() - lastWriteMs >= heartbeatMs) {
              await stream.write(": keep-alive\n\n");
              lastWriteMs = now();
            }
            await stream.sleep(pollMs);
          }
        } finally {
          open--;
        }
      }, async (err, stream) => {
        const code = err instanceof FeedError ? err.code : "internal";
        await stream.writeSSE({
          event: "resume",
          data: JSON.stringify({ code, message: err.message, after: formatCursor(at) }),
        });
      });
    },
  );

  return api;
}

function parseCursorOr400(text: string) {
  try {
    return parseCursor(text);
  } catch (e) {
    throw apiError(e);
  }
}
