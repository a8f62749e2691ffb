import { buildInfo } from "../version.ts";
import type { Command } from "./_command.ts";

export const version: Command = {
  name: "version",
  summary: "print the version",
  usage: "qudag version [--json]",
  flags: [{ name: "--json", kind: "bool", help: "print build details as JSON" }],
  run(parsed, io) {
    const info = buildInfo();
    io.out(parsed.flags["--json"] ? JSON.stringify(info, null, 2) : `qudag ${info.version} (deno ${info.deno})`);
    return Promise.resolve(0);
  },
};
