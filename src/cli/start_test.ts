import assert from "node:assert/strict";
import { resolveConfig } from "../config/mod.ts";
import { samePorts } from "./start.ts";

Deno.test("samePorts() keeps the ports the last run bound where the configuration asked for any (0)", () => {
  const config = resolveConfig({
    flags: { "--http-port": "0", "--metrics-port": "9100", "--p2p-port": "0", "--exchange-port": "0" },
  });
  const again = samePorts(config, { http: 41000, metrics: 9100, p2p: 41002, exchange: 41003 });
  assert.equal(again.http.port, 41000);
  assert.equal(again.metrics.port, 9100);
  assert.equal(again.p2p.port, 41002);
  assert.equal(again.exchange.port, 41003);
  assert.equal(again.http.host, config.http.host, "everything else stays");
  assert.deepEqual(again.p2p.peers, config.p2p.peers);
  assert.equal(config.p2p.port, 0, "the configuration itself is not changed");
  const fixed = resolveConfig({ flags: { "--p2p-port": "4001" } });
  assert.equal(samePorts(fixed, { http: 1, metrics: 2, p2p: 3, exchange: null }).p2p.port, 4001);
});
