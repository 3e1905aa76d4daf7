"""The official Python SDK's tool registry calls (`gov.create_tool` and friends), `ai.run_tool`
and `ai.run_and_wait` against a real once-server that calls a real tool backend on 127.0.0.1
(a small http.server here that checks each call's HMAC-SHA256 signature)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "PySupport"))
from once_procs import _stop, create_key, new_database, start_server  # noqa: E402

from conftest import make_client  # noqa: E402

SECRET = "py-interop-secret-77"


class Backend:
    def __init__(self) -> None:
        self.calls = []
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                want = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(want, self.headers.get("X-OnceOnly-Signature", ""))
                body = json.loads(raw or b"null")
                with backend.lock:
                    backend.calls.append({"path": self.path, "valid": valid, "body": body,
                                          "alg": self.headers.get("X-OnceOnly-Signature-Alg")})
                status, reply = (200, {"echo": body.get("args")}) if valid else (401, {"error": "bad signature"})
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tooled():
    backend = Backend()
    with tempfile.TemporaryDirectory(prefix="once-interop-tools-") as tmp:
        db = new_database(Path(tmp))
        key = create_key(db, name="interop-tools")
        key_file = Path(tmp) / "tool-secret.key"
        key_file.write_text(secrets.token_hex(32) + "\n")
        key_file.chmod(0o600)
        srv = start_server(db, "--min-ttl", "1", "--allow-private-tool-urls", "--secret-key-file", str(key_file))
        try:
            yield srv, key, backend
        finally:
            _stop(srv.proc)
            backend.close()


@pytest.fixture
def tclient(tooled, transcript):
    srv, key, backend = tooled
    c = make_client(srv.base_url, key, transcript)
    yield c, backend
    c.close()


def test_tool_registry_round_trip_without_the_secret(tclient, uniq):
    c, backend = tclient
    name = f"{uniq}.send_email"
    created = c.gov.create_tool({"name": name, "url": backend.url + "/send",
                                 "auth": {"type": "hmac_sha256", "secret": SECRET}, "description": "mail"})
    assert created["secret_mask"] == "***-77"
    assert created["has_secret"] is True
    assert SECRET not in json.dumps(created)
    assert name in [t["name"] for t in c.gov.list_tools()]
    assert c.gov.get_tool(name)["description"] == "mail"
    assert c.gov.toggle_tool(name, enabled=False)["enabled"] is False
    assert c.gov.toggle_tool(name, enabled=True)["enabled"] is True
    assert c.gov.delete_tool(name)["deleted"] == name
    assert name not in [t["name"] for t in c.gov.list_tools()]


def test_run_tool_signed_then_dedup_then_blocked(tclient, uniq):
    c, backend = tclient
    name = f"{uniq}.notify"
    agent = f"{uniq}-bot"
    c.gov.create_tool({"name": name, "url": backend.url + "/notify", "auth": {"type": "hmac_sha256", "secret": SECRET}})
    before = len(backend.calls)
    r = c.ai.run_tool(agent_id=agent, tool=name, args={"to": "a@b.c"}, spend_usd=0.1, run_id=f"{uniq}-run")
    assert (r.ok, r.allowed, r.decision, r.policy_reason) == (True, True, "executed", "ok")
    assert r.result == {"echo": {"to": "a@b.c"}}
    call = backend.calls[-1]
    assert call["valid"] and call["alg"] == "hmac_sha256"
    assert call["body"]["run_id"] == f"{uniq}-run" and call["body"]["agent_id"] == agent
    again = c.ai.run_tool(agent_id=agent, tool=name, args={"to": "a@b.c"})
    assert (again.decision, again.policy_reason, again.result) == ("dedup", "tool_idempotency", r.result)
    assert len(backend.calls) == before + 1
    c.gov.upsert_policy({"blocked_tools": [name]}, agent_id=agent)
    blocked = c.ai.run_tool(agent_id=agent, tool=name, args={"to": "x"})
    assert (blocked.ok, blocked.allowed, blocked.policy_reason) == (False, False, "tool_explicitly_blocked")
    logs = c.gov.agent_logs(agent)
    assert [x.decision for x in logs] == ["blocked", "dedup", "executed"]


def test_run_and_wait_keyed_run_and_tool_mode(tclient, uniq):
    c, backend = tclient
    name = f"{uniq}.ticket"
    agent = f"{uniq}-bot"
    c.gov.create_tool({"name": name, "url": backend.url + "/ticket", "auth": {"type": "hmac_sha256", "secret": SECRET}})
    res = c.ai.run_and_wait(key=f"{uniq}-k", ttl=60,
                            metadata={"agent_id": agent, "actions": [{"tool": name, "args": {"n": 1}}]},
                            run_id=f"{uniq}-run", timeout=30, poll_min=0.05, poll_max=0.2)
    assert res.status == "completed"
    assert res.result["actions"][0]["decision"] == "executed"
    assert res.result["actions"][0]["result"] == {"echo": {"n": 1}}
    tool = c.ai.run_and_wait(agent_id=agent, tool=name, args={"n": 1})
    assert tool.decision == "dedup"
