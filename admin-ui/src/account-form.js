// The form that adds an API-key account: one set of fields per kind, sent as the record that
// PUT /admin/accounts/<id> takes. The API checks the key's shape and says what is wrong; its
// message is shown in the form as it is.

import { api, accountPath } from './api.js';
import { h, field, formDialog, toast, confirmAction } from './dom.js';

const KINDS = {
  dashscope: {
    label: 'DashScope / Model Studio (pay as you go)',
    hint: 'A Model Studio key (sk-…) and the region it was issued in.',
    regions: ['cn', 'intl', 'us', 'hk'],
  },
  token_plan: { label: 'Token Plan', hint: 'A Token Plan key and its region.', regions: ['cn', 'intl'] },
  coding_plan: {
    label: 'Coding Plan',
    hint: 'A Coding Plan key starts with sk-sp- (personal use in coding tools only).',
    regions: ['cn', 'intl'],
  },
  openai_compatible: {
    label: 'Other OpenAI-compatible endpoint',
    hint: 'Any OpenAI-compatible service: its base URL (ending in /v1) and key.',
    needsBase: true,
  },
  api_key: {
    label: 'API key with a base URL (older record form)',
    hint: "Without a base URL the gateway's QWEN_API_BASE_URL is used.",
    showBase: true,
  },
};
const REGION_NAMES = { cn: 'China (Beijing)', intl: 'International (Singapore)', us: 'US (Virginia)', hk: 'Hong Kong' };
export const ACCOUNT_ID_RULE = /^[A-Za-z0-9._@-]{1,64}$/;
export const ACCOUNT_ID_HINT = "1-64 letters, digits, '-', '_', '.', '@'";

const input = (name, attrs = {}) => h('input', { name, autocomplete: 'off', spellcheck: 'false', ...attrs });

/** Opens the form; resolves to true when an account was stored. `existing`: the ids there are. */
export function addKeyAccount(existing) {
  const kind = h('select', { name: 'kind' },
    Object.entries(KINDS).map(([k, v]) => h('option', { value: k }, v.label)));
  const region = h('select', { name: 'region' });
  const hint = h('p', { class: 'field-hint kind-hint' });
  const workspace = field('Workspace (optional)', input('workspace', { placeholder: 'ws-…' }), 'A Singapore workspace id, with region intl.');
  const baseUrl = input('base_url', { type: 'url', placeholder: 'https://…/v1' });
  const baseField = field('Base URL', baseUrl);
  const overrides = h('details', { class: 'advanced' }, h('summary', {}, 'Endpoint overrides'),
    field('OpenAI-compatible base URL', input('base_url_override', { type: 'url', placeholder: "the kind's own endpoint" })),
    field('Anthropic base URL', input('anthropic_base_url', { type: 'url', placeholder: "the kind's own endpoint" })));
  const regionField = field('Region', region);

  function update() {
    const k = KINDS[kind.value];
    hint.replaceChildren(k.hint);
    regionField.hidden = !k.regions;
    region.replaceChildren(...(k.regions ?? []).map((r) => h('option', { value: r }, `${r} · ${REGION_NAMES[r]}`)));
    workspace.hidden = !(kind.value === 'dashscope' && region.value === 'intl');
    baseField.hidden = !(k.needsBase || k.showBase);
    baseUrl.required = Boolean(k.needsBase);
    overrides.hidden = !k.regions;
  }
  kind.addEventListener('change', update);
  region.addEventListener('change', () => { workspace.hidden = !(kind.value === 'dashscope' && region.value === 'intl'); });
  update();

  const fields = [
    field('Account id', input('id', { required: true, maxlength: 64, placeholder: 'e.g. paid-1' }), ACCOUNT_ID_HINT),
    field('Kind', kind), hint,
    field('API key', input('api_key', { type: 'password', required: true })),
    regionField, workspace, baseField,
    field('Models (optional)', input('models', { placeholder: 'qwen3-coder-plus, qwen3-coder-flash' }), "Comma-separated; empty: the kind's catalogue."),
    overrides,
  ];

  return formDialog({
    title: 'Add an API-key account',
    fields,
    submitLabel: 'Add account',
    async submit(form) {
      const v = (n) => form.elements[n]?.value.trim() ?? '';
      const id = v('id');
      if (!ACCOUNT_ID_RULE.test(id)) throw new Error(`The account id must be ${ACCOUNT_ID_HINT}.`);
      if (existing.has(id) && !(await confirmAction('Replace account', `An account ${id} exists. Replace its credentials?`, 'Replace', true))) return false;
      const record = { kind: kind.value, api_key: form.elements.api_key.value };
      const k = KINDS[kind.value];
      if (k.regions) record.region = region.value;
      if (!workspace.hidden && v('workspace')) record.workspace = v('workspace');
      const base = k.regions ? v('base_url_override') : v('base_url');
      if (base) record.base_url = base;
      if (k.regions && v('anthropic_base_url')) record.anthropic_base_url = v('anthropic_base_url');
      const models = v('models').split(/[\s,]+/).filter(Boolean);
      if (models.length) record.models = models;
      const { data } = await api('PUT', accountPath(id), record);
      toast(`Account ${id} added (${data?.status ?? 'stored'}).`);
      return true;
    },
  });
}
