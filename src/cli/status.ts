import type { Command } from "./_command.ts";
import { callNode } from "./_client.ts";
import { configFlagSpecs, loadConfig } from "./_config.ts";

export const status: Command = {
  name: "status",
  summary: "show a running node's status",
  usage: "qudag status [--node URL] [--json]",
  flags: [
    ...configFlagSpecs(["cli.node_url"]),
    { name: "--json", kind: "bool", help: "print the raw JSON" },
  ],
  async run(parsed, io) {
    const config = loadConfig(parsed, io);
    const { json } = await callNode({ nodeUrl: config.cli.nodeUrl, timeoutMs: 5_000 }, "GET", "/api/v1/status");
    const body = json as Record<string, Record<string, unknown> | undefined>;
    if (parsed.flags["--json"]) {
      io.out(JSON.stringify(body, null, 2));
      return 0;
    }
    const n = body.node ?? {};
    io.out(
      [
        `node        ${n.id} (key ${String(n.keyId).slice(0, 16)}…)`,
        `version     ${n.version}`,
        `network     ${n.networkMode}`,
        `uptime      ${n.uptimeS} s (boot #${n.boots}, first started ${n.firstStartedAt})`,
        `crypto      ${body.crypto?.backend}${body.crypto?.fallback ? ` (+${body.crypto.fallback})` : ""}`,
        `storage     ${body.storage?.kind}, schema v${body.storage?.schemaVersion}, ${body.storage?.vertices} vertices`,
      ].join("\n"),
    );
    return 0;
  },
};
