export * from "./types.ts";
export * from "./vault_types.ts";
export { HISTORY_PAGE_MAX } from "./_rules.ts";
export { MemoryStorage } from "./memory.ts";
export { DB_FILE, SqliteStorage } from "./sqlite.ts";
export { MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";
export { carriedOffsets } from "./embedded.ts";
