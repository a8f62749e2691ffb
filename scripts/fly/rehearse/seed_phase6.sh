# fly-testnet-exchange-guide.md, "Phase 6: Verification", steps 11 and 12, as written there.
# `deno task fly:rehearse` runs this with its stand-in fly and curl first on the PATH, after deploy.sh.

# Test Exchange operations
for app in qudag-node1 qudag-node2 qudag-node3 qudag-node4; do
  echo "Testing $app..."
  fly ssh console --app $app --command "qudag exchange status"
  fly ssh console --app $app --command "qudag exchange accounts --format json"
  fly ssh console --app $app --command "qudag exchange fee-status --examples"
done

# Test network health
curl https://qudag-node1.fly.dev/exchange/status
curl https://qudag-node2.fly.dev/exchange/accounts

# Check all node statuses
for app in qudag-node1 qudag-node2 qudag-node3 qudag-node4; do
  fly status --app $app
  fly logs --app $app --follow &
done

# Monitor Exchange metrics
curl https://qudag-node1.fly.dev:9090/metrics | grep exchange
