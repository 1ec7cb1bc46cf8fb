// What a model call does once authenticated: the behaviour taken from the account's script. The
// normal answer ("ok") comes from the endpoint's plan (chat.mjs, anthropic.mjs, ...); this module
// holds the legacy behaviours, the error classes (fixtures) and the fault modes for hardening tests.
import { ERROR_KINDS, INVALID_TOKEN, QUOTA, anthropicType, sendError, sendFixture } from './errors.mjs';
import { apiError, hex, send, sendRaw, sse, writeAll, writeEvents, writeFill, writeStamped } from './wire.mjs';

export const LEGACY_CHAT_KINDS = new Set([
  'ok', 'quota', 'quota403', 'throttle', 'auth', 'bad_request', 'context_length', 'model_not_found',
  'server_error', 'bad_gateway', 'unavailable', 'timeout', 'drop', 'stall', 'midstream_quota',
]);
export const FAULT_KINDS = new Set([
  'head_stall', 'body_stall', 'stream_stall', 'huge_event', 'huge_body', 'odd_status', 'echo_key',
  'delayed_auth', 'first_event_error', 'html_200',
]);
/** Every behaviour a model call (chat, messages, completions, embeddings, models) accepts. */
export const CHAT_KINDS = new Set([...LEGACY_CHAT_KINDS, ...ERROR_KINDS, ...FAULT_KINDS]);
/** delay_ms when the behaviour does not give one. */
export const DEFAULT_DELAY_MS = { delayed_auth: 1000 };

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
const MAX_TIMER_MS = 2 ** 31 - 1;
const ANTHROPIC_ERROR_TYPES = new Set(['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error',
  'request_too_large', 'rate_limit_error', 'api_error', 'overloaded_error']);

/**
 * Waits `ms` (forever when not given) or until the client goes away; rejects when the mock closes,
 * so close() cancels every stall.
 */
export async function hold(rt, res, ms) {
  if (res.destroyed) return;
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.once('close', onClose);
  try {
    await rt.sleep(Math.min(ms ?? MAX_TIMER_MS, MAX_TIMER_MS), AbortSignal.any([rt.stopping.signal, gone.signal]));
  } catch (err) {
    if (rt.stopping.signal.aborted) throw err;
  } finally {
    res.off('close', onClose);
  }
}

/** An in-stream error event in the route's dialect. */
export function errorEvent(dialect, type, code, message) {
  if (dialect !== 'anthropic') return sse({ error: { message, type, code } });
  let kind = type;
  if (!ANTHROPIC_ERROR_TYPES.has(type)) kind = /quota|limit|throttl/i.test(type) ? 'rate_limit_error' : 'api_error';
  return sse({ type: 'error', error: { type: kind, message } }, 'error');
}

/**
 * Writes a plan: {json, status?, headers?} as JSON, or {events} as an SSE stream; either carries
 * an `x-request-id` of the mock's own (`mock-` and 16 hex digits), as a provider's answers do.
 */
export async function writePlan(rt, ctx, plan) {
  const id = { 'x-request-id': `mock-${hex(8)}` };
  if (!plan.events) return send(ctx.res, plan.status ?? 200, plan.json, { ...id, ...plan.headers });
  ctx.res.writeHead(200, { ...SSE_HEADERS, ...id });
  if (ctx.body?.mock_stamp === true) await writeStamped(ctx.res, plan.events, rt.sleep, rt.config.chunk_delay_ms);
  else await writeEvents(ctx.res, plan.events, rt.sleep, rt.config.chunk_delay_ms);
  ctx.res.end();
}

/** Runs behaviour `b` for an authenticated model call. */
export async function perform(rt, ctx, b) {
  const { res } = ctx;
  switch (b.kind) {
    case 'ok': return writePlan(rt, ctx, ctx.plan());
    case 'stall': await rt.sleep(b.ms ?? 30_000); return writePlan(rt, ctx, ctx.plan());
    case 'midstream_quota': {
      const plan = ctx.body?.stream === true ? ctx.plan() : null;
      if (!plan?.events) return sendError(ctx, 429, QUOTA);
      const { message, type, code } = QUOTA.error;
      return writePlan(rt, ctx, { events: [...plan.events.slice(0, 3), errorEvent(ctx.dialect, type, code, message)] });
    }
    case 'drop': return ctx.req.socket.destroy();
    case 'quota': return sendError(ctx, 429, QUOTA);
    case 'quota403': return sendError(ctx, 403, QUOTA);
    case 'throttle':
      return sendError(ctx, 429, apiError('Requests throttling triggered.', 'rate_limit_error', 'rate_limit_exceeded'),
        { 'retry-after': String(b.retry_after ?? 2) });
    case 'auth': return sendError(ctx, 401, INVALID_TOKEN);
    case 'bad_request':
      return sendError(ctx, 400, apiError(`${b.field ?? 'messages'} is invalid`, 'invalid_request_error', 'invalid_parameter_error'));
    case 'context_length':
      return sendError(ctx, 400, apiError('Range of input length should be [1, 129024]', 'invalid_request_error', 'invalid_parameter_error'));
    case 'model_not_found':
      return sendError(ctx, 404, apiError(`The model \`${ctx.body?.model}\` does not exist or you do not have access to it.`,
        'invalid_request_error', 'model_not_found'));
    case 'server_error': return sendError(ctx, 500, apiError('Internal server error', 'server_error', 'internal_error'));
    case 'bad_gateway':
      res.writeHead(502, { 'content-type': 'text/html' });
      return res.end('Bad Gateway');
    case 'unavailable': return sendError(ctx, 503, apiError('Service Unavailable', 'server_error', 'service_unavailable'));
    case 'timeout': return sendError(ctx, 504, apiError('stream timeout', 'server_error', 'timeout'));
    default:
      if (ERROR_KINDS.has(b.kind)) return sendFixture(ctx, b.kind, b);
      return fault(rt, ctx, b);
  }
}

/** The body bytes of a failing answer of `status`, in the route's dialect. */
function errorBytes(ctx, status, message = 'Internal server error') {
  if (ctx.dialect === 'anthropic') return JSON.stringify({ type: 'error', error: { type: anthropicType(status), message } });
  return JSON.stringify(apiError(message, status >= 500 ? 'server_error' : 'invalid_request_error', status >= 500 ? 'internal_error' : 'invalid_request'));
}

/** The normal answer as bytes plus its content type (for partial writes). */
function planBytes(ctx) {
  const plan = ctx.plan();
  if (plan.events) return { type: 'text/event-stream', bytes: Buffer.from(plan.events.join('')) };
  return { type: 'application/json', bytes: Buffer.from(JSON.stringify(plan.json)) };
}

async function bodyStall(rt, ctx, b) {
  const status = b.status ?? 200;
  const { type, bytes } = status === 200 ? planBytes(ctx) : { type: 'application/json', bytes: Buffer.from(errorBytes(ctx, status)) };
  const headers = { 'content-type': type };
  if (type !== 'text/event-stream') headers['content-length'] = bytes.length;
  ctx.res.writeHead(status, headers);
  const cut = Math.max(1, Math.min(bytes.length - 1, b.bytes ?? bytes.length >> 1));
  ctx.res.write(bytes.subarray(0, cut));
  await hold(rt, ctx.res, b.ms);
  ctx.res.destroy();
}

async function fault(rt, ctx, b) {
  const { res } = ctx;
  switch (b.kind) {
    case 'head_stall': {
      const sse = ctx.body?.stream === true;
      res.writeHead(b.status ?? 200, { 'content-type': sse ? 'text/event-stream' : 'application/json' });
      res.flushHeaders();
      await hold(rt, res, b.ms);
      return res.destroy();
    }
    case 'body_stall': return bodyStall(rt, ctx, b);
    case 'stream_stall': {
      const plan = ctx.plan();
      if (!plan.events) return bodyStall(rt, ctx, { ...b, status: 200 });
      res.writeHead(200, SSE_HEADERS);
      await writeEvents(res, plan.events.slice(0, b.after ?? 3), rt.sleep, rt.config.chunk_delay_ms);
      await hold(rt, res, b.ms);
      return res.destroy();
    }
    case 'huge_event': {
      res.writeHead(200, SSE_HEADERS);
      const head = ctx.dialect === 'anthropic'
        ? 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'
        : 'data: {"id":"chatcmpl-huge","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"';
      if ((await writeAll(res, head)) && (await writeFill(res, b.mib ?? 1)) && b.then === 'stall') await hold(rt, res, b.ms);
      return res.end();
    }
    case 'huge_body': {
      const status = b.status ?? 200;
      let head;
      let tail;
      if (status === 200 && ctx.dialect === 'anthropic') {
        head = `{"id":"msg_huge","type":"message","role":"assistant","model":${JSON.stringify(ctx.body?.model ?? 'qwen3-coder-plus')},"content":[{"type":"text","text":"`;
        tail = '"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}';
      } else if (status === 200) {
        head = `{"id":"chatcmpl-huge","object":"chat.completion","created":0,"model":${JSON.stringify(ctx.body?.model ?? 'qwen3-coder-plus')},"choices":[{"index":0,"message":{"role":"assistant","content":"`;
        tail = '"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
      } else {
        [head, tail] = errorBytes(ctx, status, '\u0000').split('\\u0000');
      }
      const fill = Math.round((b.mib ?? 1) * 1024 * 1024);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(head) + fill + Buffer.byteLength(tail) });
      if ((await writeAll(res, head)) && (await writeFill(res, b.mib ?? 1))) await writeAll(res, tail);
      return res.end();
    }
    case 'odd_status': {
      const status = b.status ?? 600;
      if (!Number.isInteger(status) || status < 100 || status > 999) return send(res, 400, { error: 'odd_status: status must be an integer in [100, 999]' });
      let body = b.body;
      if (body === undefined) body = JSON.stringify(apiError(`odd status ${status}`, 'server_error', 'odd_status'));
      else if (body !== null && typeof body !== 'string') body = JSON.stringify(body);
      const type = typeof b.body === 'string' ? 'text/plain' : 'application/json';
      return sendRaw(res, status, body === null ? {} : { 'content-type': type }, body);
    }
    case 'echo_key': {
      const status = b.status ?? 401;
      const message = `Incorrect API key provided: ${ctx.token}. Check the key and the base URL.`;
      return sendError(ctx, status, apiError(message, 'invalid_request_error', status === 401 ? 'invalid_api_key' : 'invalid_parameter_error'));
    }
    case 'delayed_auth': return sendError(ctx, 401, INVALID_TOKEN);
    case 'first_event_error': {
      const type = b.type ?? 'insufficient_quota';
      const message = b.message ?? (type === 'insufficient_quota' ? QUOTA.error.message : `first event error: ${type}`);
      res.writeHead(200, SSE_HEADERS);
      return res.end(errorEvent(ctx.dialect, type, b.code ?? type, message));
    }
    case 'html_200':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end('<!DOCTYPE html>\n<html><head><title>Service</title></head><body><h1>Welcome</h1><p>Please sign in.</p></body></html>\n');
    default:
      throw new Error(`behaviour ${b.kind} has no implementation`);
  }
}
