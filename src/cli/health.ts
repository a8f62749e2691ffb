import type { Command } from "./_command.ts";
import { callNode } from "./_client.ts";
import { configFlagSpecs, loadConfig } from "./_config.ts";

/** `qudag health`: the image's HEALTHCHECK (it has no curl): exit 0 when the node answers GET /health. */
export const health: Command = {
  name: "health",
  summary: "check that a running node is alive (GET /health); exit 0 or 1",
  usage: "qudag health [--node URL]",
  flags: configFlagSpecs(["cli.node_url"]),
  async run(parsed, io) {
    const config = loadConfig(parsed, io);
    const { json } = await callNode({ nodeUrl: config.cli.nodeUrl, timeoutMs: 3_000 }, "GET", "/health");
    io.out(String(json.status ?? "alive"));
    return 0;
  },
};
