/**
 * The replica's read API (Hono). Every answer comes from the served state,
 * whose ledger state hash is a certified checkpoint's, and names it: the body's
 * `checkpoint` {seq, digest, stateHash, verifiedAt, ageS} and the headers
 * `x-qudag-checkpoint` (seq and digest) and `x-qudag-checkpoint-age-s`. The
 * ETag is the checkpoint's digest (weak: the age in the body moves), so a
 * browser or a CDN revalidates for free until the next checkpoint.
 *
 * Reads:  GET /api/v1/status, /api/v1/checkpoints/latest, /api/v1/proof,
 *         /api/v1/proof/state (the certified state itself, octet-stream),
 *         /api/v1/exchange/{accounts[?after=&limit=], accounts/:idOrName[/balance],
 *         transactions/:id, fees, fees/quote?account=&amount=[&timeMs=], immutable}
 * Before the first verified checkpoint every read but status is 503
 * `edge_not_ready`. Errors are JSON `{ error: { code, message } }`.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { CoreError } from "../src/core/_error.ts";
import { formatAmount, parseAmount } from "../src/core/amount.ts";
import { formatRatePercent } from "../src/core/fee.ts";
import { certificateToJson, quorum, statementDigest } from "../src/checkpoint/mod.ts";
import type { Genesis } from "../src/checkpoint/genesis.ts";
import { accountView, feesView, quotePriceView } from "../src/http/exchange_views.ts";
import type { Replica, Served } from "./replica.ts";

/** Most accounts one page returns. */
export const EDGE_ACCOUNTS_PAGE_MAX = 1_000;
const ID_HEX_RE = /^[0-9a-f]{64}$/;

export interface EdgeAppOptions {
  readonly genesis: Genesis;
  /** Wall clock, ms since the epoch. */
  readonly nowMs: () => number;
  /** Called on every request: starts a bounded sync when one is due (pull on request). */
  readonly onRequest?: () => void;
  /** max-age of reads, seconds. */
  readonly maxAgeS?: number;
}

class EdgeHttpError extends HTTPException {
  readonly code: string;
  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(status, { message });
    this.code = code;
  }
}

export function createEdgeApp(replica: Replica, o: EdgeAppOptions): Hono {
  const app = new Hono();
  const maxAgeS = o.maxAgeS ?? 2;

  app.use(
    "*",
    cors({
      origin: "*",
      allowMethods: ["GET", "HEAD", "OPTIONS"],
      exposeHeaders: ["etag", "x-qudag-checkpoint", "x-qudag-checkpoint-age-s"],
    }),
  );
  app.use("*", async (_c, next) => {
    o.onRequest?.();
    await next();
  });

  const ageS = (s: Served) => Math.max(0, Math.round((o.nowMs() - s.verifiedAtMs) / 1000));
  const checkpointOf = (s: Served) => {
    const st = s.certificate.statement;
    return {
      seq: st.seq,
      digest: statementDigest(st).toHex(),
      stateHash: st.stateHash.toHex(),
      boundaryMs: st.boundaryMs,
      verifiedAt: new Date(s.verifiedAtMs).toISOString(),
      ageS: ageS(s),
    };
  };
  const served = (): Served => {
    const s = replica.served;
    if (s === null) {
      const last = replica.upstreams.find((u) => u.lastError !== null)?.lastError;
      throw new EdgeHttpError(
        503,
        "edge_not_ready",
        "no certified checkpoint is verified yet" +
          (last ? `; last upstream refusal: ${last.code} (GET /api/v1/status has each upstream's)` : ""),
      );
    }
    return s;
  };
  const ledgerOf = (s: Served) => {
    if (s.ledger === null) throw new EdgeHttpError(404, "not_found", "this chain has no exchange ledger");
    return s.ledger;
  };
  /** A read of the served state: checkpoint headers, ETag on its digest, 304 when the client has it. */
  const answer = (c: Context, s: Served, body: Record<string, unknown>) => {
    const cp = checkpointOf(s);
    const etag = `W/"${cp.digest}"`;
    c.header("etag", etag);
    c.header("cache-control", `public, max-age=${maxAgeS}`);
    c.header("x-qudag-checkpoint", `${cp.seq} ${cp.digest}`);
    c.header("x-qudag-checkpoint-age-s", String(cp.ageS));
    if ((c.req.header("if-none-match") ?? "").split(",").map((t) => t.trim()).includes(etag)) {
      return c.body(null, 304);
    }
    return c.json({ ...body, checkpoint: cp }, 200);
  };
  const account = (s: Served, idOrName: string) => {
    const ledger = ledgerOf(s);
    const text = idOrName.toLowerCase();
    const a = (ID_HEX_RE.test(text) ? ledger.account(Uint8Array.fromHex(text)) : undefined) ??
      ledger.accountByName(idOrName);
    if (a === undefined) throw new EdgeHttpError(404, "not_found", `no exchange account ${JSON.stringify(idOrName)}`);
    return a;
  };

  app.get("/api/v1/status", (c) => {
    const s = replica.served;
    c.header("cache-control", "no-store");
    return c.json({
      role: "edge-replica",
      chain: { id: o.genesis.chainIdHex, network: o.genesis.network, validators: o.genesis.validators.length },
      checkpoint: s === null ? null : checkpointOf(s),
      cursor: replica.cursor,
      pendingVertices: replica.pendingVertices,
      lastSync: replica.lastSync === null ? null : {
        ...replica.lastSync,
        at: new Date(replica.lastSyncAtMs).toISOString(),
      },
      upstreams: replica.upstreams.map((u) => ({
        url: u.url,
        lastOk: u.lastOkMs === null ? null : new Date(u.lastOkMs).toISOString(),
        lastError: u.lastError === null
          ? null
          : { code: u.lastError.code, message: u.lastError.message, at: new Date(u.lastError.atMs).toISOString() },
        retryAt: u.retryAtMs > o.nowMs() ? new Date(u.retryAtMs).toISOString() : null,
      })),
      exchange: s?.ledger
        ? { accounts: s.ledger.status().accountCount, supply: formatAmount(s.ledger.status().supply) }
        : null,
    });
  });

  app.get("/api/v1/checkpoints/latest", (c) => {
    const s = served();
    return answer(c, s, { certificate: certificateToJson(s.certificate) });
  });

  app.get("/api/v1/proof", (c) => {
    const s = served();
    return answer(c, s, {
      certificate: certificateToJson(s.certificate),
      genesis: {
        chainId: o.genesis.chainIdHex,
        validators: o.genesis.validators.map((v) => ({ name: v.name, id: v.id, publicKey: v.publicKey.toBase64() })),
        quorum: quorum(o.genesis.validators.length),
      },
      howToCheck: [
        "chainId must be BLAKE3-256 of the genesis file you trust, and the statement's chainId equal to it",
        "every signature is ML-DSA-87 (empty context) over encodeStatement(statement) by a distinct genesis validator; at least `quorum` of them",
        "GET /api/v1/proof/state returns the certified ledger state: import it into the WASM core (Ledger.import) and its stateHash() must equal statement.stateHash; read any balance from it",
      ],
    });
  });

  app.get("/api/v1/proof/state", (c) => {
    const s = served();
    const ledger = ledgerOf(s);
    const cp = checkpointOf(s);
    c.header("x-qudag-checkpoint", `${cp.seq} ${cp.digest}`);
    c.header("etag", `"${cp.digest}"`);
    c.header("cache-control", `public, max-age=${maxAgeS}`);
    return c.body(ledger.export().slice().buffer, 200, { "content-type": "application/octet-stream" });
  });

  app.get("/api/v1/exchange/status", (c) => {
    const s = served();
    const st = ledgerOf(s).status();
    return answer(c, s, {
      accounts: st.accountCount,
      supply: formatAmount(st.supply),
      supplyUnits: st.supply.toString(),
      minted: formatAmount(st.minted),
      burned: formatAmount(st.burned),
      stateHash: st.stateHash.toHex(),
      fees: feesView(st.fees),
      locked: st.lock !== undefined,
    });
  });

  app.get("/api/v1/exchange/accounts", (c) => {
    const s = served();
    const ledger = ledgerOf(s);
    const limitText = c.req.query("limit") ?? "100";
    const after = c.req.query("after")?.toLowerCase();
    const limit = Number(limitText);
    if (!/^[1-9][0-9]{0,3}$/.test(limitText) || limit > EDGE_ACCOUNTS_PAGE_MAX) {
      throw new EdgeHttpError(400, "invalid_request", `limit must be 1..${EDGE_ACCOUNTS_PAGE_MAX}`);
    }
    if (after !== undefined && !ID_HEX_RE.test(after)) {
      throw new EdgeHttpError(400, "invalid_request", "after must be an account id (64 hex digits)");
    }
    const ids = ledger.accountIds().map((id) => id.toHex()).filter((id) => after === undefined || id > after);
    const page = ids.slice(0, limit).map((id) => accountView(ledger.account(Uint8Array.fromHex(id))!));
    return answer(c, s, {
      accounts: page,
      nextAfter: ids.length > limit ? page.at(-1)!.id : null,
    });
  });

  app.get("/api/v1/exchange/accounts/:idOrName", (c) => {
    const s = served();
    const a = account(s, c.req.param("idOrName"));
    return answer(c, s, { ...accountView(a), publicKey: a.publicKey.toBase64() });
  });

  app.get("/api/v1/exchange/accounts/:idOrName/balance", (c) => {
    const s = served();
    const a = account(s, c.req.param("idOrName"));
    return answer(c, s, {
      id: a.id.toHex(),
      name: a.name,
      balance: formatAmount(a.balance),
      balanceUnits: a.balance.toString(),
    });
  });

  app.get("/api/v1/exchange/transactions/:id", async (c) => {
    const s = served();
    const id = c.req.param("id").toLowerCase();
    if (!ID_HEX_RE.test(id)) throw new EdgeHttpError(400, "invalid_request", "a transaction id is 64 hex digits");
    const r = await replica.receipt(id);
    if (r === null) {
      throw new EdgeHttpError(
        404,
        "not_found",
        `transaction ${id} is in no checkpoint verified here (up to ${s.certificate.statement.seq}); ask again later`,
      );
    }
    return answer(c, s, {
      id,
      state: "accepted",
      receipt: {
        code: r.code,
        fee: formatAmount(BigInt(r.fee)),
        feeUnits: r.fee,
        ratePpb: r.ratePpb,
        rate: formatRatePercent(r.ratePpb),
        vertex: r.vertex,
        timeMs: String(r.timeMs),
      },
      cut: r.cut,
    });
  });

  app.get("/api/v1/exchange/fees", (c) => {
    const s = served();
    return answer(c, s, feesView(ledgerOf(s).status().fees));
  });

  app.get("/api/v1/exchange/fees/quote", (c) => {
    const s = served();
    const ledger = ledgerOf(s);
    const q = c.req.query();
    if (!q.account || !q.amount) throw new EdgeHttpError(400, "invalid_request", "account and amount are required");
    let units: bigint;
    try {
      units = parseAmount(q.amount);
    } catch (error) {
      throw new EdgeHttpError(400, "invalid_request", `amount: ${(error as Error).message}`);
    }
    if (q.timeMs !== undefined && !/^[0-9]{1,19}$/.test(q.timeMs)) {
      throw new EdgeHttpError(400, "invalid_request", "timeMs must be a decimal integer");
    }
    const a = account(s, q.account);
    const timeMs = q.timeMs === undefined ? BigInt(Math.floor(o.nowMs())) : BigInt(q.timeMs);
    const fq = ledger.feeQuote(a.id, units, timeMs);
    return answer(c, s, {
      account: a.id.toHex(),
      ...quotePriceView(units, timeMs, fq),
    });
  });

  app.get("/api/v1/exchange/immutable", (c) => {
    const s = served();
    const st = ledgerOf(s).status();
    const lock = st.lock;
    return answer(c, s, {
      locked: lock !== undefined,
      configHash: st.configHash.toHex(),
      lock: lock === undefined ? null : {
        configHash: lock.configHash.toHex(),
        lockedMs: lock.lockedMs.toString(),
        graceEndMs: lock.graceEndMs.toString(),
        lockTx: lock.lockTx.toHex(),
      },
      audit: st.audit.map((a) => ({
        txId: a.txId.toHex(),
        timeMs: a.timeMs.toString(),
        action: a.action,
        configHash: a.configHash.toHex(),
        reason: a.reason,
      })),
    });
  });

  app.notFound((c) =>
    c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } }, 404)
  );
  app.onError((err, c) => {
    c.header("cache-control", "no-store");
    if (err instanceof EdgeHttpError) return c.json({ error: { code: err.code, message: err.message } }, err.status);
    if (err instanceof CoreError) return c.json({ error: { code: err.code, message: err.message } }, 422);
    console.error(JSON.stringify({ level: "error", msg: "edge request failed", err: String(err?.stack ?? err) }));
    return c.json({ error: { code: "internal", message: "internal error" } }, 500);
  });
  return app;
}
