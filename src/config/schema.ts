/**
 * Every configuration key the node reads: where it comes from (TOML path,
 * environment names, command-line flag), its type and its default. The loader
 * in mod.ts resolves them in the order TOML file < environment < flags.
 */

export type FieldType =
  | { kind: "string"; pattern?: RegExp; describe?: string }
  | { kind: "int"; min: number; max: number }
  | { kind: "decimal"; min: number; max: number }
  | { kind: "bool" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "list" }
  | { kind: "port" }
  | { kind: "host" };

export interface Field {
  /** Dotted path, also the TOML path: `http.port` is `[http] port = ...`. */
  readonly key: string;
  readonly type: FieldType;
  readonly default: ConfigValue;
  /** Environment names, first found wins. */
  readonly env?: readonly string[];
  /** Long flag of `qudag start`, e.g. `--http-port`. */
  readonly flag?: string;
  /** Secrets are never printed or logged: `--print-config` shows "<redacted>". */
  readonly secret?: boolean;
  readonly help: string;
}

export type ConfigValue = string | number | boolean | readonly string[] | null;

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;

export const FIELDS: readonly Field[] = [
  // node
  {
    key: "node.id",
    type: { kind: "string", pattern: /^[A-Za-z0-9_.-]{1,64}$/, describe: "1-64 of A-Z a-z 0-9 _ . -" },
    default: null,
    env: ["NODE_ID"],
    flag: "--node-id",
    help: "human name of this node (default: derived from the node key)",
  },
  {
    key: "node.network_mode",
    type: { kind: "enum", values: ["local", "devnet", "testnet", "mainnet"] },
    default: "local",
    env: ["NETWORK_MODE"],
    flag: "--network-mode",
    help: "network this node belongs to",
  },
  {
    key: "node.data_dir",
    type: { kind: "string", pattern: /^.+$/, describe: "a directory path" },
    default: "./data",
    env: ["QUDAG_DATA_DIR"],
    flag: "--data-dir",
    help: "where the database and key store live",
  },
  {
    key: "node.genesis_file",
    type: { kind: "string", pattern: /^.+$/, describe: "a file path" },
    default: null,
    env: ["QUDAG_GENESIS_FILE"],
    flag: "--genesis",
    help: "genesis file (default <data dir>/genesis.json; made at first start in local mode)",
  },
  // http
  {
    key: "http.host",
    type: { kind: "host" },
    default: "127.0.0.1",
    env: ["QUDAG_HTTP_HOST"],
    flag: "--http-host",
    help: "address of the public HTTP API",
  },
  {
    key: "http.port",
    type: { kind: "port" },
    default: 8080,
    env: ["QUDAG_HTTP_PORT"],
    flag: "--http-port",
    help: "port of the public HTTP API (0 picks a free one)",
  },
  {
    key: "http.body_limit_bytes",
    type: { kind: "int", min: 1024, max: 64 * 1024 * 1024 },
    default: 1024 * 1024,
    env: ["QUDAG_HTTP_BODY_LIMIT_BYTES"],
    help: "largest request body accepted",
  },
  {
    key: "http.cors_origins",
    type: { kind: "list" },
    default: [],
    env: ["QUDAG_HTTP_CORS_ORIGINS"],
    help: 'origins allowed to read the API from a browser ("*" for any; https://app.example); none by default. ' +
      "Reads only: writes never get CORS headers",
  },
  {
    key: "http.cors_max_age_s",
    type: { kind: "int", min: 0, max: 86_400 },
    default: 600,
    env: ["QUDAG_HTTP_CORS_MAX_AGE_S"],
    help: "how long a browser may keep a CORS preflight answer, seconds",
  },
  {
    key: "http.cache_max_age_s",
    type: { kind: "int", min: 0, max: 3_600 },
    default: 2,
    env: ["QUDAG_HTTP_CACHE_MAX_AGE_S"],
    help: "Cache-Control max-age of public reads that change as the chain moves (status, accounts, fees), " +
      "seconds; 0 sends no-cache (revalidate by ETag)",
  },
  {
    key: "http.cache_immutable_max_age_s",
    type: { kind: "int", min: 0, max: 31_536_000 },
    default: 86_400,
    env: ["QUDAG_HTTP_CACHE_IMMUTABLE_MAX_AGE_S"],
    help: "Cache-Control max-age of reads that never change (a vertex's bytes, a certified checkpoint), seconds",
  },
  // Per-client request budgets of both HTTP ports (src/http/rate_limit.ts; README, "Rate limits").
  {
    key: "http.rate_limit",
    type: { kind: "bool" },
    default: true,
    env: ["QUDAG_HTTP_RATE_LIMIT"],
    help: "limit each client's requests (429 with Retry-After beyond its budget); false turns limiting off",
  },
  {
    key: "http.rate_limit_reads_per_minute",
    type: { kind: "int", min: 1, max: 10_000_000 },
    default: 600,
    env: ["QUDAG_HTTP_RATE_LIMIT_READS_PER_MINUTE"],
    help: "reads (GET, HEAD, OPTIONS) a client without the API key may make per minute, sustained",
  },
  {
    key: "http.rate_limit_reads_burst",
    type: { kind: "int", min: 1, max: 10_000_000 },
    default: 120,
    env: ["QUDAG_HTTP_RATE_LIMIT_READS_BURST"],
    help: "reads such a client may make at once after a quiet spell",
  },
  {
    key: "http.rate_limit_writes_per_minute",
    type: { kind: "int", min: 1, max: 10_000_000 },
    default: 60,
    env: ["QUDAG_HTTP_RATE_LIMIT_WRITES_PER_MINUTE"],
    help: "writes (every other method) a client without the API key may make per minute, sustained",
  },
  {
    key: "http.rate_limit_writes_burst",
    type: { kind: "int", min: 1, max: 10_000_000 },
    default: 20,
    env: ["QUDAG_HTTP_RATE_LIMIT_WRITES_BURST"],
    help: "writes such a client may make at once after a quiet spell",
  },
  {
    key: "http.rate_limit_key_multiplier",
    type: { kind: "int", min: 1, max: 100_000 },
    default: 1_000,
    env: ["QUDAG_HTTP_RATE_LIMIT_KEY_MULTIPLIER"],
    help: "requests with the node's x-api-key share one budget this many times the per-client one (rates and bursts)",
  },
  {
    key: "http.shutdown_timeout_ms",
    type: { kind: "int", min: 100, max: 60_000 },
    default: 4_000,
    env: ["QUDAG_SHUTDOWN_TIMEOUT_MS"],
    help: "how long in-flight requests may run after SIGTERM",
  },
  // metrics
  {
    key: "metrics.host",
    type: { kind: "host" },
    default: "127.0.0.1",
    env: ["QUDAG_METRICS_HOST"],
    flag: "--metrics-host",
    help: "address of the Prometheus endpoint",
  },
  {
    key: "metrics.port",
    type: { kind: "port" },
    default: 9090,
    env: ["QUDAG_METRICS_PORT"],
    flag: "--metrics-port",
    help: "port of the Prometheus endpoint (0 picks a free one)",
  },
  // exchange
  {
    key: "exchange.enabled",
    type: { kind: "bool" },
    default: false,
    env: ["QUDAG_EXCHANGE_ENABLED"],
    flag: "--enable-exchange",
    help: "serve the rUv exchange API",
  },
  {
    key: "exchange.port",
    type: { kind: "port" },
    default: 8081,
    env: ["QUDAG_EXCHANGE_PORT"],
    flag: "--exchange-port",
    help: "port of the exchange API",
  },
  {
    key: "exchange.node_type",
    type: { kind: "enum", values: ["full", "exchange-only", "validator", "light"] },
    default: "full",
    env: ["EXCHANGE_NODE_TYPE"],
    help: "role of this node in the exchange",
  },
  {
    key: "exchange.genesis",
    type: { kind: "bool" },
    default: false,
    env: ["EXCHANGE_GENESIS"],
    help: "this node creates the exchange genesis",
  },
  // p2p
  {
    key: "p2p.host",
    type: { kind: "host" },
    default: "127.0.0.1",
    env: ["QUDAG_P2P_HOST"],
    flag: "--p2p-host",
    help: "address the peer-to-peer transport listens on",
  },
  {
    key: "p2p.port",
    type: { kind: "port" },
    default: 4001,
    env: ["QUDAG_P2P_PORT"],
    flag: "--p2p-port",
    help: "port of the peer-to-peer transport",
  },
  {
    key: "p2p.peers",
    type: { kind: "list" },
    default: [],
    env: ["QUDAG_PEERS"],
    flag: "--peer",
    help: "peer addresses host:port (flag may repeat; env is comma-separated)",
  },
  {
    key: "p2p.bootstrap",
    type: { kind: "string", pattern: /^.+:\d+$/, describe: "host:port" },
    default: null,
    env: ["QUDAG_BOOTSTRAP"],
    flag: "--bootstrap",
    help: "bootstrap node address",
  },
  {
    key: "p2p.max_peers",
    type: { kind: "int", min: 1, max: 1000 },
    default: 64,
    env: ["QUDAG_MAX_PEERS"],
    help: "most peer connections kept",
  },
  // dag
  {
    key: "dag.sync_interval_s",
    type: { kind: "int", min: 1, max: 86_400 },
    default: 30,
    env: ["DAG_SYNC_INTERVAL"],
    help: "seconds between catch-up syncs with peers",
  },
  // batching
  {
    key: "consensus.batch_txs_max",
    type: { kind: "int", min: 1, max: 256 },
    default: 256,
    env: ["QUDAG_BATCH_TXS_MAX"],
    help: "most transactions one vertex this node issues carries (1 makes one vertex per transaction: soak tests)",
  },
  {
    key: "consensus.batch_delay_ms",
    type: { kind: "int", min: 0, max: 10_000 },
    default: 20,
    env: ["QUDAG_BATCH_DELAY_MS"],
    help: "how long a batch of submissions waits to fill before its vertex is issued, while fewer than " +
      "consensus.batch_window of this node's vertices are undecided",
  },
  {
    key: "consensus.batch_window",
    type: { kind: "int", min: 1, max: 64 },
    default: 2,
    env: ["QUDAG_BATCH_WINDOW"],
    help: "this node's undecided vertices from which a batch waits up to consensus.batch_delay_max_ms, or until " +
      "one of them is decided (under load a vertex issued sooner is decided no sooner; fewer, fuller vertices " +
      "cost every node less)",
  },
  {
    key: "consensus.batch_delay_max_ms",
    type: { kind: "int", min: 0, max: 10_000 },
    default: 250,
    env: ["QUDAG_BATCH_DELAY_MAX_MS"],
    help: "the longest a batch waits while the window is full",
  },
  {
    key: "consensus.pending_txs_max",
    type: { kind: "int", min: 1, max: 100_000 },
    default: 512,
    env: ["QUDAG_PENDING_TXS_MAX"],
    help: "transactions submitted to this node and not decided yet above which new ones are refused with 503 " +
      "node_busy and Retry-After (past what the validators decide, more in flight only slows every poll)",
  },
  {
    key: "consensus.fetch_grace_ms",
    type: { kind: "int", min: 0, max: 10_000 },
    default: 100,
    env: ["QUDAG_FETCH_GRACE_MS"],
    help: "how long after another validator first names a vertex this node lacks it waits for the author's own " +
      "send before asking for it (0 asks at once; missing parents are asked for at once); raise it on slow links",
  },
  {
    key: "consensus.busy_lag_ms",
    type: { kind: "int", min: 0, max: 600_000 },
    default: 2_000,
    env: ["QUDAG_BUSY_LAG_MS"],
    help: "while the node's event loop has lagged by more than this in the last 2 s (counted from 2 s after it is " +
      "ready), submissions are refused with 503 node_busy and Retry-After (an overloaded node falls behind the " +
      "settlement lag; 0 = never)",
  },
  // settlement, snapshots, state sync (wasm/LEDGER.md, "Settlement")
  {
    key: "settlement.lag_ms",
    type: { kind: "int", min: 0, max: 600_000 },
    default: 0,
    env: ["QUDAG_SETTLEMENT_LAG_MS"],
    help: "how long after a cut boundary this node waits for late vertices before closing the cut (more than the " +
      "validators' clock skew plus network delay); at most half the chain's settlement interval, 0 for exactly half",
  },
  {
    key: "storage.snapshot_every",
    type: { kind: "int", min: 0, max: 1_000_000 },
    default: 6,
    env: ["QUDAG_SNAPSHOT_EVERY"],
    help: "store a ledger snapshot every this many checkpoints (restarts replay only what came after; 0 = none)",
  },
  {
    key: "storage.snapshots_kept",
    type: { kind: "int", min: 1, max: 1_000 },
    default: 2,
    env: ["QUDAG_SNAPSHOTS_KEPT"],
    help: "ledger snapshots kept (the newest ones)",
  },
  {
    key: "storage.prune_before_checkpoints",
    type: { kind: "int", min: 0, max: 1_000_000_000 },
    default: 0,
    env: ["QUDAG_PRUNE_BEFORE_CHECKPOINTS"],
    help: "delete vertex bodies this many certified checkpoints back, keeping ids and decisions (0 = keep the full " +
      "history, as an explorer or auditor needs)",
  },
  {
    key: "sync.enabled",
    type: { kind: "bool" },
    default: true,
    env: ["QUDAG_STATE_SYNC"],
    help: "at start, sync from the peers' newest certified checkpoint when this node is behind it",
  },
  {
    key: "sync.behind_min",
    type: { kind: "int", min: 1, max: 1_000_000 },
    default: 3,
    env: ["QUDAG_SYNC_BEHIND_MIN"],
    help: "sync from a checkpoint only when this node is at least this many checkpoints behind it",
  },
  {
    key: "sync.wait_ms",
    type: { kind: "int", min: 0, max: 600_000 },
    default: 3_000,
    env: ["QUDAG_SYNC_WAIT_MS"],
    help: "how long a starting node waits for peers to ask them for their newest checkpoint",
  },
  {
    key: "sync.resync_after_ms",
    type: { kind: "int", min: 0, max: 86_400_000 },
    default: 30_000,
    env: ["QUDAG_SYNC_RESYNC_AFTER_MS"],
    help: "a running node at least sync.behind_min checkpoints behind the certified ones for this long restarts its " +
      "services and syncs from the newest certified checkpoint (0 = never; it then only catches up by fetching)",
  },
  // logging
  {
    key: "log.level",
    type: { kind: "enum", values: LOG_LEVELS },
    default: "info",
    env: ["LOG_LEVEL", "RUST_LOG"],
    flag: "--log-level",
    help: "least severe level logged",
  },
  // crypto
  {
    key: "crypto.backend",
    type: { kind: "enum", values: ["auto", "native", "webcrypto", "noble"] },
    default: "auto",
    env: ["QUDAG_CRYPTO_BACKEND"],
    flag: "--crypto-backend",
    help: "crypto backend (auto: native, else WebCrypto, else noble)",
  },
  {
    key: "crypto.native_library",
    type: { kind: "string", pattern: /^.+$/, describe: "a file path" },
    default: "./native/target/release/libqudag_native.so",
    env: ["QUDAG_NATIVE_LIB"],
    help: "path of the native crypto library",
  },
  // fees (defaults from SPEC.md; decimals are fractions, 0.001 = 0.1%)
  {
    key: "fees.enabled",
    type: { kind: "bool" },
    default: true,
    env: ["FEE_MODEL_ENABLED"],
    help: "charge the dynamic fee",
  },
  {
    key: "fees.f_min",
    type: { kind: "decimal", min: 0, max: 0.5 },
    default: 0.001,
    env: ["FEE_F_MIN"],
    help: "unverified minimum rate",
  },
  {
    key: "fees.f_max",
    type: { kind: "decimal", min: 0, max: 0.5 },
    default: 0.01,
    env: ["FEE_F_MAX"],
    help: "unverified maximum rate",
  },
  {
    key: "fees.f_min_verified",
    type: { kind: "decimal", min: 0, max: 0.5 },
    default: 0.0025,
    env: ["FEE_F_MIN_VERIFIED"],
    help: "verified minimum rate",
  },
  {
    key: "fees.f_max_verified",
    type: { kind: "decimal", min: 0, max: 0.5 },
    default: 0.005,
    env: ["FEE_F_MAX_VERIFIED"],
    help: "verified maximum rate",
  },
  {
    key: "fees.time_constant_days",
    type: { kind: "decimal", min: 0.001, max: 36_500 },
    default: 90,
    env: ["FEE_TIME_CONSTANT_DAYS"],
    help: "T of the time phase-in, days",
  },
  {
    key: "fees.usage_threshold",
    type: { kind: "decimal", min: 0.000001, max: 1e12 },
    default: 10_000,
    env: ["FEE_USAGE_THRESHOLD"],
    help: "U of the usage scaling, rUv per 30 days",
  },
  // immutable deployment
  {
    key: "immutable.enabled",
    type: { kind: "bool" },
    default: false,
    env: ["IMMUTABLE_DEPLOYMENT"],
    help: "start in immutable mode",
  },
  {
    key: "immutable.grace_period_hours",
    type: { kind: "decimal", min: 0, max: 8_760 },
    default: 24,
    env: ["IMMUTABLE_GRACE_PERIOD_HOURS"],
    help: "window for configuration changes after a lock",
  },
  // Fly.io, read-only facts about the machine
  {
    key: "fly.app_name",
    type: { kind: "string", pattern: /^[a-z0-9-]{1,63}$/, describe: "a Fly app name" },
    default: null,
    env: ["FLY_APP_NAME"],
    help: "set by Fly",
  },
  {
    key: "fly.region",
    type: { kind: "string", pattern: /^[a-z0-9]{2,8}$/, describe: "a Fly region code" },
    default: null,
    env: ["FLY_REGION"],
    help: "set by Fly",
  },
  {
    key: "fly.private_ip",
    type: { kind: "host" },
    default: null,
    env: ["FLY_PRIVATE_IP"],
    help: "set by Fly",
  },
  {
    key: "fly.machine_id",
    type: { kind: "string", pattern: /^[A-Za-z0-9]{1,64}$/, describe: "a Fly machine id" },
    default: null,
    env: ["FLY_MACHINE_ID"],
    help: "set by Fly",
  },
  // the CLI's client side
  {
    key: "cli.node_url",
    type: { kind: "string", pattern: /^https?:\/\/[^\s]+$/, describe: "an http(s) URL" },
    default: "http://127.0.0.1:8080",
    env: ["QUDAG_NODE_URL"],
    flag: "--node",
    help: "node the CLI talks to",
  },
  {
    key: "cli.exchange_url",
    type: { kind: "string", pattern: /^https?:\/\/[^\s]+$/, describe: "an http(s) URL" },
    default: null,
    env: ["QUDAG_EXCHANGE_URL"],
    help: "exchange API the `qudag exchange` commands talk to (default: QUDAG_NODE_URL when set, else " +
      "http://127.0.0.1:8081); --node overrides both",
  },
  // secrets: environment only, never in TOML, never printed
  ...[
    ["secrets.node_private_key", "NODE_PRIVATE_KEY", "node identity key (hex seed or key file)"],
    ["secrets.peer_auth_token", "PEER_AUTH_TOKEN", "shared token peers must present"],
    ["secrets.exchange_master_key", "EXCHANGE_MASTER_KEY", "exchange master key (mint)"],
    ["secrets.immutable_governance_key", "IMMUTABLE_GOVERNANCE_KEY", "governance key"],
    ["secrets.fee_admin_key", "FEE_ADMIN_KEY", "fee configuration key"],
    ["secrets.agent_verification_key", "AGENT_VERIFICATION_KEY", "agent verification key"],
    ["secrets.key_passphrase", "QUDAG_KEY_PASSPHRASE", "passphrase of the key store"],
    ["secrets.api_key", "QUDAG_API_KEY", "x-api-key required on write endpoints"],
    [
      "secrets.vault_passphrase",
      "QUDAG_VAULT_PASSPHRASE",
      "passphrase of the vault (default: QUDAG_KEY_PASSPHRASE); without either the vault stays locked",
    ],
  ].map(([key, env, help]): Field => ({
    key,
    type: { kind: "string", pattern: /^[\s\S]+$/, describe: "a non-empty secret" },
    default: null,
    env: [env],
    secret: true,
    help,
  })),
];

/**
 * Environment names the seeds set that mean nothing to qudag, with where that
 * setting lives instead. `qudag start` refuses to run while one is set, so a
 * deployment never believes a setting took effect when it did not.
 */
export const MOVED_ENV: Readonly<Record<string, string>> = {
  EXCHANGE_GENESIS_SEED: "the exchange genesis is a file made once by `qudag genesis init --exchange` and given to " +
    "every node (QUDAG_GENESIS_FILE); its authority keys are EXCHANGE_MASTER_KEY, FEE_ADMIN_KEY, " +
    "AGENT_VERIFICATION_KEY and IMMUTABLE_GOVERNANCE_KEY",
  EXCHANGE_NETWORK_KEY: "peers authenticate with the validators' ML-DSA-87 keys in the genesis, plus PEER_AUTH_TOKEN " +
    "when set; there is no network key",
  CONSENSUS_SIGNATURE_KEY: "a validator signs vertices, votes and checkpoints with its own key, NODE_PRIVATE_KEY; " +
    "there is no shared consensus key",
  API_RATE_LIMIT_KEY: "writes are guarded by QUDAG_API_KEY (the x-api-key header); rate limits need no key of their " +
    "own and are set by QUDAG_HTTP_RATE_LIMIT and QUDAG_HTTP_RATE_LIMIT_* (README, Rate limits)",
  API_KEY: "the key writes need is QUDAG_API_KEY (sent as the x-api-key header)",
  DATABASE_URL: "qudag keeps its database in SQLite at <data dir>/qudag.db (QUDAG_DATA_DIR, --data-dir); there is " +
    "no database server",
  WASM_DEBUG: "the WASM core has no debug build; LOG_LEVEL=debug makes the node's log verbose",
};

/** Every environment name the configuration reads; deno.json's --allow-env must cover them. */
export const ENV_NAMES: readonly string[] = [...FIELDS.flatMap((f) => f.env ?? []), ...Object.keys(MOVED_ENV)];
