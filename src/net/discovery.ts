/**
 * Where peers are: the --peer list and the bootstrap node (kept for good),
 * and on Fly the machines behind `<app>.internal` (AAAA records on the
 * private IPv6 network), re-resolved every interval so machines that come
 * and go are dialed and forgotten. The resolver is injected: Deno.resolveDns
 * in the node, a table in tests.
 */
import type { Logger } from "../log/mod.ts";

export interface DialTarget {
  connect(address: string): void;
  forget(address: string): void;
}

export type Resolve = (name: string) => Promise<string[]>;

export interface DiscoveryOptions {
  readonly staticPeers: readonly string[];
  readonly bootstrap: string | null;
  /** Fly app whose machines are peers; null off Fly. */
  readonly flyApp: string | null;
  /** This machine's own private address, never dialed. */
  readonly selfAddresses: readonly string[];
  /** The peer port the other machines listen on. */
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

export class Discovery {
  readonly #o: DiscoveryOptions;
  #dynamic = new Set<string>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #refreshing: Promise<void> | null = null;
  #stopped = false;

  constructor(o: DiscoveryOptions) {
    this.#o = o;
  }

  /** Dials the fixed peers now and starts the DNS refresh loop (when on Fly). */
  start(): void {
    const fixed = new Set([...this.#o.staticPeers, ...(this.#o.bootstrap ? [this.#o.bootstrap] : [])]);
    for (const a of [...fixed].sort()) this.#o.transport.connect(a);
    if (this.#o.flyApp) {
      const run = () =>
        this.refresh().catch((err) => {
          if (!this.#stopped) this.#o.logger.warn("peer discovery failed", { err });
        });
      void run();
      this.#timer = setInterval(run, this.#o.intervalMs);
    }
  }

  /** Addresses found by DNS and being dialed, sorted. */
  discovered(): string[] {
    return [...this.#dynamic].sort();
  }

  /** Resolves the app's machines once; dials the new ones and forgets the gone ones. */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      const app = this.#o.flyApp;
      if (!app) return;
      const name = flyPeerName(app);
      let ips: string[];
      try {
        ips = await this.#o.resolve(name);
        // The node may have stopped (and closed its transport) while DNS answered.
        if (this.#stopped) return;
      } catch (e) {
        // A failed lookup keeps the current peers: DNS hiccups must not disconnect anyone.
        this.#o.logger.warn("peer discovery lookup failed", { name, err: e });
        return;
      }
      const self = new Set(this.#o.selfAddresses);
      const found = new Set(ips.filter((ip) => !self.has(ip)).map((ip) => joinHostPort(ip, this.#o.peerPort)));
      const fixed = new Set([...this.#o.staticPeers, ...(this.#o.bootstrap ? [this.#o.bootstrap] : [])]);
      for (const a of [...found].sort()) {
        if (!this.#dynamic.has(a) && !fixed.has(a)) this.#o.transport.connect(a);
      }
      for (const a of [...this.#dynamic].sort()) {
        if (!found.has(a) && !fixed.has(a)) this.#o.transport.forget(a);
      }
      this.#dynamic = found;
      this.#o.logger.debug("peer discovery", { name, found: found.size });
    })().finally(() => this.#refreshing = null);
    return this.#refreshing;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}

/** The production resolver: AAAA records from the system's DNS (Fly's 6PN resolver on Fly). */
export const resolveAaaa: Resolve = (name) => Deno.resolveDns(name, "AAAA");
