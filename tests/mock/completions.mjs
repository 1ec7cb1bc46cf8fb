// POST …/completions: the legacy text_completion shape, whole or streamed; FIM prompts
// (<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>, or prompt + suffix) answered deterministically.
import { apiError, chop, rand, sse, tokensOf } from './wire.mjs';

const FIM = /^<\|fim_prefix\|>([\s\S]*?)(?:<\|fim_suffix\|>([\s\S]*?))?<\|fim_middle\|>$/;

/** The middle the mock fills in: names the code-point lengths of the prefix and the suffix. */
export const fimMiddle = (prefix, suffix) => `/* fim ${Array.from(prefix).length}:${Array.from(suffix).length} */`;

/** The completion text of one prompt. */
export function completionOf(prompt, suffix) {
  const m = FIM.exec(prompt);
  if (m) return fimMiddle(m[1], m[2] ?? '');
  if (typeof suffix === 'string') return fimMiddle(prompt, suffix);
  return `Echo: ${prompt}`;
}

export function completionsPlan(rt, ctx) {
  const { body } = ctx;
  const prompts = typeof body.prompt === 'string' ? [body.prompt] : body.prompt;
  if (!Array.isArray(prompts) || prompts.length === 0 || !prompts.every((p) => typeof p === 'string')) {
    return { status: 400, json: apiError('prompt must be a string or a non-empty array of strings', 'invalid_request_error', 'invalid_parameter_error') };
  }
  const max = Number.isInteger(body.max_tokens) && body.max_tokens >= 0 ? body.max_tokens : Infinity;
  const choices = prompts.map((prompt, index) => {
    let pieces = chop(completionOf(prompt, body.suffix));
    let finish = 'stop';
    if (pieces.length > max) { pieces = pieces.slice(0, max); finish = 'length'; }
    if (body.echo === true) pieces = [prompt, ...pieces];
    return { index, pieces, finish };
  });
  const promptTokens = prompts.reduce((n, p) => n + tokensOf(p + (typeof body.suffix === 'string' ? body.suffix : '')), 0);
  const completionTokens = choices.reduce((n, c) => n + Math.max(1, c.pieces.length), 0);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const base = { id: `cmpl-${rand(9)}`, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: body.model ?? 'qwen2.5-coder-7b-instruct' };
  if (body.stream !== true) {
    return {
      json: {
        ...base,
        choices: choices.map((c) => ({ text: c.pieces.join(''), index: c.index, logprobs: null, finish_reason: c.finish })),
        usage,
      },
    };
  }
  const events = [];
  for (const c of choices) {
    for (const text of c.pieces) events.push(sse({ ...base, choices: [{ text, index: c.index, logprobs: null, finish_reason: null }] }));
    events.push(sse({ ...base, choices: [{ text: '', index: c.index, logprobs: null, finish_reason: c.finish }] }));
  }
  if (body.stream_options?.include_usage === true) events.push(sse({ ...base, choices: [], usage }));
  events.push('data: [DONE]\n\n');
  return { events };
}
