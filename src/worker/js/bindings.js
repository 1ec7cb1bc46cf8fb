// The Worker's storage bindings, one call from WebAssembly per operation: KV (accounts and pool
// state), a Durable Object's fetch (the pool writer, the ledger) and a Durable Object's SQLite
// storage (the ledger). Values cross as strings, so nothing on the way needs a converter of
// its own. Called from src/worker/kv.rs, objects.rs and ledger.rs.

/** The value of `key` as text, or null when there is none. */
export function kvGet(ns, key) {
  return ns.get(key);
}

/** Writes `value` under `key`; with `ttlSecs` > 0, KV drops it by itself after that long. */
export function kvPut(ns, key, value, ttlSecs) {
  return ns.put(key, value, ttlSecs > 0 ? { expirationTtl: ttlSecs } : undefined);
}

export function kvDelete(ns, key) {
  return ns.delete(key);
}

/** One page of the keys under `prefix`: {names: string[], cursor: string | null (the last page)}. */
export async function kvList(ns, prefix, cursor) {
  const page = await ns.list(cursor ? { prefix, cursor } : { prefix });
  return { names: page.keys.map((k) => k.name), cursor: page.list_complete ? null : page.cursor || null };
}

/** POSTs `body` to the object named `name` of namespace `ns`: {status, text}. */
export async function callObject(ns, name, body) {
  const stub = ns.get(ns.idFromName(name));
  const r = await stub.fetch(`https://${name}/`, { method: 'POST', body });
  return { status: r.status, text: await r.text() };
}

/**
 * Runs `query` with `params` (a JSON array of strings and numbers) on a Durable Object's SQLite
 * storage: its rows as a JSON array.
 */
export function sqlRows(sql, query, params) {
  return JSON.stringify(sql.exec(query, ...JSON.parse(params)).toArray());
}
