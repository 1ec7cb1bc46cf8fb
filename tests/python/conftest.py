"""Starts the Worker in workerd (Miniflare) in front of the mock upstream for the Python tests."""
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENT_KEY = "sk-test-client"


@pytest.fixture(scope="session")
def stack():
    proc = subprocess.Popen(
        ["node", os.path.join(ROOT, "tests", "serve-stack.mjs")],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("the test stack did not start")
    urls = json.loads(line)
    yield urls
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def client(stack):
    """OpenAI's client, pinned to the OAuth account (the mock paths the chat tests look at)."""
    from openai import OpenAI

    return OpenAI(
        base_url=stack["worker"] + "/v1",
        api_key=CLIENT_KEY,
        max_retries=0,
        default_headers={"x-qwen-account": "py1"},
    )


@pytest.fixture(scope="session")
def dashscope(stack):
    """OpenAI's client pinned to the DashScope key (embeddings, native completions)."""
    from openai import OpenAI

    return OpenAI(
        base_url=stack["worker"] + "/v1",
        api_key=CLIENT_KEY,
        max_retries=0,
        default_headers={"x-qwen-account": "py-ds"},
    )


@pytest.fixture(scope="session", params=["py-ds", "py1"], ids=["native", "translated"])
def claude(stack, request):
    """Anthropic's client, on the native path (py-ds) and on the translated one (py1)."""
    from anthropic import Anthropic

    return Anthropic(
        base_url=stack["worker"],
        api_key=CLIENT_KEY,
        max_retries=0,
        default_headers={"x-qwen-account": request.param},
    )
