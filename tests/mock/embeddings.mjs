// POST …/embeddings: OpenAI's shape, deterministic vectors from a hash of each input.
import { createHash } from 'node:crypto';
import { apiError, rand, tokensOf } from './wire.mjs';

export const DEFAULT_DIMENSIONS = 1024;

/** The unit vector of `text` in `dims` dimensions: SHA-256 blocks of (text, block number) as floats. */
export function embeddingOf(text, dims = DEFAULT_DIMENSIONS) {
  const v = new Array(dims);
  for (let block = 0; block * 8 < dims; block++) {
    const h = createHash('sha256').update(text).update(`\u0000${block}`).digest();
    for (let j = 0; j < 8 && block * 8 + j < dims; j++) v[block * 8 + j] = h.readUInt32LE(j * 4) / 0x7fffffff - 1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

const invalid = (message) => ({ status: 400, json: apiError(message, 'invalid_request_error', 'invalid_parameter_error') });

export function embeddingsPlan(rt, ctx) {
  const { body } = ctx;
  const inputs = typeof body.input === 'string' ? [body.input] : body.input;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((s) => typeof s === 'string' && s.length > 0)) {
    return invalid('input must be a non-empty string or a non-empty array of non-empty strings');
  }
  const dims = body.dimensions ?? DEFAULT_DIMENSIONS;
  if (!Number.isInteger(dims) || dims < 1 || dims > 4096) return invalid('dimensions must be an integer in [1, 4096]');
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') return invalid("encoding_format must be 'float' or 'base64'");
  const data = inputs.map((text, index) => {
    const vec = embeddingOf(text, dims);
    const embedding = format === 'base64' ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec;
    return { object: 'embedding', index, embedding };
  });
  const tokens = inputs.reduce((n, s) => n + tokensOf(s), 0);
  return {
    json: { object: 'list', data, model: body.model ?? 'text-embedding-v4', usage: { prompt_tokens: tokens, total_tokens: tokens }, id: `emb-${rand(9)}` },
  };
}
