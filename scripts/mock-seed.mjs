// Local KV for `npm run dev -- --mock` (scripts/dev.sh): accounts created at the mock upstream
// whose URL is the argument, printed as a `wrangler kv bulk put` file. 'demo' serves; 'coder'
// (Coding Plan, its 5-hour window spent) and 'legacy' (an OAuth account of the ended free tier)
// are there for the admin dashboard to show, and are never chosen.
const mock = process.argv[2];
const create = async (body) => {
  const res = await fetch(`${mock}/__mock/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`mock: ${res.status} ${await res.text()}`);
  return res.json();
};
const oauth = (a) => ({ access_token: a.access_token, refresh_token: a.refresh_token, token_type: 'Bearer', resource_url: a.resource_url, expiry_date: a.expiry_date });
const now = Date.now();
const demo = await create({ id: 'demo' });
const coder = await create({ id: 'coder', kind: 'coding_plan' });
const legacy = await create({ id: 'legacy' });
const status = {
  coder: { out_until: now + 5 * 3600_000, out_reason: "the Coding Plan's 5-hour allocation is spent", last_error: "the Coding Plan's 5-hour allocation is spent", last_error_at: now },
  legacy: {
    dead_reason: 'the Qwen OAuth free tier behind this account ended; add a Model Studio key instead (kind dashscope, token_plan or coding_plan)',
    dead_at: now, discontinued: true, last_error: 'upstream rejected the access token after a refresh', last_error_at: now,
  },
};
const kv = {
  'ACCOUNT:demo': oauth(demo),
  'ACCOUNT:coder': { kind: 'coding_plan', api_key: coder.api_key, region: 'intl', base_url: coder.base_url },
  'ACCOUNT:legacy': oauth(legacy),
  ACCOUNTS: ['demo', 'coder', 'legacy'],
  ACCOUNT_STATUS: status,
};
console.log(JSON.stringify(Object.entries(kv).map(([key, value]) => ({ key, value: JSON.stringify(value) }))));
