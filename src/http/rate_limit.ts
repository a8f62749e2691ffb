/**
 * Per-client request budgets for both HTTP ports (README, "Rate limits").
 *
 * A client is the holder of the node's API key (one shared budget, `keyMultiplier`
 * times larger), else its address: the TCP peer's, or on Fly the `Fly-Client-IP`
 * that Fly's proxy sets (there every request arrives from the proxy, so the peer
 * address names no one); the header is never read elsewhere, where any client
 * could write it. An IPv6 client is its /64, the block one host is given. Reads
 * (GET, HEAD, OPTIONS) and writes (every other method) have separate budgets,
 * each a token bucket (`perMinute` sustained, `burst` at once).
 *
 * Every limited response carries the fields of the IETF draft
 * draft-ietf-httpapi-ratelimit-headers (structured fields, policy ids as
 * strings): `RateLimit-Policy: "writes";q=60;w=60;qudag-burst=20` (the budget:
 * q requests per w seconds, and the burst as a vendor parameter) and
 * `RateLimit: "writes";r=19;t=1` (whole requests left; seconds until one more,
 * absent when the bucket is full). Past the budget: 429 `rate_limited` with
 * `Retry-After` (the same seconds as `t`), counted in
 * `qudag_http_rate_limited_total{class, client}`. `/health` and `/ready` are
 * not limited: probes ask them, and they answer from memory.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Registry } from "../metrics/mod.ts";
import type { Env } from "./app.ts";
import { holdsApiKey } from "./api_key.ts";
import { type Budget, TokenBuckets } from "./_token_buckets.ts";
import { ApiError } from "./errors.ts";

export interface RateLimitSettings {
  readonly readsPerMinute: number;
  readonly readsBurst: number;
  readonly writesPerMinute: number;
  readonly writesBurst: number;
  /** The API key holder's budgets are this many times a client's. */
  readonly keyMultiplier: number;
}

export interface RateLimiterOptions {
  readonly settings: RateLimitSettings;
  /** The node's API key; null: every client is an address. */
  readonly apiKey: string | null;
  /**
   * Running on Fly (FLY_APP_NAME and FLY_MACHINE_ID set): every request comes
   * through Fly's proxy, and the client's address is its Fly-Client-IP.
   */
  readonly behindFlyProxy: boolean;
  /** Monotonic milliseconds. */
  readonly nowMs: () => number;
  readonly registry: Registry;
  /** Clients remembered at once (default PARTITIONS_MAX). */
  readonly partitionsMax?: number;
}

/**
 * Buckets kept: two per client at most (reads, writes), about 100 bytes each.
 * Past it the least recently seen client is forgotten.
 */
export const PARTITIONS_MAX = 100_000;

const READS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Liveness and readiness: constant answers, asked by probes. */
const UNLIMITED_PATHS = new Set(["/health", "/ready"]);

export type RequestClass = "reads" | "writes";
export type ClientKind = "key" | "address";

export function requestClass(method: string): RequestClass {
  return READS.has(method.toUpperCase()) ? "reads" : "writes";
}

/** The budget of a request class for a kind of client. */
export function budgetOf(s: RateLimitSettings, cls: RequestClass, client: ClientKind): Budget {
  const m = client === "key" ? s.keyMultiplier : 1;
  return cls === "reads"
    ? { perMinute: s.readsPerMinute * m, burst: s.readsBurst * m }
    : { perMinute: s.writesPerMinute * m, burst: s.writesBurst * m };
}

/** The RateLimit-Policy field of a budget. */
export function policyField(cls: RequestClass, b: Budget): string {
  return `"${cls}";q=${b.perMinute};w=60;qudag-burst=${b.burst}`;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * The partition of an IP address: IPv4 (an IPv4-mapped IPv6 address too) as
 * itself, IPv6 as its /64; null for anything that is not an IP address.
 */
export function addressPartition(text: string): string | null {
  const bare = text.trim().replace(/^\[(.*)\]$/, "$1");
  const v4 = IPV4_RE.exec(bare.replace(/^::ffff:/i, ""));
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) ? `ip4:${v4.slice(1).map(Number).join(".")}` : null;
  if (!bare.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(bare)) return null;
  let canonical: string;
  try {
    // The URL parser validates and writes IPv6 in one form: lower-case hex groups, "::" for the longest zero run.
    canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
    return `ip4:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const [head, tail] = canonical.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail === undefined ? [] : tail ? tail.split(":") : [];
  const groups = tail === undefined
    ? headGroups
    : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill("0"), ...tailGroups];
  return `ip6:${groups.slice(0, 4).join(":")}::/64`;
}

/** Who sent a request, for its budget: the key holder, or an address partition ("unknown" without one). */
export function clientOf(
  c: Context<Env>,
  o: Pick<RateLimiterOptions, "apiKey" | "behindFlyProxy">,
): { kind: ClientKind; partition: string } {
  if (holdsApiKey(c.req.header("x-api-key"), o.apiKey)) return { kind: "key", partition: "key" };
  const fly = o.behindFlyProxy ? c.req.header("fly-client-ip") : undefined;
  const fromFly = fly === undefined ? null : addressPartition(fly);
  const peer = (c.env as { remoteAddr?: { hostname?: unknown } } | undefined)?.remoteAddr?.hostname;
  const fromPeer = typeof peer === "string" ? addressPartition(peer) : null;
  return { kind: "address", partition: fromFly ?? fromPeer ?? "unknown" };
}

/** The middleware (createApp's `middleware` slot); one instance serves both ports, so budgets span them. */
export function rateLimiter(o: RateLimiterOptions): MiddlewareHandler<Env> {
  const buckets = new TokenBuckets(o.partitionsMax ?? PARTITIONS_MAX);
  const limited = o.registry.counter(
    "qudag_http_rate_limited_total",
    "HTTP requests refused with 429 rate_limited, by request class (reads, writes) and client (key, address).",
    ["class", "client"],
  );
  // Every series from the start: a dashboard sees 0 rather than nothing.
  for (const cls of ["reads", "writes"]) {
    for (const client of ["key", "address"]) limited.inc({ class: cls, client }, 0);
  }
  return async (c, next) => {
    // Probes (Fly's, a load balancer's) answer from memory and must not fail for sharing an address with a client.
    if (UNLIMITED_PATHS.has(c.req.path)) return await next();
    const cls = requestClass(c.req.method);
    const client = clientOf(c, o);
    const budget = budgetOf(o.settings, cls, client.kind);
    const partition = `${cls} ${client.partition}`;
    const refuse = (resetS: number, what: string): never => {
      limited.inc({ class: cls, client: client.kind });
      c.header("Retry-After", String(resetS));
      throw new ApiError(
        429,
        "rate_limited",
        `${what}: its budget is ${budget.perMinute} a minute with bursts of ${budget.burst}; retry in ${resetS} s`,
        { class: cls, retryAfterS: resetS, perMinute: budget.perMinute, burst: budget.burst },
      );
    };
    const take = buckets.take(partition, budget, o.nowMs());
    const resetS = Math.ceil(take.nextMs / 1000);
    c.header("RateLimit-Policy", policyField(cls, budget));
    c.header("RateLimit", `"${cls}";r=${take.remaining}` + (take.nextMs > 0 ? `;t=${resetS}` : ""));
    if (!take.allowed) refuse(resetS, `too many ${cls} from this client`);
    c.set("rateCharge", (extra: number) => {
      if (extra <= 0) return;
      const more = buckets.take(partition, budget, o.nowMs(), extra);
      const moreResetS = Math.ceil(more.nextMs / 1000);
      c.header("RateLimit", `"${cls}";r=${more.remaining}` + (more.nextMs > 0 ? `;t=${moreResetS}` : ""));
      if (!more.allowed) {
        refuse(
          Math.max(1, Math.ceil(extra * 60 / budget.perMinute)),
          extra + 1 > budget.burst
            ? `a batch of ${extra + 1} costs ${
              extra + 1
            } ${cls}, more than this client's burst (send at most ${budget.burst} at once)`
            : `a batch of ${extra + 1} costs ${extra + 1} ${cls}, and this client had ${more.remaining + 1} left`,
        );
      }
    });
    await next();
  };
}
