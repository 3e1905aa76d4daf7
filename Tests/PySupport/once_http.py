"""HTTP calls to a real `once-server` for the Python suites, optionally recorded into a history.

One request per connection (a fresh TCP connection each time, as separate hosts would make),
always with a timeout, always to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, List, Optional


def call(base_url: str, method: str, path: str, key: Optional[str], body: Any = None,
         timeout: float = 15.0, raw: Optional[bytes] = None, headers: Optional[dict] = None):
    """One request on its own connection: (status, json body or None, headers).

    `raw` sends those exact bytes instead of `json.dumps(body)`."""
    host, port = base_url.removeprefix("http://").split(":")
    assert host == "127.0.0.1", f"tests only talk to loopback, not {host}"
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {}
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        if payload is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn.request(method, path, body=payload, headers=hdrs)
        resp = conn.getresponse()
        data_raw = resp.read()
        try:
            data = json.loads(data_raw) if data_raw else None
        except ValueError:
            data = None
        return resp.status, data, dict(resp.getheaders())
    finally:
        conn.close()


@dataclass
class Op:
    """One request as a client saw it: monotonic invoke and return times (`ret` is None when no
    answer came back, so the request may or may not have taken effect)."""

    client: int
    key: str
    kind: str  # acquire, extend, complete, fail, cancel, status, result, check_lock
    args: dict
    invoke: float
    ret: Optional[float] = None
    status: Optional[int] = None
    body: Any = None

    @property
    def answered(self) -> bool:
        return self.ret is not None and self.status is not None and self.status < 500


PATHS = {
    "acquire": ("POST", "/v1/ai/lease"),
    "extend": ("POST", "/v1/ai/extend"),
    "complete": ("POST", "/v1/ai/complete"),
    "fail": ("POST", "/v1/ai/fail"),
    "cancel": ("POST", "/v1/ai/cancel"),
    "check_lock": ("POST", "/v1/check-lock"),
    "status": ("GET", "/v1/ai/status"),
    "result": ("GET", "/v1/ai/result"),
}


@dataclass
class History:
    """Every request and answer of a test, with start and end times, for the checkers."""

    ops: List[Op] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, base_url: str, api_key: str, client: int, kind: str, key: str, timeout: float = 15.0,
            **args) -> Op:
        method, path = PATHS[kind]
        body = None
        if method == "GET":
            from urllib.parse import quote
            path = f"{path}?key={quote(key, safe='')}"
        else:
            body = {"key": key, **args}
        op = Op(client=client, key=key, kind=kind, args=args, invoke=time.monotonic())
        with self.lock:
            self.ops.append(op)
        try:
            status, data, _ = call(base_url, method, path, api_key, body, timeout=timeout)
        except OSError:
            return op  # no answer: ambiguous
        if status >= 500:
            op.status = status  # a refusal (503) is still ambiguous for a write; checkers treat it so
            op.body = data
            return op
        op.ret = time.monotonic()
        op.status = status
        op.body = data
        return op

    def snapshot(self) -> List[Op]:
        with self.lock:
            return list(self.ops)
