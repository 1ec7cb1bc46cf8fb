"""The official `anthropic` Python package against the Worker, on both paths (native and
translated): create, the stream helper, a tool round trip, count_tokens, errors."""
import anthropic
import pytest

WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_create(claude):
    m = claude.messages.create(
        model="claude-opus-5-5", max_tokens=100, messages=[{"role": "user", "content": "hello from python"}]
    )
    assert m.type == "message" and m.role == "assistant"
    assert m.model == "claude-opus-5-5"
    assert m.content[0].type == "text" and m.content[0].text == "Echo: hello from python"
    assert m.stop_reason == "end_turn"
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0


def test_stream_helper(claude):
    with claude.messages.stream(
        model="qwen3-coder-plus", max_tokens=100, messages=[{"role": "user", "content": "stream this"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: stream this"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_tool_round_trip(claude):
    messages = [{"role": "user", "content": "weather in Paris?"}]
    with claude.messages.stream(model="qwen3-coder-plus", max_tokens=100, tools=[WEATHER], messages=messages) as s:
        first = s.get_final_message()
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"city": "Paris"}
    messages += [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21C"}]},
    ]
    second = claude.messages.create(model="qwen3-coder-plus", max_tokens=100, tools=[WEATHER], messages=messages)
    assert "Tool said: sunny, 21C" in second.content[0].text


def test_count_tokens(claude):
    bare = claude.messages.count_tokens(model="qwen3-coder-plus", messages=[{"role": "user", "content": "hello"}])
    more = claude.messages.count_tokens(
        model="qwen3-coder-plus", tools=[WEATHER], messages=[{"role": "user", "content": "hello"}]
    )
    assert 0 < bare.input_tokens < more.input_tokens


def test_errors(claude, stack):
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(model="qwen3-coder-plus", max_tokens=0, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "invalid_request_error"
    bad = anthropic.Anthropic(base_url=stack["worker"], api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="qwen3-coder-plus", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "x"}])
