"""The OpenAI Python SDK against a running gateway: one non-streamed and one streamed answer.

    python tests/python/sdk_smoke.py BASE_URL API_KEY
Prints one JSON line with what came back; exits non-zero on any error.
"""
import json
import sys

from openai import OpenAI

base, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base.rstrip("/") + "/v1", api_key=key, max_retries=0)
plain = client.chat.completions.create(
    model="qwen3-coder-plus", messages=[{"role": "user", "content": "non-streamed via wrangler dev"}]
)
streamed = ""
chunks = 0
for chunk in client.chat.completions.create(
    model="qwen3-coder-plus",
    messages=[{"role": "user", "content": "streamed via wrangler dev"}],
    stream=True,
):
    chunks += 1
    if chunk.choices and chunk.choices[0].delta.content:
        streamed += chunk.choices[0].delta.content
print(json.dumps({"plain": plain.choices[0].message.content, "streamed": streamed, "chunks": chunks}))
