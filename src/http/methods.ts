/**
 * 405 Method Not Allowed, with the `Allow` header (RFC 9110 section 15.5.6),
 * for a path that exists with other methods. The router alone would answer a
 * fixed path such as /vault/secrets/search with the handler of a parameter
 * route beside it (PUT /vault/secrets/{id}, id = "search", then a 400), so the
 * methods of every path are read from the app's route table: the most specific
 * pattern that matches a path (fewest parameters) decides what it takes.
 */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

interface RouteTable {
  readonly routes: readonly { method: string; path: string }[];
}

interface Pattern {
  readonly re: RegExp;
  readonly params: number;
  readonly method: string;
}

function escape(segment: string): string {
  return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Paths whose methods are remembered (a node's hot paths, such as a submission's, are a handful). */
const REMEMBERED_PATHS_MAX = 256;

/** The methods an app takes at a path, from its route table (read once, at the first call). */
export function methodTable(app: RouteTable): (path: string) => string[] {
  let table: Pattern[] | null = null;
  // Every pattern is tried against a path: remembered per path, forgotten all at once when full (ids in paths).
  const remembered = new Map<string, string[]>();
  return (path) => {
    const known = remembered.get(path);
    if (known !== undefined) return known;
    if (remembered.size >= REMEMBERED_PATHS_MAX) remembered.clear();
    const methods = methodsAt(path);
    remembered.set(path, methods);
    return methods;
  };
  function methodsAt(path: string): string[] {
    table ??= app.routes.filter((r) => r.method !== "ALL").map((r) => {
      const segments = r.path.split("/");
      return {
        method: r.method.toUpperCase(),
        params: segments.filter((s) => s.startsWith(":")).length,
        re: new RegExp(`^${segments.map((s) => (s.startsWith(":") ? "[^/]+" : escape(s))).join("/")}/?$`),
      };
    });
    const matches = table.filter((p) => p.re.test(path));
    const fewest = Math.min(...matches.map((p) => p.params));
    return [...new Set(matches.filter((p) => p.params === fewest).map((p) => p.method))].sort();
  }
}

/** Refuses a method the path's most specific routes do not take, before a looser route catches it. */
export function refuseOtherMethods(app: RouteTable): MiddlewareHandler {
  const allowed = methodTable(app);
  return async (c, next) => {
    const methods = allowed(c.req.path);
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    if (methods.length > 0 && !methods.includes(method)) {
      c.header("allow", methods.join(", "));
      throw new ApiError(405, "method_not_allowed", `${c.req.path} takes ${methods.join(", ")}, not ${c.req.method}`);
    }
    await next();
  };
}
