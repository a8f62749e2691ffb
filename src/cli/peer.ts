import { UsageError } from "./_args.ts";
import type { Parsed } from "./_args.ts";
import { callNode, NODE_FLAGS, nodeClient } from "./_client.ts";
import type { Command, Group } from "./_command.ts";

function one(parsed: Parsed, what: string): string {
  const v = parsed.positionals[0];
  if (!v) throw new UsageError(`name the ${what}`);
  return v;
}

const list: Command = {
  name: "list",
  summary: "connected peers, addresses being dialed, banned validators",
  usage: "qudag peer list [--node URL] [--json]",
  flags: NODE_FLAGS,
  async run(parsed, io) {
    const { json } = await callNode(nodeClient(parsed, io), "GET", "/api/v1/peers");
    if (parsed.flags["--json"]) {
      io.out(JSON.stringify(json, null, 2));
      return 0;
    }
    const peers = json.peers as { id: string; name: string | null; remote: string | null; role: string }[];
    if (peers.length === 0) io.out("no connected peers");
    for (const p of peers) {
      io.out(
        `${p.id.slice(0, 16)}  ${(p.name ?? "?").padEnd(12)}  ${
          (p.remote ?? "(address hidden)").padEnd(24)
        }  ${p.role}`,
      );
    }
    // Addresses are shown to holders of the node's API key only.
    for (const d of (json.dialing as string[] | null) ?? []) io.out(`dialing  ${d}`);
    for (const b of json.banned as string[]) io.out(`banned   ${b}`);
    return 0;
  },
};

const add: Command = {
  name: "add",
  summary: "dial a peer address and keep it",
  usage: "qudag peer add HOST:PORT [--node URL]",
  maxPositionals: 1,
  flags: NODE_FLAGS,
  async run(parsed, io) {
    const address = one(parsed, "peer address (host:port)");
    await callNode(nodeClient(parsed, io), "POST", "/api/v1/peers", { json: { address } });
    io.out(`dialing ${address}`);
    return 0;
  },
};

const remove: Command = {
  name: "remove",
  summary: "stop dialing a peer address",
  usage: "qudag peer remove HOST:PORT [--node URL]",
  maxPositionals: 1,
  flags: NODE_FLAGS,
  async run(parsed, io) {
    const address = one(parsed, "peer address (host:port)");
    await callNode(nodeClient(parsed, io), "POST", "/api/v1/peers/remove", { json: { address } });
    io.out(`forgot ${address}`);
    return 0;
  },
};

const ban: Command = {
  name: "ban",
  summary: "refuse a validator (ends its session); --unban lifts it",
  usage: "qudag peer ban VALIDATOR-ID [--unban] [--node URL]",
  maxPositionals: 1,
  flags: [{ name: "--unban", kind: "bool", help: "lift the ban" }, ...NODE_FLAGS],
  async run(parsed, io) {
    const id = one(parsed, "validator id (64 hex digits)");
    if (!/^[0-9a-fA-F]{64}$/.test(id)) throw new UsageError(`${JSON.stringify(id)} is not a 64-hex-digit validator id`);
    if (parsed.flags["--unban"]) {
      await callNode(nodeClient(parsed, io), "POST", "/api/v1/peers/unban", { json: { peerId: id.toLowerCase() } });
      io.out(`unbanned ${id}`);
    } else {
      await callNode(nodeClient(parsed, io), "POST", "/api/v1/peers/ban", { json: { peerId: id.toLowerCase() } });
      io.out(`banned ${id}`);
    }
    return 0;
  },
};

export const peer: Group = {
  name: "peer",
  summary: "list, add, remove and ban peers of a running node",
  commands: [list, add, remove, ban],
};
