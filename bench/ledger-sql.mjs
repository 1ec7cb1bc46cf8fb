// The ledger's usage table and its upsert, read from src/ledger/usage.rs, so that the
// JavaScript stand-ins of bench/same-work-worker.mjs run the same SQL as the Worker's ledger.
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** {USAGE_TABLE, USAGE_RECORD}: the `CREATE TABLE … usage` statement and the `RECORD` upsert. */
export function ledgerSql(root) {
  const source = readFileSync(path.join(root, 'src/ledger/usage.rs'), 'utf8');
  const strings = [...source.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
  const table = strings.find((s) => s.startsWith('CREATE TABLE IF NOT EXISTS usage'));
  const record = /pub const RECORD: &str =\s*"((?:[^"\\]|\\.)*)"/.exec(source)?.[1];
  if (!table || !record) throw new Error('src/ledger/usage.rs: the usage table or RECORD not found');
  return { USAGE_TABLE: table, USAGE_RECORD: record };
}
