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
    from openai import OpenAI

    return OpenAI(base_url=stack["worker"] + "/v1", api_key=CLIENT_KEY, max_retries=0)
