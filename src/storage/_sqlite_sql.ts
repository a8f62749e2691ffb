/**
 * Every statement SqliteStorage runs, named after the method that runs it,
 * in one place so storage_test.ts can check their query plans.
 *
 * Reads by timestamp walk the index vertices_by_ts (ts_ms, round, id) from the
 * first key at or above the bound, so their cost grows with what they return,
 * never with the settled history below it. INDEXED BY pins the index whatever
 * statistics SQLite gathers (the statement fails to prepare if the index cannot
 * serve it), and CROSS JOIN keeps the left table as the outer loop: vertices
 * (or transactions) by index, then one decisions lookup per row by its index.
 *
 * A transaction's decision and receipt name its row (tx_seq, migration 12); a
 * vertex's decision, or one of a transaction not stored when it was decided,
 * is found by id in the partial index of rows without tx_seq. Each read of
 * them by a transaction's id asks both, the row first.
 */
const CUT_COLUMNS =
  "seq, boundary_ms, prev_boundary_ms, frontier, vertex_count, snapshot_safe, statement, digest, signature";

export const SQL = {
  getMeta: "SELECT value FROM meta WHERE key = ?",
  setMeta: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",

  putVertex: "INSERT INTO vertices (id, bytes, author, round, received_at_ms, ts_ms) VALUES (?, ?, ?, ?, ?, ?) " +
    "ON CONFLICT(id) DO NOTHING",
  putVertexParent: "INSERT OR IGNORE INTO vertex_parents (child, parent) VALUES (?, ?)",
  getVertex: "SELECT id, bytes, author, round, received_at_ms, ts_ms FROM vertices WHERE id = ?",
  parents: "SELECT parent FROM vertex_parents WHERE child = ? ORDER BY parent",
  children: "SELECT child FROM vertex_parents WHERE parent = ? ORDER BY child",
  // The row holds the vertex's bytes before ts_ms; the index vertices_ts_by_id answers without reading them.
  vertexTimestamp: "SELECT ts_ms FROM vertices INDEXED BY vertices_ts_by_id WHERE id = ?",
  verticesFrom: "SELECT id FROM vertices INDEXED BY vertices_by_ts WHERE ts_ms >= ? ORDER BY ts_ms, round, id",
  acceptedVerticesFrom: "SELECT v.id FROM vertices AS v INDEXED BY vertices_by_ts CROSS JOIN decisions AS d " +
    "ON d.id = v.id AND d.tx_seq IS NULL " +
    "WHERE v.ts_ms >= ? AND d.subject = 'vertex' AND d.status = 'accepted' ORDER BY v.ts_ms, v.round, v.id",
  acceptedVerticesBetween: "SELECT v.id FROM vertices AS v INDEXED BY vertices_by_ts CROSS JOIN decisions AS d " +
    "ON d.id = v.id AND d.tx_seq IS NULL " +
    "WHERE v.ts_ms >= ? AND v.ts_ms < ? AND d.subject = 'vertex' AND d.status = 'accepted' " +
    "ORDER BY v.ts_ms, v.round, v.id",
  // NULL sorts first in vertices_by_ts, so this reads only the rows it returns.
  vertexIdsWithoutTimestamp:
    "SELECT id FROM vertices INDEXED BY vertices_by_ts WHERE ts_ms IS NULL ORDER BY round, id LIMIT ?",
  setVertexTimestamp: "UPDATE vertices SET ts_ms = ? WHERE id = ? AND ts_ms IS NULL",
  // The partial index vertices_unpruned_by_ts holds only rows that still have
  // bytes, so pruning again after each cut reads only what it prunes.
  pruneVertexBodies:
    "UPDATE vertices INDEXED BY vertices_unpruned_by_ts SET bytes = X'' WHERE ts_ms < ? AND length(bytes) > 0",
  // Five rows, kept by triggers (migration 4).
  counters: "SELECT name, n FROM counters",

  putTransaction:
    "INSERT INTO transactions (id, bytes, conflict_key, vertex, received_at_ms, in_vertex_at, len) VALUES (?, ?, ?, ?, ?, ?, ?) " +
    "ON CONFLICT(id) DO NOTHING",
  // Bytes kept in the carrying vertex (migration 8) are read from it: substr of a BLOB counts bytes, from 1.
  getTransaction: "SELECT t.id, CASE WHEN t.in_vertex_at IS NULL THEN t.bytes " +
    "ELSE substr((SELECT v.bytes FROM vertices AS v WHERE v.id = t.vertex), t.in_vertex_at + 1, t.len) END AS bytes, " +
    "t.conflict_key, t.vertex, t.received_at_ms FROM transactions AS t WHERE t.id = ?",
  // Before vertex bodies are pruned, the transactions that read their bytes from them get their own copy.
  unembedBeforePrune: "UPDATE transactions INDEXED BY transactions_in_vertex " +
    "SET bytes = substr((SELECT v.bytes FROM vertices AS v WHERE v.id = transactions.vertex), in_vertex_at + 1, len), " +
    "in_vertex_at = NULL, len = NULL WHERE in_vertex_at IS NOT NULL AND vertex IN " +
    "(SELECT id FROM vertices INDEXED BY vertices_unpruned_by_ts WHERE ts_ms < ? AND length(bytes) > 0)",
  putCarrier: "INSERT OR IGNORE INTO tx_carriers (conflict_key, vertex, tx_id) VALUES (?, ?, ?)",
  carriersOfConflict:
    "SELECT c.vertex, v.ts_ms FROM tx_carriers AS c CROSS JOIN vertices AS v INDEXED BY vertices_ts_by_id ON v.id = c.vertex " +
    "WHERE c.conflict_key = ? ORDER BY c.vertex",
  // From the carriers (migration 11): one row per vertex carrying a transaction, in key order (by vertex), so the
  // caller drops repeats and sorts the key's few ids. At most one transaction of a key is ever accepted.
  conflicting: "SELECT tx_id AS id FROM tx_carriers WHERE conflict_key = ?",
  acceptedOfConflict: "SELECT c.tx_id AS id FROM tx_carriers AS c CROSS JOIN transactions AS t ON t.id = c.tx_id " +
    "CROSS JOIN decisions AS d ON d.tx_seq = t.seq WHERE c.conflict_key = ?1 AND d.status = 'accepted' " +
    "UNION ALL SELECT c.tx_id AS id FROM tx_carriers AS c CROSS JOIN decisions AS d ON d.id = c.tx_id AND d.tx_seq IS NULL " +
    "WHERE c.conflict_key = ?1 AND d.subject = 'tx' AND d.status = 'accepted' LIMIT 1",

  // A decision already there is left as it is (putDecision compares it); no insert, so no counter trigger. Nor
  // when the transaction was decided before it was stored: that decision has no tx_seq, and stays the one.
  putDecision: "INSERT INTO decisions (id, subject, status, decided_at_ms, tx_seq) " +
    "SELECT ?1, ?2, ?3, ?4, CASE WHEN ?2 = 'tx' THEN (SELECT seq FROM transactions WHERE id = ?1) END " +
    "WHERE NOT EXISTS (SELECT 1 FROM decisions WHERE id = ?1 AND tx_seq IS NULL) ON CONFLICT DO NOTHING",
  getDecision: "SELECT id, subject, status, decided_at_ms FROM decisions " +
    "WHERE tx_seq = (SELECT seq FROM transactions WHERE id = ?1) " +
    "UNION ALL SELECT id, subject, status, decided_at_ms FROM decisions WHERE id = ?1 AND tx_seq IS NULL LIMIT 1",
  allDecisions: "SELECT id, subject, status, decided_at_ms FROM decisions ORDER BY seq",
  setPreference: "INSERT INTO preferences (conflict_key, member) VALUES (?, ?) " +
    "ON CONFLICT(conflict_key) DO UPDATE SET member = excluded.member",
  dropPreference: "DELETE FROM preferences WHERE conflict_key = ?",
  preferences: "SELECT conflict_key, member FROM preferences ORDER BY conflict_key",

  // ON CONFLICT DO NOTHING rather than INSERT OR IGNORE: only a receipt of the same transaction is skipped (the
  // unique indexes by tx_seq and by id are the only ones); a NOT NULL violation still fails the batch.
  putReceipt: "INSERT INTO receipts (tx_id, code, fee, rate_ppb, vertex, time_ms, accounts, tx_seq) " +
    "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT seq FROM transactions WHERE id = ?1) " +
    "WHERE NOT EXISTS (SELECT 1 FROM receipts WHERE tx_id = ?1 AND tx_seq IS NULL) ON CONFLICT DO NOTHING",
  // The account history's receipts above its mark (_sqlite_history.ts): a rowid range of receipts.
  receiptsAbove: "SELECT COUNT(*) AS n FROM receipts WHERE rowid > ?",
  receiptsFrom: "SELECT rowid AS seq, tx_id, accounts FROM receipts WHERE rowid > ? ORDER BY rowid",
  receiptsTouching: "SELECT rowid AS seq, tx_id, code, fee, rate_ppb, vertex, time_ms, accounts FROM receipts " +
    "WHERE rowid > ? AND rowid < ? AND instr(accounts, ?) > 0 ORDER BY rowid DESC",
  getReceipt: "SELECT tx_id, code, fee, rate_ppb, vertex, time_ms FROM receipts " +
    "WHERE tx_seq = (SELECT seq FROM transactions WHERE id = ?1) " +
    "UNION ALL SELECT tx_id, code, fee, rate_ppb, vertex, time_ms FROM receipts WHERE tx_id = ?1 AND tx_seq IS NULL " +
    "LIMIT 1",
  // getDecision's status and getReceipt's vertex for each id of a JSON array, by its place in the array (key).
  txDecisionsAndReceipts: "SELECT j.key AS i, " +
    "COALESCE((SELECT d.status FROM decisions AS d WHERE d.tx_seq = t.seq), " +
    "(SELECT d.status FROM decisions AS d WHERE d.id = j.value AND d.tx_seq IS NULL)) AS status, " +
    "COALESCE((SELECT r.vertex FROM receipts AS r WHERE r.tx_seq = t.seq), " +
    "(SELECT r.vertex FROM receipts AS r WHERE r.tx_id = j.value AND r.tx_seq IS NULL)) AS receipt_vertex " +
    "FROM json_each(?1) AS j LEFT JOIN transactions AS t ON t.id = j.value",
  putHistory: "INSERT INTO account_history (account, seq, tx_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
  // A range of account_history's primary key (account, seq), walked down from the cursor: the cost of a page
  // does not depend on its depth. Then one receipts lookup per row by its primary key (seq).
  accountHistory: "SELECT h.seq, r.tx_id, r.code, r.fee, r.rate_ppb, r.vertex, r.time_ms " +
    "FROM account_history AS h CROSS JOIN receipts AS r ON r.seq = h.seq " +
    "WHERE h.account = ? AND h.seq < ? ORDER BY h.seq DESC LIMIT ?",

  latestCutSeq: "SELECT MAX(seq) AS seq FROM cuts",
  putCut: `INSERT INTO cuts (${CUT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  cutDigest: "SELECT digest FROM cuts WHERE seq = ?",
  setCutStatement: "UPDATE cuts SET statement = ?, digest = ?, signature = ? WHERE seq = ?",
  fillCutSignature: "UPDATE cuts SET signature = ? WHERE seq = ? AND signature IS NULL",
  getCut: `SELECT ${CUT_COLUMNS} FROM cuts WHERE seq = ?`,
  latestCut: `SELECT ${CUT_COLUMNS} FROM cuts ORDER BY seq DESC LIMIT 1`,
  cutsFrom: `SELECT ${CUT_COLUMNS} FROM cuts WHERE seq >= ? ORDER BY seq LIMIT ?`,

  certificateDigest: "SELECT digest FROM certificates WHERE seq = ?",
  putCertificate: "INSERT INTO certificates (seq, digest, statement, signatures) VALUES (?, ?, ?, ?)",
  getCertificate: "SELECT seq, digest, statement, signatures FROM certificates WHERE seq = ?",
  latestCertificate: "SELECT seq, digest, statement, signatures FROM certificates ORDER BY seq DESC LIMIT 1",

  putSnapshot: "INSERT INTO snapshots (seq, bytes) VALUES (?, ?) ON CONFLICT(seq) DO UPDATE SET bytes = excluded.bytes",
  // Deletes from the (keep + 1)-th newest down; nothing when there are fewer.
  trimSnapshots: "DELETE FROM snapshots WHERE seq <= (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 1 OFFSET ?)",
  getSnapshot: "SELECT bytes FROM snapshots WHERE seq = ?",
  snapshotSeqs: "SELECT seq FROM snapshots ORDER BY seq DESC",
} as const;
