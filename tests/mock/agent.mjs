// What the model "says": scripted agent turns (POST /__mock/accounts/<id>/agent) and the default
// deterministic answers, as one dialect-neutral answer that chat.mjs and anthropic.mjs render.
//
// An answer: {reasoning: pieces|null, content: pieces|null, toolCalls: [{id, name, arguments, pieces}],
// finishReason, stopReason?, completionTokens}. Pieces are what a stream sends one event at a time.
import { chop, fragments, isObject, textOf } from './wire.mjs';

export const TOOL_ARGUMENTS = '{"city":"Paris"}';

/** Validates the turns of POST /__mock/accounts/<id>/agent; throws with a message on a bad one. */
export function parseTurns(turns) {
  if (!Array.isArray(turns)) throw new Error('turns must be an array');
  return turns.map((t, i) => {
    if (!isObject(t)) throw new Error(`turn ${i} must be an object`);
    const has = (k) => t[k] !== undefined && t[k] !== null;
    if (!has('tool_calls') && !has('content') && !has('reasoning')) throw new Error(`turn ${i} needs tool_calls, content or reasoning`);
    for (const k of ['content', 'reasoning', 'finish_reason', 'stop_reason']) {
      if (has(k) && typeof t[k] !== 'string') throw new Error(`turn ${i}: ${k} must be a string`);
    }
    if (has('tool_calls')) {
      if (!Array.isArray(t.tool_calls) || t.tool_calls.length === 0) throw new Error(`turn ${i}: tool_calls must be a non-empty array`);
      for (const [j, c] of t.tool_calls.entries()) {
        if (!isObject(c) || typeof c.name !== 'string' || !c.name) throw new Error(`turn ${i}: tool_calls[${j}] needs a name`);
        if (c.arguments !== undefined && typeof c.arguments !== 'string' && !isObject(c.arguments)) {
          throw new Error(`turn ${i}: tool_calls[${j}].arguments must be an object or a string`);
        }
        if (c.id !== undefined && typeof c.id !== 'string') throw new Error(`turn ${i}: tool_calls[${j}].id must be a string`);
      }
    }
    return t;
  });
}

const countTokens = (a) => Math.max(1,
  (a.reasoning?.length ?? 0) + (a.content?.length ?? 0) + a.toolCalls.reduce((n, c) => n + c.pieces.length, 0));

/** A tool call with its arguments as a string cut into 3 fragments (fewer for tiny strings). */
function toolCall(st, idPrefix, { id, name, arguments: args }) {
  const text = typeof args === 'string' ? args : JSON.stringify(args ?? {});
  return { id: id ?? `${idPrefix}${++st.toolCalls}`, name, arguments: text, pieces: fragments(text, 3) };
}

/** The answer of a scripted turn. idPrefix: 'call_' (OpenAI) or 'toolu_' (Anthropic). */
export function turnAnswer(st, turn, idPrefix) {
  const toolCalls = (turn.tool_calls ?? []).map((c) => toolCall(st, idPrefix, c));
  const answer = {
    reasoning: typeof turn.reasoning === 'string' ? chop(turn.reasoning) : null,
    content: typeof turn.content === 'string' ? chop(turn.content) : null,
    toolCalls,
    finishReason: turn.finish_reason ?? (toolCalls.length ? 'tool_calls' : 'stop'),
    stopReason: turn.stop_reason ?? null,
  };
  answer.completionTokens = countTokens(answer);
  return answer;
}

/**
 * The default chat answer (no turn left): one tool call when tools are offered and the last message
 * is the user's (arguments in 3 pieces); `mock_events: n` content pieces; "Tool said: …" after a
 * tool result; a continuation of a partial assistant message (Model Studio's partial mode, what
 * text completions become) echoes that message: "Echo: <its text>"; else "Echo: <last user text>".
 */
export function defaultChatAnswer(st, body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages.at(-1);
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const answer = { reasoning: null, content: null, toolCalls: [], finishReason: 'stop', stopReason: null };
  if (tools.length > 0 && last?.role === 'user') {
    answer.toolCalls = [{
      id: `call_${++st.toolCalls}`, name: tools[0]?.function?.name ?? 'unknown', arguments: TOOL_ARGUMENTS,
      pieces: [TOOL_ARGUMENTS.slice(0, 5), TOOL_ARGUMENTS.slice(5, 11), TOOL_ARGUMENTS.slice(11)],
    }];
    answer.finishReason = 'tool_calls';
  } else if (Number.isInteger(body.mock_events) && body.mock_events >= 0) {
    answer.content = Array.from({ length: Math.min(body.mock_events, 100_000) }, (_, i) => `w${i} `);
  } else if (last?.role === 'tool') {
    answer.content = chop(`Tool said: ${textOf(last.content)}`);
  } else if (last?.role === 'assistant' && last.partial === true) {
    answer.content = chop(`Echo: ${textOf(last.content)}`);
  } else {
    const lastUser = messages.findLast((msg) => msg?.role === 'user');
    answer.content = chop(`Echo: ${textOf(lastUser?.content)}`);
  }
  answer.completionTokens = countTokens(answer);
  return answer;
}

/** Text of an Anthropic content (string or blocks), tool_result blocks' content included. */
function anthropicText(content) {
  if (!Array.isArray(content)) return textOf(content);
  return content.map((b) => (b?.type === 'tool_result' ? anthropicText(b.content) : typeof b === 'string' ? b : b?.text))
    .filter((t) => typeof t === 'string').join(' ');
}

/** The default Anthropic answer, mirroring the chat one: tool_use, "Tool said: …" or "Echo: …". */
export function defaultAnthropicAnswer(st, body) {
  const messages = body.messages;
  const last = messages.at(-1);
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const answer = { reasoning: null, content: null, toolCalls: [], finishReason: 'stop', stopReason: null };
  const toolResult = Array.isArray(last?.content) ? last.content.find((b) => b?.type === 'tool_result') : null;
  if (last?.role === 'user' && toolResult) {
    answer.content = chop(`Tool said: ${anthropicText(toolResult.content)}`);
  } else if (tools.length > 0 && last?.role === 'user') {
    answer.toolCalls = [toolCall(st, 'toolu_', { name: tools[0]?.name ?? 'unknown', arguments: TOOL_ARGUMENTS })];
    answer.finishReason = 'tool_calls';
  } else {
    const lastUser = messages.findLast((msg) => msg?.role === 'user');
    answer.content = chop(`Echo: ${anthropicText(lastUser?.content)}`);
  }
  answer.completionTokens = countTokens(answer);
  return answer;
}
