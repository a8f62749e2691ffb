/**
 * A stand-in for curl in the rehearsal: `https://<app>.fly.dev[:port]/path`
 * goes where Fly's proxy would send it, the app machine's internal port for
 * that public port ([[services]] of its deployed fly.toml), over the
 * rehearsal's private network (this runs in the hub namespace). TLS ends at
 * the proxy, so the machine is spoken to in plain HTTP, as on Fly. Any other
 * host is refused: the rehearsal never reaches outside this machine.
 *
 *   curl [-f] [-s] [-S] [-fsS] URL
 */
import { FlyState } from "./state.ts";

async function main(args: string[]): Promise<number> {
  let fail = false;
  let silent = false;
  let showErrors = false;
  const urls: string[] = [];
  for (const a of args) {
    if (/^-[fsS]+$/.test(a)) {
      fail ||= a.includes("f");
      silent ||= a.includes("s");
      showErrors ||= a.includes("S");
    } else if (a.startsWith("-")) {
      console.error(`curl (rehearsal stand-in): unsupported option ${a}`);
      return 2;
    } else urls.push(a);
  }
  if (urls.length !== 1) {
    console.error("curl (rehearsal stand-in): one URL");
    return 2;
  }
  const url = new URL(urls[0]);
  const m = /^([a-z0-9-]+)\.fly\.dev$/.exec(url.hostname);
  if (!m || url.protocol !== "https:") {
    console.error(`curl (rehearsal stand-in): only https://<app>.fly.dev URLs are served here, not ${url.origin}`);
    return 6;
  }
  const state = FlyState.fromEnv();
  const machine = state.machine(m[1]);
  const publicPort = url.port || "443";
  const internal = machine?.ports[publicPort];
  if (!machine || machine.state !== "started" || internal === undefined) {
    if (!silent || showErrors) {
      console.error(`curl: (7) Failed to connect to ${url.host}: no service on port ${publicPort}`);
    }
    return 7;
  }
  let res: Response;
  try {
    res = await fetch(`http://[${machine.privateIp}]:${internal}${url.pathname}${url.search}`, {
      headers: { host: url.host, "fly-client-ip": "fdaa::1" },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    if (!silent || showErrors) console.error(`curl: (7) Failed to connect to ${url.host}: ${(e as Error).message}`);
    return 7;
  }
  const body = new Uint8Array(await res.arrayBuffer());
  if (fail && res.status >= 400) {
    if (!silent || showErrors) console.error(`curl: (22) The requested URL returned error: ${res.status}`);
    return 22;
  }
  await Deno.stdout.write(body);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
