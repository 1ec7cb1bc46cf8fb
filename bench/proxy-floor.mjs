// The smallest pass-through Worker: what any gateway on this runtime pays for a subrequest.
// The benchmark runs it beside qwen-worker, against the same mock, as a second reference floor.
export default {
  async fetch(req, env) {
    const up = await fetch(env.UPSTREAM + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: req.headers.get('x-upstream-auth') },
      body: await req.text(),
    });
    return new Response(up.body, { status: up.status, headers: { 'content-type': up.headers.get('content-type') } });
  },
};
