"""The official `openai` Python package against the Worker."""
import json
import time
import urllib.request

import openai
import pytest


def test_non_streamed(client):
    r = client.chat.completions.create(
        model="qwen3-coder-plus", messages=[{"role": "user", "content": "hello from python"}]
    )
    assert r.choices[0].message.content == "Echo: hello from python"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens > 0


def test_streamed_with_usage(client):
    stream = client.chat.completions.create(
        model="qwen3-coder-flash",
        messages=[{"role": "user", "content": "stream this sentence"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, chunks = "", None, 0
    for chunk in stream:
        chunks += 1
        if chunk.usage:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    assert text == "Echo: stream this sentence"
    assert chunks > 5
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_stream_arrives_incrementally(client):
    t0 = time.monotonic()
    stream = client.chat.completions.create(
        model="qwen3-coder-plus",
        messages=[{"role": "user", "content": "x"}],
        stream=True,
        extra_body={"mock_events": 50},
    )
    arrivals = [time.monotonic() - t0 for c in stream if c.choices and c.choices[0].delta.content]
    assert len(arrivals) == 50
    assert arrivals[-1] > 0.8
    assert arrivals[0] < arrivals[-1] / 3


def test_tool_call_round_trip(client):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    messages = [{"role": "user", "content": "weather in Paris?"}]
    first = client.chat.completions.create(model="qwen3-coder-plus", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "rainy"})
    second = client.chat.completions.create(model="qwen3-coder-plus", messages=messages, tools=tools)
    assert second.choices[0].message.content == "Tool said: rainy"


def test_errors_are_typed(stack, client):
    from openai import OpenAI

    bad = OpenAI(base_url=stack["worker"] + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="qwen3-coder-plus", messages=[])
    assert "at least one" in str(e.value)


def test_models(client):
    ids = [m.id for m in client.models.list().data]
    assert "qwen3-coder-plus" in ids


def test_parameters_reach_upstream(stack, client):
    urllib.request.urlopen(urllib.request.Request(stack["mock"] + "/__mock/requests", method="DELETE"))
    client.chat.completions.create(
        model="qwen3-coder-plus",
        messages=[{"role": "user", "content": "x"}],
        temperature=0.3,
        seed=5,
        stop=["\n\n"],
        response_format={"type": "json_object"},
        extra_body={"enable_thinking": True},
    )
    recorded = json.load(urllib.request.urlopen(stack["mock"] + "/__mock/requests?path=/v1/chat/completions"))
    body = recorded[-1]["body"]
    assert body["temperature"] == 0.3 and body["seed"] == 5 and body["stop"] == ["\n\n"]
    assert body["response_format"] == {"type": "json_object"} and body["enable_thinking"] is True
