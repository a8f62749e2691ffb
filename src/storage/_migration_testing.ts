/** For the migration tests: a database as an older build left it. */
import { DatabaseSync } from "node:sqlite";
import { MIGRATIONS } from "./migrations.ts";

/** Opens `path` with the schema of `version` (its migrations applied and recorded, as that build did). */
export function databaseAtVersion(path: string, version: number): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT",
  );
  for (const m of MIGRATIONS.filter((m) => m.version <= version)) {
    db.exec(m.sql);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
      .run(m.version, m.name, "2026-11-01T00:00:00.000Z");
  }
  return db;
}
