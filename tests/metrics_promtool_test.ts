/**
 * A real node's /metrics, with the exchange running and a few requests
 * served, passes `promtool check metrics` (Prometheus' own linter, from
 * Debian's `prometheus` package). CI installs promtool and sets
 * QUDAG_REQUIRE_PROMTOOL=1; elsewhere the test is skipped when promtool is
 * missing.
 */
import assert from "node:assert/strict";
import { startTestnet } from "../scripts/testnet.ts";

function hasPromtool(): boolean {
  try {
    return new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

const required = Deno.env.get("QUDAG_REQUIRE_PROMTOOL") === "1";
const available = hasPromtool();

Deno.test({
  name: "a node's /metrics passes promtool check metrics and names the exchange",
  ignore: !available && !required,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(available, "QUDAG_REQUIRE_PROMTOOL=1 but promtool is not on PATH (apt-get install prometheus)");
    const dir = await Deno.makeTempDir({ prefix: "qudag-promtool-" });
    const net = await startTestnet({ nodes: 1, dir, basePort: 0, quiet: true });
    try {
      const node = net.description.nodes[0];
      // Requests on both servers, so the request histogram has series.
      for (const url of [`${node.http}/api/v1/status`, `${node.exchange}/api/v1/exchange/status`]) {
        const res = await fetch(url);
        await res.body?.cancel();
        assert.equal(res.status, 200, url);
      }
      const text = await (await fetch(node.metrics)).text();
      const lint = new Deno.Command("promtool", {
        args: ["check", "metrics"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      })
        .spawn();
      const writer = lint.stdin.getWriter();
      await writer.write(new TextEncoder().encode(text));
      await writer.close();
      const out = await lint.output();
      const report = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(report.trim(), "", `promtool check metrics found problems:\n${report}`);
      assert.ok(out.success);
      for (const name of ["qudag_transactions_total", "qudag_dag_nodes_total", "qudag_consensus_polls_total"]) {
        assert.ok(text.includes(`# TYPE ${name} counter\n`), `${name} is a counter`);
      }
      // The seed's check: curl …/metrics | grep exchange
      assert.match(text, /^qudag_exchange_info\{api="served",node_type="full",ledger="running"\} 1$/m);
    } finally {
      await net.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
