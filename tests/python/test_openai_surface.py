"""The `openai` Python package's Responses API, embeddings and completions against the Worker."""
import json

import openai
import pytest

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_responses_create(client):
    r = client.responses.create(model="gpt-5", instructions="Be brief.", input="hello from python")
    assert r.status == "completed" and r.model == "gpt-5"
    assert r.output_text == "Echo: hello from python"
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0


def test_responses_stream(client):
    with client.responses.stream(model="qwen3-coder-plus", input="stream this") as stream:
        types = [e.type for e in stream]
        final = stream.get_final_response()
    assert final.output_text == "Echo: stream this"
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert "response.output_text.delta" in types


def test_responses_tool_round_trip(client):
    items = [{"role": "user", "content": "weather in Paris?"}]
    first = client.responses.create(model="qwen3-coder-plus", input=items, tools=[WEATHER])
    call = next(o for o in first.output if o.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    items += [call.model_dump(exclude_none=True), {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]
    second = client.responses.create(model="qwen3-coder-plus", input=items, tools=[WEATHER])
    assert "Tool said: sunny" in second.output_text


def test_responses_structured_output(client):
    r = client.responses.create(
        model="qwen3-coder-plus",
        input="x",
        text={"format": {"type": "json_object"}},
    )
    assert r.status == "completed"


def test_responses_stored_state_is_refused(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="qwen3-coder-plus", input="x", previous_response_id="resp_123")
    assert "previous_response_id" in str(e.value)


def test_embeddings(dashscope):
    e = dashscope.embeddings.create(model="text-embedding-v4", input=["one", "two"])
    assert len(e.data) == 2 and len(e.data[0].embedding) > 0
    assert e.usage.total_tokens > 0


@pytest.mark.parametrize("pinned", ["py-ds", "py1"], ids=["native", "translated"])
def test_completions(stack, pinned):
    c = openai.OpenAI(
        base_url=stack["worker"] + "/v1", api_key="sk-test-client", max_retries=0,
        default_headers={"x-qwen-account": pinned},
    )
    whole = c.completions.create(model="qwen3-coder-plus", prompt="def add(a, b):", max_tokens=20)
    assert whole.object == "text_completion" and whole.choices[0].text
    streamed = "".join(
        ch.choices[0].text for ch in c.completions.create(model="qwen3-coder-plus", prompt="def add(a, b):", stream=True)
        if ch.choices
    )
    assert streamed == whole.choices[0].text
