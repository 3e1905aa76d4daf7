"""Fixtures for the interop suite: real `once-server` processes driven by the official
Python SDK (`onceonly-sdk==3.0.5`).

Everything is bounded: server start-up, key commands, every HTTP call (SDK timeout) and every
test (SIGALRM watchdog). Servers run in their own temp directory with a fresh database and are
killed at teardown, on SIGTERM, at interpreter exit and (Linux) when pytest itself dies.
"""

from __future__ import annotations

import sys
import atexit
import collections
import ctypes
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Deque, Dict, List, Optional

import pytest
from onceonly import OnceOnly

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "PySupport"))
from once_procs import (  # noqa: E402
    HTTP_TIMEOUT_S, REPO_ROOT, TEST_TIMEOUT_S, Server, _stop, create_key, new_database, run_cli, start_server,
)

# --------------------------------------------------------------------------------------------
# Servers and keys
# --------------------------------------------------------------------------------------------

@dataclass
class Env:
    server: Server
    key: str            # default plan (agency)
    free_key: str       # --plan free
    revoked_key: str    # created then revoked before serve


@pytest.fixture(scope="session")
def env():
    with tempfile.TemporaryDirectory(prefix="once-interop-") as tmp:
        db = new_database(Path(tmp))
        key = create_key(db, name="interop-main")
        free_key = create_key(db, plan="free", name="interop-free")
        revoked = create_key(db, plan="starter", name="interop-revoked")
        run_cli("keys", "revoke", "--database", str(db), revoked)
        srv = start_server(db, "--min-ttl", "1")
        try:
            yield Env(server=srv, key=key, free_key=free_key, revoked_key=revoked)
        finally:
            _stop(srv.proc)


@pytest.fixture(scope="session")
def env409():
    with tempfile.TemporaryDirectory(prefix="once-interop409-") as tmp:
        db = new_database(Path(tmp))
        key = create_key(db, name="interop-409")
        srv = start_server(db, "--duplicate-status-code", "409")  # default min TTL (10 s)
        try:
            yield Env(server=srv, key=key, free_key="", revoked_key="")
        finally:
            _stop(srv.proc)


# --------------------------------------------------------------------------------------------
# HTTP transcript (shown for failing tests) and SDK clients
# --------------------------------------------------------------------------------------------

class Transcript:
    def __init__(self) -> None:
        self.entries: Deque[str] = collections.deque(maxlen=60)

    def on_response(self, response) -> None:
        try:
            response.read()
            body = response.text
        except Exception as e:  # pragma: no cover
            body = f"<unreadable: {e}>"
        req = response.request
        try:
            req_body = req.content.decode("utf-8", "replace")
        except Exception:
            req_body = "<stream>"
        hdrs = {k: v for k, v in response.headers.items()
                if k.lower().startswith("x-") or k.lower() in ("retry-after", "content-type")}
        self.entries.append(
            f"{req.method} {req.url}  {req_body[:600]}\n"
            f"  -> {response.status_code} {hdrs}\n  {body[:1200]}"
        )

    def text(self) -> str:
        return "\n".join(self.entries)


_current: Dict[str, object] = {}


@pytest.fixture(autouse=True)
def transcript(request):
    t = Transcript()
    _current["transcript"] = t
    yield t
    _current.pop("transcript", None)


def attach(client: OnceOnly, t: Transcript) -> OnceOnly:
    # Observation only: a response hook on the SDK's own httpx client; requests are unchanged.
    client._sync_client.event_hooks["response"].append(t.on_response)
    return client


def make_client(base_url: str, api_key: str, t: Transcript, **kw) -> OnceOnly:
    kw.setdefault("timeout", HTTP_TIMEOUT_S)
    kw.setdefault("fail_open", False)  # never let a broken server pass as "locked"
    return attach(OnceOnly(api_key=api_key, base_url=base_url, **kw), t)


@pytest.fixture
def client(env, transcript):
    _current["server"] = env.server
    c = make_client(env.server.base_url, env.key, transcript)
    yield c
    c.close()


@pytest.fixture
def client409(env409, transcript):
    _current["server"] = env409.server
    c = make_client(env409.server.base_url, env409.key, transcript)
    yield c
    c.close()


@pytest.fixture
def client_factory(env, transcript):
    made: List[OnceOnly] = []

    def factory(api_key: str, **kw) -> OnceOnly:
        c = make_client(env.server.base_url, api_key, transcript, **kw)
        made.append(c)
        return c

    yield factory
    for c in made:
        c.close()


@pytest.fixture
def uniq():
    """A unique key/run prefix per test, so tests never see each other's state."""
    return f"interop-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------------------------
# Per-test watchdog and failure reporting
# --------------------------------------------------------------------------------------------

class WatchdogTimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def _watchdog():
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise WatchdogTimeout(f"test exceeded {TEST_TIMEOUT_S}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def pytest_configure(config):
    # `timeout` (the runner) sends SIGTERM: turn it into KeyboardInterrupt so fixtures tear down.
    def on_term(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, on_term)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        t = _current.get("transcript")
        if isinstance(t, Transcript) and t.entries:
            report.sections.append(("HTTP transcript (last exchanges)", t.text()))
        srv = _current.get("server")
        if isinstance(srv, Server):
            report.sections.append(("once-server log (tail)", srv.log_tail()))
