// OpenAI chat completions: the normal answer of POST …/chat/completions, whole or streamed.
import { defaultChatAnswer, turnAnswer } from './agent.mjs';
import { promptCache } from './state.mjs';
import { rand, sse } from './wire.mjs';

/** Deterministic usage; cached_tokens from the account's prompt cache imitation. */
function chatUsage(acc, messages, answer) {
  const serialized = JSON.stringify(messages);
  const promptTokens = Math.max(1, Math.ceil(serialized.length / 4));
  const completionTokens = answer.completionTokens;
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const cached = acc ? promptCache(acc, 'chat', serialized, promptTokens) : 0;
  if (cached > 0) usage.prompt_tokens_details = { cached_tokens: cached };
  if (answer.reasoning) usage.completion_tokens_details = { reasoning_tokens: answer.reasoning.length };
  return usage;
}

/**
 * The plan of a normal chat answer: {json} or, for `stream: true`, {events} (SSE strings ending
 * with [DONE]; a usage chunk before it when stream_options.include_usage is true). Consumes the
 * account's next agent turn when there is one.
 */
export function chatPlan(rt, ctx) {
  const { body, acc } = ctx;
  const turn = acc?.agent.shift();
  const ans = turn ? turnAnswer(rt.st, turn, 'call_') : defaultChatAnswer(rt.st, body);
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const usage = chatUsage(acc, messages, ans);
  const id = `chatcmpl-${rand(9)}`;
  const created = Math.floor(Date.now() / 1000);
  const model = body.model ?? 'qwen3-coder-plus';
  const toolCalls = ans.toolCalls.map(({ id: callId, name, arguments: args }) => ({ id: callId, type: 'function', function: { name, arguments: args } }));

  if (body.stream !== true) {
    const message = { role: 'assistant', content: ans.content === null ? null : ans.content.join('') };
    if (ans.reasoning) message.reasoning_content = ans.reasoning.join('');
    if (toolCalls.length) message.tool_calls = toolCalls;
    return {
      json: {
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message, finish_reason: ans.finishReason }],
        usage,
      },
    };
  }
  const base = { id, object: 'chat.completion.chunk', created, model };
  const chunk = (delta, finishReason = null) => ({ ...base, choices: [{ index: 0, delta, finish_reason: finishReason }] });
  const chunks = [chunk({ role: 'assistant', content: '' })];
  for (const piece of ans.reasoning ?? []) chunks.push(chunk({ reasoning_content: piece }));
  for (const piece of ans.content ?? []) chunks.push(chunk({ content: piece }));
  for (const [index, call] of ans.toolCalls.entries()) {
    chunks.push(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }));
    for (const piece of call.pieces) chunks.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
  }
  chunks.push(chunk({}, ans.finishReason));
  if (body.stream_options?.include_usage === true) chunks.push({ ...base, choices: [], usage });
  return { events: [...chunks.map((c) => sse(c)), 'data: [DONE]\n\n'] };
}
