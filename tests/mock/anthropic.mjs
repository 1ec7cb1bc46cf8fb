// Anthropic-compatible Messages API (DashScope /apps/anthropic, Coding Plan /coding/apps/anthropic):
// an Anthropic request in, an Anthropic message out, whole or as SSE (message_start,
// content_block_start/delta/stop, message_delta, message_stop).
import { defaultAnthropicAnswer, turnAnswer } from './agent.mjs';
import { anthropicError } from './errors.mjs';
import { promptCache } from './state.mjs';
import { rand, sse } from './wire.mjs';

const STOP_REASONS = { tool_calls: 'tool_use', stop: 'end_turn', length: 'max_tokens' };

/** Why an Anthropic request is invalid, or null. */
function problem(body) {
  if (typeof body.model !== 'string' || !body.model) return 'model: Field required';
  if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) return 'max_tokens: Field required (a positive integer)';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: at least one message is required';
  for (const [i, m] of body.messages.entries()) {
    if (m?.role !== 'user' && m?.role !== 'assistant' && m?.role !== 'system') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
  }
  return null;
}

function parseInput(text) {
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

/**
 * Usage with Anthropic's meaning: input_tokens are the prompt tokens not read from the cache,
 * cache_read_input_tokens those that were (the account's prompt cache imitation).
 */
function messagesUsage(acc, body, answer) {
  const serialized = JSON.stringify([body.system ?? null, body.messages]);
  const prompt = Math.max(1, Math.ceil(serialized.length / 4));
  const cached = acc ? promptCache(acc, 'anthropic', serialized, prompt) : 0;
  return {
    input_tokens: prompt - cached, output_tokens: answer.completionTokens,
    cache_creation_input_tokens: 0, cache_read_input_tokens: cached,
  };
}

/**
 * The plan of a normal Messages answer: {json} or, for `stream: true`, {events}. Consumes the
 * account's next agent turn when there is one; a request Anthropic would refuse gets a 400 envelope.
 */
export function messagesPlan(rt, ctx) {
  const { body, acc } = ctx;
  const why = problem(body);
  if (why) return { status: 400, json: anthropicError(400, why) };
  const turn = acc?.agent.shift();
  const ans = turn ? turnAnswer(rt.st, turn, 'toolu_') : defaultAnthropicAnswer(rt.st, body);
  const usage = messagesUsage(acc, body, ans);
  const stopReason = ans.stopReason ?? STOP_REASONS[ans.finishReason] ?? 'end_turn';
  const message = { id: `msg_${rand(12)}`, type: 'message', role: 'assistant', model: body.model };

  const blocks = [];
  if (ans.reasoning) blocks.push({ block: { type: 'thinking', thinking: '', signature: '' }, deltas: ans.reasoning.map((t) => ({ type: 'thinking_delta', thinking: t })) });
  if (ans.content) blocks.push({ block: { type: 'text', text: '' }, deltas: ans.content.map((t) => ({ type: 'text_delta', text: t })) });
  for (const c of ans.toolCalls) {
    blocks.push({
      block: { type: 'tool_use', id: c.id, name: c.name, input: {} },
      deltas: c.pieces.map((p) => ({ type: 'input_json_delta', partial_json: p })),
      input: parseInput(c.arguments),
    });
  }

  if (body.stream !== true) {
    const content = blocks.map(({ block, deltas, input }) => {
      if (block.type === 'thinking') return { ...block, thinking: deltas.map((d) => d.thinking).join('') };
      if (block.type === 'text') return { ...block, text: deltas.map((d) => d.text).join('') };
      return { ...block, input };
    });
    return { json: { ...message, content, stop_reason: stopReason, stop_sequence: null, usage } };
  }
  const events = [
    sse({ type: 'message_start', message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }, 'message_start'),
    sse({ type: 'ping' }, 'ping'),
  ];
  for (const [index, { block, deltas }] of blocks.entries()) {
    events.push(sse({ type: 'content_block_start', index, content_block: block }, 'content_block_start'));
    for (const delta of deltas) events.push(sse({ type: 'content_block_delta', index, delta }, 'content_block_delta'));
    events.push(sse({ type: 'content_block_stop', index }, 'content_block_stop'));
  }
  events.push(sse({ type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage }, 'message_delta'));
  events.push(sse({ type: 'message_stop' }, 'message_stop'));
  return { events };
}
