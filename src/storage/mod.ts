export * from "./types.ts";
export { MemoryStorage } from "./memory.ts";
export { DB_FILE, SqliteStorage } from "./sqlite.ts";
export { MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";
