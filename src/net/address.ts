/**
 * How this node writes network addresses, so that the two ends of one
 * connection and an address in a peer list name an address alike.
 */

/**
 * The canonical text of an IP address, so that the two ends of one connection
 * and an address in a peer list name it alike: an IPv4-mapped IPv6 address
 * ("::ffff:10.0.0.1") as IPv4, IPv6 compressed and lower-case, no brackets.
 * Host names are returned as given.
 */
export function canonicalIp(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, "$1").replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1");
  if (!bare.includes(":")) return bare;
  try {
    return new URL(`ws://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return bare;
  }
}

/** "host:port" of a TCP address with the host in canonical form (see canonicalIp), IPv6 in brackets. */
export function formatAddress(addr: Deno.NetAddr): string {
  const host = canonicalIp(addr.hostname);
  return host.includes(":") ? `[${host}]:${addr.port}` : `${host}:${addr.port}`;
}
