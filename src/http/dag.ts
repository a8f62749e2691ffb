/** /api/v1/dag: add, fetch and validate vertices; children; stats. */
import { Hono } from "hono";
import type { Context } from "hono";
import type { DagService, SubmitResult } from "../node/dag_service.ts";
import type { Env } from "./app.ts";
import { ApiError } from "./errors.ts";
import { signedBytes } from "./_body.ts";

const ID_RE = /^[0-9a-f]{64}$/;

function idParam(c: Context<Env>, name: string): string {
  const id = c.req.param(name)?.toLowerCase() ?? "";
  if (!ID_RE.test(id)) {
    throw new ApiError(400, "invalid_request", `${name} must be 64 hex digits, got ${JSON.stringify(id.slice(0, 80))}`);
  }
  return id;
}

const STATUS_HTTP = { admitted: 201, duplicate: 200, waiting: 202, rejected: 422 } as const;

function answer(c: Context<Env>, r: SubmitResult) {
  if (r.status === "rejected") {
    throw new ApiError(422, r.code ?? "rejected", r.message ?? "vertex rejected", { id: r.id, status: "rejected" });
  }
  return c.json(r, STATUS_HTTP[r.status]);
}

export function createDagApi(dag: DagService): Hono<Env> {
  const api = new Hono<Env>();
  api.post("/nodes", async (c) => answer(c, await dag.submit(await signedBytes(c, "vertex"), "api")));
  api.get("/nodes/children/:hash", (c) => {
    const id = idParam(c, "hash");
    const children = dag.children(id);
    if (children === null) throw new ApiError(404, "not_found", `no vertex ${id}`);
    return c.json({ id, children });
  });
  api.get("/nodes/:hash", (c) => {
    const id = idParam(c, "hash");
    if ((c.req.header("accept") ?? "").includes("application/octet-stream")) {
      const bytes = dag.bytesOf(id);
      if (!bytes) throw new ApiError(404, "not_found", `no vertex ${id}`);
      return c.body(bytes.slice().buffer, 200, { "content-type": "application/octet-stream" });
    }
    const v = dag.get(id);
    if (!v) throw new ApiError(404, "not_found", `no vertex ${id}`);
    return c.json(v);
  });
  api.post("/validate", async (c) => {
    const r = await dag.validate(await signedBytes(c, "vertex"));
    return c.json(
      r.status === "rejected"
        ? { valid: false, id: r.id ?? null, code: r.code, message: r.message }
        : { valid: true, id: r.id, missingParents: r.missing ?? [] },
    );
  });
  api.get("/stats", (c) => c.json(dag.stats()));
  return api;
}
