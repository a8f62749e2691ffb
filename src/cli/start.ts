import { type Config, printableConfig } from "../config/mod.ts";
import { createLogger } from "../log/mod.ts";
import { type RunningNode, startNode } from "../node/mod.ts";
import type { Command } from "./_command.ts";
import { CONFIG_FLAG, configFlagSpecs, loadConfig } from "./_config.ts";

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

/**
 * The configuration with the ports the last run bound where it asked for any
 * (port 0): peers that knew this node dial it there again.
 */
export function samePorts(config: Config, bound: RunningNode["ports"]): Config {
  return {
    ...config,
    http: { ...config.http, port: config.http.port || bound.http },
    metrics: { ...config.metrics, port: config.metrics.port || bound.metrics },
    p2p: { ...config.p2p, port: config.p2p.port || bound.p2p },
    exchange: { ...config.exchange, port: config.exchange.port || (bound.exchange ?? 0) },
  };
}

export const start: Command = {
  name: "start",
  summary: "run a node",
  usage: "qudag start [--config FILE] [--enable-exchange] [--data-dir DIR] [--peer ADDR]... [--print-config]",
  flags: [
    CONFIG_FLAG,
    { name: "--print-config", kind: "bool", help: "print the resolved configuration (secrets redacted) and exit" },
    ...configFlagSpecs().filter((f) => f.name !== "--node"),
  ],
  details: "Configuration order: defaults < --config FILE < environment < flags. SIGTERM or SIGINT stops the node. " +
    "A node that stays behind the certified checkpoints (sync.resync_after_ms) starts again in this process and syncs.",
  async run(parsed, io) {
    const config = loadConfig(parsed, io);
    if (parsed.flags["--print-config"]) {
      io.out(JSON.stringify(printableConfig(config), null, 2));
      return 0;
    }
    const logger = createLogger({ level: config.log.level });
    // Listen before starting, so a signal during start-up still stops the node cleanly.
    let signalled: string | null = null;
    let onStop: ((sig: string) => void) | null = null;
    const handlers = SIGNALS.map((s) =>
      [s, () => {
        signalled ??= s;
        onStop?.(s);
      }] as const
    );
    for (const [s, h] of handlers) Deno.addSignalListener(s, h);
    try {
      // A node that stopped itself to sync again (src/node/resync_watch.ts) starts again in this process.
      let resubmit: readonly Uint8Array[] = [];
      for (let run = config, resyncs = 0;; resyncs++) {
        const node = await startNode({ config: run, logger, resyncs, resubmit });
        onStop = (sig) => void node.stop(sig);
        if (signalled) onStop(signalled);
        await node.stopped;
        const fault = node.fault();
        if (fault !== null) {
          io.err(`error: the node stopped on a fault [${fault}]; see the log`);
          return 1;
        }
        if (signalled || !node.wantsResync()) break;
        run = samePorts(run, node.ports);
        resubmit = node.waitingAtStop();
        logger.info("node starting again to sync from the newest certified checkpoint");
      }
    } finally {
      for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
    }
    return 0;
  },
};
