/**
 * Where peers are. Peer addresses come from the --peer list (QUDAG_PEERS),
 * the bootstrap node and, on Fly, the app's own `<app>.internal` name:
 *
 * - an IP literal (`10.0.0.2:4001`, `[fdaa::2]:4001`) is dialed for good;
 * - a name (`qudag-node2.internal:4001`) is resolved again every interval
 *   (AAAA records first, as Fly's private IPv6 network serves them, then A),
 *   so machines that come and go are dialed and forgotten. One Fly app per
 *   node means each node lists the other apps' names: `<own app>.internal`
 *   only ever answers with this app's machines.
 * - a name DNS has no answer for yet is dialed as it is (the system resolver
 *   knows /etc/hosts names such as `localhost`), until DNS answers for it.
 *
 * A failed lookup keeps what that name gave last time: DNS hiccups never
 * disconnect anyone. The resolver is injected: Deno.resolveDns in the node, a
 * table in tests.
 */
import type { Logger } from "../log/mod.ts";

export interface DialTarget {
  connect(address: string): void;
  forget(address: string): void;
}

/** Addresses of `name` (no port); [] when DNS has no record. Rejects on a failed lookup. */
export type Resolve = (name: string) => Promise<string[]>;

export interface DiscoveryOptions {
  /** host:port entries: IP literals are dialed for good, names are resolved every interval. */
  readonly staticPeers: readonly string[];
  readonly bootstrap: string | null;
  /** Fly app whose machines are peers (`<app>.internal`); null off Fly. */
  readonly flyApp: string | null;
  /** This machine's own private addresses, never dialed. */
  readonly selfAddresses: readonly string[];
  /** The peer port the app's other machines listen on (for `<app>.internal`). */
  readonly peerPort: number;
  readonly resolve: Resolve;
  readonly transport: DialTarget;
  readonly logger: Logger;
  readonly intervalMs: number;
}

/** `[v6]:port` for IPv6 literals, `host:port` otherwise. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The Fly DNS names for an app: every machine, or the N nearest. */
export function flyPeerName(app: string, nearest?: number): string {
  return nearest ? `top${nearest}.nearest.of.${app}.internal` : `${app}.internal`;
}

const IPV4_RE = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** Splits `host:port` / `[v6]:port`; `name` is set when the host is not an IP literal. */
export function parsePeerAddress(address: string): { host: string; port: number; name: string | null } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new RangeError(`peer address ${JSON.stringify(address)} is invalid: expected host:port or [ipv6]:port`);
  }
  const host = m[1] ?? m[2];
  return { host, port, name: m[1] !== undefined || IPV4_RE.test(host) ? null : host.toLowerCase() };
}

interface NamedPeer {
  readonly name: string;
  readonly port: number;
  /** host:port addresses it gave last (or the name itself while DNS has no answer). */
  addresses: string[];
  /** Dial the name itself while DNS has no answer (a --peer name; not the app's own name). */
  readonly byNameFirst: boolean;
}

export class Discovery {
  readonly #o: DiscoveryOptions;
  readonly #fixed: string[] = [];
  readonly #named: NamedPeer[] = [];
  /** Addresses dialed because a name resolved to them. */
  #dynamic = new Set<string>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #refreshing: Promise<void> | null = null;
  #stopped = false;

  constructor(o: DiscoveryOptions) {
    this.#o = o;
    const seen = new Set<string>();
    for (const a of [...o.staticPeers, ...(o.bootstrap ? [o.bootstrap] : [])]) {
      const p = parsePeerAddress(a);
      if (p.name === null) {
        if (!seen.has(a)) this.#fixed.push(a);
      } else if (!seen.has(`${p.name}:${p.port}`)) {
        this.#named.push({ name: p.name, port: p.port, addresses: [], byNameFirst: true });
      }
      seen.add(p.name === null ? a : `${p.name}:${p.port}`);
    }
    if (o.flyApp && !seen.has(`${flyPeerName(o.flyApp)}:${o.peerPort}`)) {
      this.#named.push({ name: flyPeerName(o.flyApp), port: o.peerPort, addresses: [], byNameFirst: false });
    }
    this.#fixed.sort();
  }

  /** Names resolved every interval, as `name:port`. */
  names(): string[] {
    return this.#named.map((n) => `${n.name}:${n.port}`);
  }

  /** Dials the fixed peers now and starts the DNS refresh loop when any peer is a name. */
  start(): void {
    for (const a of this.#fixed) this.#o.transport.connect(a);
    if (this.#named.length === 0) return;
    const run = () =>
      this.refresh().catch((err) => {
        if (!this.#stopped) this.#o.logger.warn("peer discovery failed", { err });
      });
    void run();
    this.#timer = setInterval(run, this.#o.intervalMs);
  }

  /** Addresses found by DNS (or names awaiting an answer) and being dialed, sorted. */
  discovered(): string[] {
    return [...this.#dynamic].sort();
  }

  /** Resolves every name once; dials the new addresses and forgets the gone ones. */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      await Promise.all(this.#named.map((n) => this.#lookup(n)));
      if (this.#stopped) return; // the node may have stopped (and closed its transport) while DNS answered
      const self = new Set(this.#o.selfAddresses.map((ip) => ip.toLowerCase()));
      const fixed = new Set(this.#fixed);
      const found = new Set(
        this.#named.flatMap((n) => n.addresses).filter((a) => !fixed.has(a) && !self.has(parsePeerAddress(a).host)),
      );
      for (const a of [...found].sort()) if (!this.#dynamic.has(a)) this.#o.transport.connect(a);
      for (const a of [...this.#dynamic].sort()) if (!found.has(a)) this.#o.transport.forget(a);
      this.#dynamic = found;
      this.#o.logger.debug("peer discovery", { names: this.#named.length, found: found.size });
    })().finally(() => this.#refreshing = null);
    return this.#refreshing;
  }

  async #lookup(n: NamedPeer): Promise<void> {
    let ips: string[];
    try {
      ips = await this.#o.resolve(n.name);
    } catch (e) {
      // Keeps what the name gave last time.
      this.#o.logger.warn("peer discovery lookup failed", { name: n.name, err: e });
      return;
    }
    if (ips.length > 0) {
      n.addresses = [...new Set(ips.map((ip) => joinHostPort(ip.toLowerCase(), n.port)))].sort();
    } else if (n.addresses.length === 0 && n.byNameFirst) {
      // No record yet: the system resolver may still know it (/etc/hosts); dial the name itself.
      n.addresses = [`${n.name}:${n.port}`];
    }
    // Records that vanish (a machine that stopped) leave the last ones in place: only a new answer replaces them.
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}

function isNoRecords(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound;
}

/**
 * The production resolver: AAAA records from the system's DNS (Fly's 6PN
 * resolver on Fly), then A records; [] when the name has neither.
 */
export const resolveAaaa: Resolve = async (name) => {
  for (const type of ["AAAA", "A"] as const) {
    try {
      const ips = await Deno.resolveDns(name, type);
      if (ips.length > 0) return ips;
    } catch (e) {
      if (!isNoRecords(e)) throw e;
    }
  }
  return [];
};
