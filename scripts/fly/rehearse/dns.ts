/**
 * The rehearsal's DNS server, standing in for Fly's resolver at fdaa::3:
 * `<app>.internal` AAAA answers with the app's started machine's 6PN address;
 * A records do not exist there (NOERROR, no answer, like Fly's); every other
 * name is NXDOMAIN. Nothing is forwarded: no query leaves this host.
 *
 *   deno run --allow-net --allow-read --allow-env --allow-run=ps dns.ts   (QUDAG_REHEARSAL_STATE set; in the hub namespace)
 */
import dgram from "node:dgram";
import dnsPacket from "dns-packet";
import { alive, DNS_ADDRESS, FlyState } from "./state.ts";

/** Queries answered; bounded so a runaway client cannot fill the log. */
const LOG_QUERIES_MAX = 200;

export interface Question {
  type: string;
  name: string;
}

/** The answer to one question from the state directory: records, or null for NXDOMAIN. */
export function answer(
  state: FlyState,
  q: Question,
): { type: string; name: string; ttl: number; data: string }[] | null {
  const m = /^([a-z0-9-]+)\.internal\.?$/i.exec(q.name);
  if (!m) return null;
  const app = state.app(m[1].toLowerCase());
  if (!app) return null;
  const machine = state.machine(app.name);
  if (q.type !== "AAAA" || !machine || machine.state !== "started" || !alive(machine.pid)) return [];
  return [{ type: "AAAA", name: q.name, ttl: 5, data: machine.privateIp }];
}

if (import.meta.main) {
  const state = FlyState.fromEnv();
  const socket = dgram.createSocket({ type: "udp6", ipv6Only: true });
  let logged = 0;
  socket.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
    let query;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // not DNS
    }
    const questions: Question[] = query.questions ?? [];
    const answers = questions.map((q) => answer(state, q));
    const nx = answers.some((a) => a === null);
    const reply = dnsPacket.encode({
      type: "response",
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (nx ? 3 : 0),
      questions,
      answers: answers.flatMap((a) => a ?? []),
    });
    socket.send(reply, rinfo.port, rinfo.address);
    if (logged++ < LOG_QUERIES_MAX) {
      console.log(
        JSON.stringify({ q: questions.map((q) => `${q.type} ${q.name}`), answers: answers.flat().length, nx }),
      );
    }
  });
  socket.bind(53, DNS_ADDRESS, () => console.log(`dns: listening on [${DNS_ADDRESS}]:53`));
}
