#!/usr/bin/env bash
# The 4-node qudag testnet on Fly.io, following fly-testnet-exchange-guide.md phases 1-6:
#   1 preparation: `qudag genesis init` (keys, genesis, per-node secrets), one fly.toml per node
#   2 Fly setup: apps, one volume each, secrets staged (`fly secrets import --stage`)
#   3 deployment: the bootstrap node first, then the others
#   4 exchange initialisation (genesis-treasury, mint, alice and bob) and the fee model, on the machines
#   5 agent verification and the immutable deployment
#   6 verification: every node answers, and all agree
# Idempotent: what exists is not made again (apps, volumes, secrets, the genesis), and each step of
# phases 4-5 is recorded in $OUT/state once it succeeded. --dry-run prints every fly command and runs none.
#
#   scripts/fly/deploy.sh [--dry-run] [--out DIR] [--org ORG] [--skip-immutable]
#
# Environment: QUDAG_FLY_NODES ("node1:yyz:15 node2:yul:15 node3:ord:12 node4:ewr:10", name:region:volume GB),
# QUDAG_FLY_APP_PREFIX (qudag-), FLY (the flyctl command, default fly), FEE_* (the genesis' fee parameters).
set -euo pipefail

CALLER=$(pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

DRY_RUN=0
OUT=.fly-testnet
ORG=${QUDAG_FLY_ORG:-personal}
SKIP_IMMUTABLE=0
NODES=${QUDAG_FLY_NODES:-"node1:yyz:15 node2:yul:15 node3:ord:12 node4:ewr:10"}
PREFIX=${QUDAG_FLY_APP_PREFIX:-qudag-}
FLY=${FLY:-fly}
DENO=${DENO:-$ROOT/node_modules/.bin/deno}

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --out) OUT=${2:?--out needs a directory}; shift ;;
    --org) ORG=${2:?--org needs a name}; shift ;;
    --skip-immutable) SKIP_IMMUTABLE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "error: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

# The seed's fee values; the genesis is made from them and every node checks its [env] against it.
export FEE_MODEL_ENABLED=${FEE_MODEL_ENABLED:-true} FEE_F_MIN=${FEE_F_MIN:-0.001} FEE_F_MAX=${FEE_F_MAX:-0.010} \
  FEE_F_MIN_VERIFIED=${FEE_F_MIN_VERIFIED:-0.0025} FEE_F_MAX_VERIFIED=${FEE_F_MAX_VERIFIED:-0.005} \
  FEE_TIME_CONSTANT_DAYS=${FEE_TIME_CONSTANT_DAYS:-90} FEE_USAGE_THRESHOLD=${FEE_USAGE_THRESHOLD:-10000}

mkdir_out() { [ "$DRY_RUN" = 1 ] || mkdir -p "$@"; }
case "$OUT" in /*) OUT_ABS=$OUT ;; *) OUT_ABS=$CALLER/$OUT ;; esac
STATE=$OUT_ABS/state

names=() regions=() sizes=()
for spec in $NODES; do
  IFS=: read -r n r s <<<"$spec"
  names+=("$n") regions+=("$r") sizes+=("${s:-10}")
done
BOOT=${names[0]}
app() { printf '%s%s' "$PREFIX" "$1"; }

phase() { printf '\n== phase %s: %s ==\n' "$1" "$2"; }
note() { printf '   %s\n' "$*"; }
shown() { printf '+ %s\n' "$*"; }
# A command as it would be typed: words with spaces or shell characters in double quotes.
typed() {
  local out="" a
  for a in "$@"; do
    if [[ "$a" =~ [[:space:]\"\'\$\|\&\;\<\>] ]]; then out+=" \"${a//\"/\\\"}\""; else out+=" $a"; fi
  done
  printf '%s' "${out# }"
}

# Every fly command goes through here: printed, then run (not in a dry run).
fly_() {
  shown "fly $(typed "$@")"
  [ "$DRY_RUN" = 1 ] && return 0
  "$FLY" "$@"
}
# A read-only query whose output decides what to do (printed on stderr, as its output is captured); a dry
# run assumes a fresh organisation, where nothing exists yet.
fly_query() {
  shown "fly $(typed "$@")" >&2
  [ "$DRY_RUN" = 1 ] && return 0
  "$FLY" "$@" 2>/dev/null || true
}
qudag_local() {
  shown "qudag $(typed "$@")"
  [ "$DRY_RUN" = 1 ] && return 0
  "$DENO" run --no-prompt --allow-read --allow-write --allow-env --allow-net=127.0.0.1 --allow-ffi main.ts "$@"
}

# A step of phases 4-5 on a machine, recorded once it succeeded. A failure whose output holds `done_when`
# (e.g. [account_exists] after an interrupted run) counts as done.
step() {
  local id=$1 done_when=$2 app_name=$3 cmd=$4 out
  if [ "$DRY_RUN" = 0 ] && [ -f "$STATE/$id" ]; then
    note "done before: $id"
    return 0
  fi
  shown "fly ssh console --app $app_name --command \"$cmd\""
  [ "$DRY_RUN" = 1 ] && return 0
  if out=$("$FLY" ssh console --app "$app_name" --command "$cmd" 2>&1); then
    printf '%s\n' "$out"
    : >"$STATE/$id"
    return 0
  fi
  printf '%s\n' "$out"
  if [ -n "$done_when" ] && grep -qF -- "$done_when" <<<"$out"; then
    note "already done ($done_when)"
    : >"$STATE/$id"
    return 0
  fi
  echo "error: step $id failed on $app_name" >&2
  return 1
}

# ------------------------------------------------------------------------------------------------
phase 1 "preparation: genesis, keys, secrets, one fly.toml per node"
if [ "$DRY_RUN" = 0 ] && [ -f "$OUT_ABS/genesis.json" ]; then
  note "genesis exists: $OUT/genesis.json (keys in $OUT/keys; a new chain needs a new --out)"
else
  validators=$(IFS=,; printf '%s' "${names[*]}")
  qudag_local genesis init --validators "$validators" --out "$OUT_ABS" --exchange \
    --authorities-on "$BOOT"
fi
mkdir_out "$STATE" "$OUT_ABS/fly"
for n in "${names[@]}"; do mkdir_out "$OUT_ABS/files/$n/keys"; done
render_dir=$OUT_ABS/fly
[ "$DRY_RUN" = 1 ] && render_dir=$(mktemp -d)
node_specs=$(for i in "${!names[@]}"; do printf '%s:%s,' "${names[$i]}" "${regions[$i]}"; done)
"$DENO" run --no-prompt --allow-read --allow-write --allow-env=FEE_MODEL_ENABLED,FEE_F_MIN,FEE_F_MAX,FEE_F_MIN_VERIFIED,FEE_F_MAX_VERIFIED,FEE_TIME_CONSTANT_DAYS,FEE_USAGE_THRESHOLD \
  scripts/fly/render.ts --out-dir "$render_dir" --genesis "$OUT_ABS/genesis.json" --nodes "${node_specs%,}" \
  --app-prefix "$PREFIX" --authorities "$BOOT" --files-dir "$OUT_ABS/files" | sed "s|^$render_dir|   wrote $OUT/fly|"
[ "$DRY_RUN" = 1 ] && rm -rf "$render_dir"
note "files for a machine's /keys go in $OUT/files/<node>/keys/ (e.g. the seed's /keys/alice-kyc.json)"

# ------------------------------------------------------------------------------------------------
phase 2 "Fly apps, volumes, staged secrets"
apps_json=$(fly_query apps list --json)
for i in "${!names[@]}"; do
  a=$(app "${names[$i]}")
  if grep -qF "\"$a\"" <<<"$apps_json"; then note "app $a exists"; else fly_ apps create "$a" --org "$ORG"; fi
  vols=$(fly_query volumes list --app "$a" --json)
  if grep -qF '"qudag_data"' <<<"$vols"; then
    note "volume qudag_data of $a exists"
  else
    # One volume per Machine (Fly mounts one): DAG, exchange state and key stores live under /data.
    fly_ volumes create qudag_data --size "${sizes[$i]}" --region "${regions[$i]}" --app "$a" --yes
  fi
  listed=$(fly_query secrets list --app "$a" --json)
  secrets_file=$OUT_ABS/secrets/${names[$i]}.env
  missing=$(mktemp)
  if [ "$DRY_RUN" = 0 ]; then
    while IFS= read -r line; do
      case "$line" in '#'* | '') continue ;; esac
      grep -qF "\"${line%%=*}\"" <<<"$listed" || printf '%s\n' "$line" >>"$missing"
    done <"$secrets_file"
  fi
  if [ "$DRY_RUN" = 1 ] || [ -s "$missing" ]; then
    # From a file on stdin: secret values never appear on a command line or in this output.
    shown "fly secrets import --app $a --stage < $OUT/secrets/${names[$i]}.env"
    [ "$DRY_RUN" = 1 ] || "$FLY" secrets import --app "$a" --stage <"$missing"
  else
    note "secrets of $a are set"
  fi
  rm -f "$missing"
done

# ------------------------------------------------------------------------------------------------
phase 3 "deployment: $(app "$BOOT") first, then the others"
deploy_app() {
  local n=$1
  fly_ deploy "$ROOT" --config "$OUT_ABS/fly/$n/fly.toml" --dockerfile "$ROOT/Dockerfile" --app "$(app "$n")" \
    --ha=false
}
deploy_app "$BOOT"
fly_ status --app "$(app "$BOOT")"
pids=()
for n in "${names[@]:1}"; do
  if [ "$DRY_RUN" = 1 ]; then deploy_app "$n"; else deploy_app "$n" >"$OUT_ABS/state/deploy-$n.log" 2>&1 & pids+=($!); fi
done
failed=0
for i in "${!pids[@]}"; do
  n=${names[$((i + 1))]}
  if wait "${pids[$i]}"; then sed 's/^/   /' "$OUT_ABS/state/deploy-$n.log"; else
    cat "$OUT_ABS/state/deploy-$n.log" >&2
    echo "error: fly deploy of $(app "$n") failed" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1

# ------------------------------------------------------------------------------------------------
phase 4 "exchange initialisation and fee model (the seed's commands, on the machines)"
B=$(app "$BOOT")
step 4-create-genesis-treasury "[account_exists]" "$B" "qudag exchange create-account --name genesis-treasury"
step 4-mint-genesis-treasury "" "$B" "qudag exchange mint --account genesis-treasury --amount 10000000"
step 4-create-alice "[account_exists]" "$B" "qudag exchange create-account --name alice"
step 4-create-bob "[account_exists]" "$B" "qudag exchange create-account --name bob"
step 4-transfer-alice "" "$B" "qudag exchange transfer --from genesis-treasury --to alice --amount 50000"
step 4-transfer-bob "" "$B" "qudag exchange transfer --from genesis-treasury --to bob --amount 30000"
for n in "${names[@]}"; do
  # Fee parameters are chain state: the first node's change reaches all; on the others it is already in force.
  step "4-configure-fees-$n" "" "$(app "$n")" "qudag exchange configure-fees \
      --f-min 0.001 \
      --f-max 0.010 \
      --f-min-verified 0.0025 \
      --f-max-verified 0.005 \
      --time-constant-days 90 \
      --usage-threshold 10000"
done

# ------------------------------------------------------------------------------------------------
phase 5 "agent verification, immutable deployment"
if [ "$DRY_RUN" = 1 ] || [ -f "$OUT_ABS/files/$BOOT/keys/alice-kyc.json" ]; then
  step 5-verify-alice "" "$B" "qudag exchange verify-agent --account alice --proof-path /keys/alice-kyc.json"
else
  note "skipped verify-agent: no proof at $OUT/files/$BOOT/keys/alice-kyc.json (format: qudag exchange verify-agent --help);"
  note "put it there and run again: it reaches the machine as /keys/alice-kyc.json on the next deploy"
fi
if [ "$SKIP_IMMUTABLE" = 1 ]; then
  note "skipped deploy-immutable (--skip-immutable)"
else
  step 5-deploy-immutable "[already_locked]" "$B" \
    "qudag exchange deploy-immutable --grace-period 24 --key-path /keys/governance.pem"
fi
fly_ ssh console --app "$B" --command "qudag exchange immutable-status"

# ------------------------------------------------------------------------------------------------
phase 6 "verification"
for n in "${names[@]}"; do
  a=$(app "$n")
  echo "Testing $a..."
  fly_ ssh console --app "$a" --command "qudag exchange status"
  fly_ ssh console --app "$a" --command "qudag exchange accounts --format json"
  fly_ ssh console --app "$a" --command "qudag exchange fee-status --examples"
done
shown "curl -fsS https://$(app "$BOOT").fly.dev/exchange/status"
[ "$DRY_RUN" = 1 ] || curl -fsS "https://$(app "$BOOT").fly.dev/exchange/status"
shown "curl -fsS https://$(app "${names[1]:-$BOOT}").fly.dev/exchange/accounts"
[ "$DRY_RUN" = 1 ] || curl -fsS "https://$(app "${names[1]:-$BOOT}").fly.dev/exchange/accounts"
echo
for n in "${names[@]}"; do fly_ status --app "$(app "$n")"; done
shown "curl -fsS https://$(app "$BOOT").fly.dev:9090/metrics | grep exchange"
[ "$DRY_RUN" = 1 ] || curl -fsS "https://$(app "$BOOT").fly.dev:9090/metrics" | grep exchange

# All nodes agree: the same ledger state hash everywhere (each applies what consensus accepted; a moment apart).
if [ "$DRY_RUN" = 0 ]; then
  for attempt in $(seq 1 30); do
    hashes=$(for n in "${names[@]}"; do
      curl -fsS "https://$(app "$n").fly.dev/exchange/status" | grep -o '"stateHash":"[0-9a-f]*"' || echo none
    done | sort -u)
    if [ "$(wc -l <<<"$hashes")" = 1 ] && [ "$hashes" != none ]; then
      note "all ${#names[@]} nodes agree: $hashes"
      break
    fi
    [ "$attempt" = 30 ] && { echo "error: the nodes disagree: $hashes" >&2; exit 1; }
    sleep 1
  done
fi
printf '\ndone. Logs: fly logs --app %s; the CLI on a machine: fly ssh console --app %s --command "qudag exchange status"\n' \
  "$B" "$B"
