// GET …/models and …/models/<id>: the models an account's kind lists (or what a test set for it).
import { apiError } from './wire.mjs';

/** What each kind lists by default; coding_plan has no listing (its list serves strict_models). */
export const DEFAULT_MODELS = {
  dashscope: [
    'qwen3-coder-plus', 'qwen3-coder-flash', 'qwen3-coder-next', 'qwen3.6-plus', 'qwen3.7-plus', 'qwen3.6-flash',
    'qwen3.8-flash', 'qwen3.8-max', 'qwen3-max-2026-01-23', 'text-embedding-v4', 'qwen2.5-coder-7b-instruct',
    'qwen2.5-coder-32b-instruct', 'qwen-coder-turbo',
  ],
  token_plan: ['qwen3-coder-plus', 'qwen3-coder-next', 'qwen3.6-plus', 'qwen3.7-plus', 'qwen3.8-max'],
  coding_plan: ['qwen3-coder-plus', 'qwen3-coder-next', 'qwen3.6-plus', 'qwen3.7-plus', 'qwen3.8-max', 'kimi-k2.5', 'glm-5', 'glm-4.7', 'MiniMax-M2.5'],
  openai_compatible: ['qwen3-coder-plus', 'qwen3-coder-flash'],
  oauth: ['coder-model', 'vision-model', 'qwen3-coder-plus', 'qwen3-coder-flash'], // strict_models only: no listing
};
DEFAULT_MODELS.api_key = DEFAULT_MODELS.dashscope;

const CREATED = 1_767_225_600; // 2026-01-01, fixed so answers are reproducible

/** The model ids of an account: set by POST /__mock/accounts/<id>/models, else its kind's. */
export const modelIds = (acc) => (acc.models ?? DEFAULT_MODELS[acc.kind]).map((m) => (typeof m === 'string' ? m : m.id));

const entry = (m) => (typeof m === 'string'
  ? { id: m, object: 'model', created: CREATED, owned_by: 'system' }
  : { object: 'model', created: CREATED, owned_by: 'system', ...m });

/** Validates a list for POST /__mock/accounts/<id>/models: strings or objects with an id; null resets. */
export function parseModels(list) {
  if (list === null) return null;
  if (!Array.isArray(list) || !list.every((m) => (typeof m === 'string' && m) || (typeof m?.id === 'string' && m.id))) {
    throw new Error('models must be null or an array of ids or of objects with an id');
  }
  return list;
}

export function modelsPlan(rt, ctx) {
  const list = (ctx.acc.models ?? DEFAULT_MODELS[ctx.acc.kind]).map(entry);
  const wanted = ctx.route.model_id;
  if (wanted === undefined) return { json: { object: 'list', data: list } };
  const found = list.find((m) => m.id === wanted);
  if (found) return { json: found };
  return { status: 404, json: apiError(`The model \`${wanted}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found') };
}
