"""The optional chat-endpoint generator, against a small local HTTP server that speaks the OpenAI chat protocol
(an external service, so a stand-in is fine): the request carries the offline facts, the answer becomes the draft,
nothing is saved before Accept, and a failing endpoint is an error in the dialog, not a 500."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from registry.models import RegisteredModel
from tests.explorer.conftest import MODEL

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat_server():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        status = 200

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            if self.server.fail:
                self.send_response(500)
                self.end_headers()
                return
            answer = {"choices": [{"message": {"role": "assistant", "content": "A **drafted** iris classifier."}}]}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.fail = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.seen = seen
    yield server
    server.shutdown()


@pytest.fixture
def chat_settings(settings, monkeypatch, chat_server):
    settings.DESCRIPTION_GENERATOR = "explorer.llm_generator.chat_description"
    monkeypatch.setenv("DESCRIPTION_LLM_URL", f"http://127.0.0.1:{chat_server.server_port}/v1")
    monkeypatch.setenv("DESCRIPTION_LLM_MODEL", "test-model")
    monkeypatch.setenv("DESCRIPTION_LLM_API_KEY", "secret-key")
    return chat_server


def test_generate_asks_the_chat_endpoint_with_the_models_facts_and_saves_nothing(client_for, owner, iris,
                                                                                 chat_settings):
    before = RegisteredModel.objects.get(name="iris").description
    response = client_for(owner).post(f"/models/{MODEL}/description/", {"op": "generate", "description": before})
    assert response.status_code == 200
    assert b"drafted" in response.content
    request = chat_settings.seen[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer secret-key"
    assert request["body"]["model"] == "test-model"
    # The offline generator's facts (issue 11: no names, counts or aliases that would go stale in the saved text).
    assert "sepal_length" in request["body"]["messages"][1]["content"]
    assert RegisteredModel.objects.get(name="iris").description == before


def test_a_failing_endpoint_is_an_error_in_the_dialog(client_for, owner, iris, chat_settings):
    chat_settings.fail = True
    response = client_for(owner).post(f"/models/{MODEL}/description/", {"op": "generate", "description": ""})
    assert response.status_code in (200, 400)
    assert b"generator failed" in response.content
