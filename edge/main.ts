/**
 * The edge replica's entry point, as Deno Deploy runs it (deno.json `deploy`
 * section) and as `deno task edge` serves it locally: a default export with
 * `fetch`. Configuration: edge/config.ts.
 */
import { openEdge } from "./mod.ts";

const edge = await openEdge(Deno.env.toObject());

export default { fetch: edge.fetch } satisfies Deno.ServeDefaultExport;
