"""F. Input robustness: a corpus of bad requests on every endpoint, then a generated fuzz of
bodies, query strings, headers and paths. Never a 5xx or a crash; a rejected request writes
nothing (the database is compared before and after); errors are JSON naming the field."""

from __future__ import annotations

import atexit
import json
import os
import random
import socket
import subprocess
import sqlite3
import threading
import time
from pathlib import Path

from conftest import Deployment
from once_http import call

CORPUS = Path(__file__).resolve().parent / "corpus"
FUZZ_SECONDS = float(os.environ.get("RELIABILITY_FUZZ_SECONDS", "12"))

BODIES = {  # a valid body per POST endpoint; the fuzz mutates these
    "/v1/check-lock": {"key": "k", "ttl": 60, "metadata": {"a": 1}},
    "/v1/ai/lease": {"key": "k", "ttl": 60, "metadata": {"agent_id": "a", "run_id": "r"}},
    "/v1/ai/extend": {"key": "k", "lease_id": "lease_x", "ttl": 60},
    "/v1/ai/complete": {"key": "k", "lease_id": "lease_x", "result": {"ok": True}, "result_hash": "h"},
    "/v1/ai/fail": {"key": "k", "lease_id": "lease_x", "error_code": "e"},
    "/v1/ai/cancel": {"key": "k", "lease_id": "lease_x", "reason": "r"},
    "/v1/events": {"run_id": "run_1", "type": "note", "ts": 1700000000, "duration_ms": 5, "data": {"x": 1}},
    "/v1/me/notifications": {"email_notifications_enabled": True},
    "/v1/policies/bot": {"agent_id": "bot", "max_actions_per_hour": 10, "max_spend_usd_per_day": 5,
                         "allowed_tools": [], "blocked_tools": []},
    "/v1/policies/bot/from-template": {"agent_id": "bot", "template": "moderate", "overrides": {}},
    "/v1/agents/bot/disable": {"reason": "r"},
    "/v1/agents/bot/enable": {},
}
QUERIES = {  # GET endpoints and their valid query parameters
    "/v1/ai/status": {"key": "k"},
    "/v1/ai/result": {"key": "k"},
    "/v1/events": {"limit": "50", "offset": "0"},
    "/v1/runs": {"limit": "50", "offset": "0", "q": "run"},
    "/v1/runs/run_1": {"limit": "10", "offset": "0"},
    "/v1/usage": {"kind": "ai"},
    "/v1/usage/all": {},
    "/v1/metrics": {"from_day": "2026-01-01", "to_day": "2026-01-31"},
    "/v1/me": {},
    "/v1/policies": {},
    "/v1/policies/bot": {},
    "/v1/agents/bot/logs": {"limit": "100"},
    "/v1/agents/bot/metrics": {"period": "day"},
}


# --- database snapshots --------------------------------------------------------------------------

def snapshot(d: Deployment) -> str:
    """Every row of every table, as text, so two snapshots compare equal iff nothing was written."""
    if d.sqlite_path:
        with sqlite3.connect(f"file:{d.sqlite_path}?mode=ro", uri=True) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
            return "\n".join(f"{t}: {sorted(map(repr, db.execute(f'SELECT * FROM {t}')))}" for t in tables)
    # A digest of every row of every table, from one psql session kept open per database
    # (spawning psql or pg_dump per snapshot would dominate the fuzz's time).
    session = _psql_sessions.get(d.db)
    if session is None:
        session = _psql_sessions[d.db] = PsqlSession(d.db)
        tables = session.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        session.digest = " UNION ALL ".join(
            f"SELECT '{t}', count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM \"{t}\" r"
            for t in tables.split())
    return session.query(session.digest)


class PsqlSession:
    def __init__(self, url: str):
        self.proc = subprocess.Popen(["psql", url, "-At", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.digest = ""
        atexit.register(self.proc.kill)

    def query(self, sql: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(sql + ";\n\\echo __END__\n")
        self.proc.stdin.flush()
        lines = []
        for line in self.proc.stdout:  # psql answers within the test's own time limits
            if line.rstrip("\n") == "__END__":
                return "".join(lines)
            lines.append(line)
        raise AssertionError(f"psql ended: {''.join(lines)}")


_psql_sessions: dict = {}


def rss_kb(d: Deployment) -> int:
    total = 0
    for s in d.servers:
        for line in Path(f"/proc/{s.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


# --- raw requests ----------------------------------------------------------------------------------

def raw_request(base_url: str, method: str, target: str, body: bytes = b"", headers: dict | None = None,
                timeout: float = 20.0):
    """Bytes on a socket, for what http.client would refuse to send: (status, headers, body bytes)."""
    host, port = base_url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    head = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    hdrs = {"Content-Length": str(len(body)), **(headers or {})}
    head += [f"{k}: {v}" for k, v in hdrs.items()]
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace") + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return parse_response(data)


def parse_response(data: bytes):
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body, rest2 = b"", rest
        while rest2:
            size_line, _, rest2 = rest2.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            body, rest2 = body + rest2[:size], rest2[size + 2:]
        rest = body
    return status, headers, rest


class Outcome:
    def __init__(self):
        self.count = 0
        self.statuses = {}
        self.latencies = []
        self.problems = []

    def record(self, what: str, status: int, headers: dict, body: bytes, took: float, must_reject: bool):
        self.count += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(took)
        if status >= 500:
            self.problems.append(f"{what}: {status} {body[:200]!r}")
            return
        if must_reject and status < 400:
            self.problems.append(f"{what}: accepted ({status}) {body[:200]!r}")
        # A HEAD answer has no body; a request whose framing is broken (Transfer-Encoding beside
        # Content-Length, the request-smuggling shape) is refused by the HTTP parser itself with
        # a bare 400 and a closed connection, before any route sees it.
        if status >= 400 and not what.startswith("HEAD ") and not (status == 400 and "Transfer-Encoding" in what):
            try:
                detail = json.loads(body)["detail"]
            except (ValueError, KeyError, TypeError):
                self.problems.append(f"{what}: {status} without a JSON detail: {body[:200]!r}")
                return
            if status == 422 and isinstance(detail, list):
                if not all(isinstance(i, dict) and i.get("loc") for i in detail):
                    self.problems.append(f"{what}: 422 issues without loc: {detail!r}"[:300])

    def p99(self) -> float:
        xs = sorted(self.latencies)
        return xs[int(len(xs) * 0.99)] if xs else 0.0


def send(d: Deployment, out: Outcome, what: str, method: str, target: str, body: bytes = b"",
         headers: dict | None = None, must_reject: bool = True, auth: bool = True):
    hdrs = {"Content-Type": "application/json"} if body else {}
    if auth:
        hdrs["Authorization"] = f"Bearer {d.key}"
    hdrs.update(headers or {})
    started = time.monotonic()
    status, rheaders, rbody = raw_request(d.url(out.count), method, target, body, hdrs)
    out.record(what, status, rheaders, rbody, time.monotonic() - started, must_reject)
    return status, rbody


def corpus_requests():
    """(label, method, target, body, headers, auth, must_reject) for the fixed corpus."""
    reqs = []
    bad_json = [p.read_bytes() for p in sorted((CORPUS / "jsontestsuite").glob("n_*.json"))]
    big_key = "x" * 65536
    for path, valid in BODIES.items():
        if path.startswith(("/v1/policies", "/v1/agents")):
            reqs += governance_corpus(path, valid, bad_json)
            continue
        field = next(iter(valid))
        reqs.append((f"{path} empty body", "POST", path, b"", {}, True, True))
        reqs.append((f"{path} not JSON", "POST", path, b"hello", {}, True, True))
        for i, b in enumerate(bad_json):
            reqs.append((f"{path} JSONTestSuite n_ #{i}", "POST", path, b, {}, True, True))
        if path == "/v1/me/notifications":
            reqs.append((f"{path} empty object", "POST", path, b"{}", {}, True, True))
            reqs.append((f"{path} wrong type", "POST", path, b'{"email_notifications_enabled": "yes"}', {}, True, True))
            continue
        reqs.append((f"{path} missing {field}", "POST", path, json.dumps({k: v for k, v in valid.items()
                                                                          if k != field}).encode(), {}, True, True))
        reqs.append((f"{path} array body", "POST", path, b"[1,2]", {}, True, True))
        reqs.append((f"{path} invalid UTF-8", "POST", path, b'{"' + field.encode() + b'": "\xff\xfe"}', {}, True, True))
        for value in ("", 7, None, [], {}, True, big_key, "y" * 257):
            reqs.append((f"{path} {field}={str(value)[:12]!r}", "POST", path,
                         json.dumps({**valid, field: value}).encode(), {}, True, True))
        reqs.append((f"{path} 1 MiB {field}", "POST", path, json.dumps({**valid, field: "z" * (1 << 20)}).encode(),
                     {}, True, True))
        deep = b"[" * 100_000 + b"]" * 100_000
        reqs.append((f"{path} 100000-deep metadata", "POST", path,
                     b'{"key":"deep","run_id":"r","type":"t","metadata":' + deep + b',"data":' + deep + b"}",
                     {}, True, False))
        if "ttl" in valid:
            for ttl in ("1e309", '"10"', "2e0", "9223372036854775808", "-1", "0", "1.5", "null", "[]"):
                reqs.append((f"{path} ttl={ttl}", "POST", path,
                             f'{{"key":"ttl-{len(reqs)}","lease_id":"lease_x","ttl":{ttl}}}'.encode(), {}, True, False))
        reqs.append((f"{path} duplicate fields", "POST", path, b'{"key":"a","key":"b","lease_id":"x","run_id":"r",'
                                                             b'"type":"t"}', {}, True, False))
        if path not in QUERIES:
            reqs.append((f"{path} wrong method GET", "GET", path, b"", {}, True, True))
        reqs.append((f"{path} wrong method DELETE", "DELETE", path, b"", {}, True, True))
        reqs.append((f"{path} text/plain", "POST", path, json.dumps(valid).encode(),
                     {"Content-Type": "text/plain"}, True, False))
        reqs.append((f"{path} no auth", "POST", path, json.dumps(valid).encode(), {}, False, True))
        reqs.append((f"{path} bad key", "POST", path, json.dumps(valid).encode(),
                     {"Authorization": "Bearer once_live_nope"}, False, True))
        reqs.append((f"{path} NUL key", "POST", path, json.dumps({**valid, field: "a\u0000b"}).encode(),
                     {}, True, False))
        reqs.append((f"{path} lone surrogate", "POST", path, b'{"' + field.encode() + b'": "\\ud800"}',
                     {}, True, False))
    for path, params in QUERIES.items():
        reqs.append((f"GET {path} no auth", "GET", path, b"", {}, False, True))
        reqs.append((f"POST {path} wrong method", "PUT", path, b"", {}, True, True))
        for name in params:
            for bad in ("", "%ff", "-1", "99999999999999999999", "%00", "x" * 70000):
                target = f"{path}?{name}={bad}"
                reqs.append((f"GET {target[:60]}", "GET", target, b"", {}, True, False))
    for target in ("/v1/policies/a%00b", "/v1/agents/a%00b/logs", "/v1/agents/%ff/metrics?period=day",
                   "/v1/agents/bot/metrics?period=year", "/v1/agents/bot/logs?limit=0",
                   "/v1/ai/%ff", "/v1/runs/%ff%fe", "/v1/runs/a%00b", "/v1/runs/" + "r" * 5000, "/v1/../../etc/passwd",
                   "/v1/nope", "/%00", "/v1/ai/status?key=%", "/v1/ai/status?key=k&key=j"):
        reqs.append((f"path {target[:40]}", "GET", target, b"", {}, True, False))
    return reqs


def governance_corpus(path, valid, bad_json):
    """Policy and agent bodies: what must be refused, and edge values that need only never 5xx
    (an agent's enable takes an empty body; a policy's agent_id may come from the path alone)."""
    must = []
    either = [(f"{path} empty body", b""), (f"{path} not JSON", b"hello"), (f"{path} array", b"[1]")]
    either += [(f"{path} JSONTestSuite n_ #{i}", b) for i, b in enumerate(bad_json[:40])]
    if path == "/v1/policies/bot":
        must += [(f"{path} {k}={v!r}"[:80], json.dumps({**valid, k: v}).encode()) for k, v in (
            ("max_actions_per_hour", "ten"), ("max_actions_per_hour", -1), ("max_spend_usd_per_day", "5"),
            ("allowed_tools", "send_email"), ("blocked_tools", [1]), ("agent_id", "other"), ("agent_id", 7),
            ("allowed_tools", ["not.registered"]), ("allowed_tools", ["a\u0000b"]), ("max_calls_per_tool", [1]),
            ("pricing_rules", {"x": 1}))]
        either += [(f"{path} deep", b'{"agent_id":"bot","allowed_tools":' + b"[" * 100_000 + b"]" * 100_000 + b"}")]
    elif path.endswith("from-template"):
        must += [(f"{path} template={v!r}", json.dumps({**valid, "template": v}).encode())
                 for v in ("nope", "", 7, None)]
        must += [(f"{path} overrides=[]", json.dumps({**valid, "overrides": []}).encode())]
    else:
        either += [(f"{path} reason={v!r}"[:60], json.dumps({"reason": v}).encode())
                   for v in (7, None, "", "r" * 100_000, "a\u0000b")]
    out = [(label, "POST", path, body, {}, True, True) for label, body in must]
    out += [(label, "POST", path, body, {}, True, False) for label, body in either]
    out += [(f"{path} wrong method DELETE", "DELETE", path, b"", {}, True, True),
            (f"{path} no auth", "POST", path, json.dumps(valid).encode(), {}, False, True),
            (f"{path} bad key", "POST", path, json.dumps(valid).encode(), {"Authorization": "Bearer once_live_no"},
             False, True)]
    return out


def test_f1_the_bad_request_corpus_gets_json_4xx_and_writes_nothing(deployment):
    d = deployment
    # Something to protect: a lease, a completion, a check-lock, an event.
    k = d.op(0, "acquire", "k", ttl=300).body
    d.call("POST", "/v1/check-lock", {"key": "k", "ttl": 300})
    d.call("POST", "/v1/events", {"run_id": "run_1", "type": "note"})
    baseline_rss = rss_kb(d)
    corpus = corpus_requests()
    out = Outcome()
    # First what must be refused: the database must be byte for byte the same afterwards.
    before = snapshot(d)
    for label, method, target, body, headers, auth, must_reject in corpus:
        if must_reject:
            send(d, out, label, method, target, body, headers, True, auth)
    assert out.problems == [], "\n".join(out.problems[:30])
    assert snapshot(d) == before, "a rejected request wrote to the database"
    # Then edge values that may be accepted (a clamped TTL, a NUL in a key): never a 5xx.
    accepted = []
    for label, method, target, body, headers, auth, must_reject in corpus:
        if not must_reject:
            status, _ = send(d, out, label, method, target, body, headers, False, auth)
            if status < 400:
                accepted.append(label)
    assert out.problems == [], "\n".join(out.problems[:30])
    # 100 MB body streamed at the server: refused with 413 without reading it all.
    status = huge_body(d)
    assert status == 413, status
    # A body sent one byte at a time does not hold up anyone else.
    slow = threading.Thread(target=slow_body, args=(d,), daemon=True)
    slow.start()
    time.sleep(0.5)
    started = time.monotonic()
    s, _, _ = d.call("GET", "/v1/ai/status?key=k")
    assert s == 200 and time.monotonic() - started < 2.0
    slow.join(timeout=30)
    s, body, _ = d.call("GET", "/v1/ai/status?key=k")
    assert s == 200 and body["version"] == k["version"] and body["status"] == "in_progress", body
    grown = rss_kb(d) - baseline_rss
    print(f"F1 {d.store}: {out.count} corpus requests, statuses {dict(sorted(out.statuses.items()))}, "
          f"p99 {out.p99() * 1000:.1f} ms, {len(accepted)} edge values accepted, RSS {grown / 1024:+.1f} MiB")
    assert out.p99() < 1.0, f"p99 {out.p99():.3f}s"
    assert grown < 256 * 1024, f"server RSS grew by {grown} kB"


def huge_body(d: Deployment) -> int:
    host, port = d.url(0).removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall((f"POST /v1/check-lock HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {d.key}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {100_000_000}\r\n\r\n").encode())
        chunk = b"{" + b" " * 65535
        sent = 0
        try:
            while sent < 100_000_000:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed early, as it should
        data = b""
        try:
            while c := sock.recv(65536):
                data += c
        except OSError:
            pass
    assert data, f"no answer after {sent} bytes"
    return parse_response(data)[0]


def slow_body(d: Deployment) -> None:
    host, port = d.url(0).removeprefix("http://").split(":")
    body = b'{"key":"slow"}'
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall((f"POST /v1/check-lock HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {d.key}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode())
        for b in body:
            sock.sendall(bytes([b]))
            time.sleep(0.1)
        sock.recv(65536)


# --- generated fuzz --------------------------------------------------------------------------------

WEIRD = [None, True, False, 0, -1, 1.5, 1e308, -1e308, 2 ** 63, -2 ** 63 - 1, 2 ** 64, "", " ", "\u0000",
         "\ud7ff", "\U0001F600", "é" * 300, "x" * 5000, [], [1, [2, [3]]], {}, {"a": {"b": {"c": None}}},
         "1", "true", "null", "2026-13-45", "once_live_x", "lease_", "../..", "%s%n"]


def mutate(rng: random.Random, value):
    """One random change to a JSON value: swap a field's type, drop or add a field, nest it."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        value = dict(value)
        choice = rng.random()
        name = rng.choice(list(value))
        if choice < 0.45:
            value[name] = rng.choice(WEIRD)
        elif choice < 0.6:
            del value[name]
        elif choice < 0.75:
            value["x" + str(rng.randrange(100))] = rng.choice(WEIRD)
        elif choice < 0.9:
            value[name] = mutate(rng, value[name])
        else:
            value = {name: value}
        return value
    return rng.choice(WEIRD)


def fuzz_request(rng: random.Random):
    kind = rng.random()
    headers = {}
    if rng.random() < 0.1:
        headers[rng.choice(["Content-Type", "Authorization", "X-Request-Id", "Accept", "Transfer-Encoding"])] = \
            rng.choice(["", "x" * 9000, "application/json; charset=latin1", "Bearer", "chunked", "\u00ff"])
    if kind < 0.6:
        path = rng.choice(list(BODIES))
        body = BODIES[path]
        for _ in range(rng.randrange(1, 4)):
            body = mutate(rng, body)
        raw = json.dumps(body).encode()
        if rng.random() < 0.15:  # byte-level damage
            i = rng.randrange(len(raw) + 1)
            raw = raw[:i] + bytes([rng.randrange(256)]) + raw[i + rng.randrange(3):]
        return "POST", path, raw, headers
    if kind < 0.9:
        path = rng.choice(list(QUERIES))
        params = dict(QUERIES[path])
        for _ in range(rng.randrange(1, 3)):
            name = rng.choice(list(params) + ["extra"]) if params else "extra"
            params[name] = rng.choice(["", "-5", "0", "1", "501", "2001", "1e3", "%ff", "%00", "a" * 300, "ai",
                                       "make", "nope", "2026-02-30", "2024-02-29", "0000-01-01", "9999-12-31"])
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return "GET", f"{path}?{query}" if query else path, b"", headers
    segs = ["v1", "ai", "runs", "lease", "status", "%2F", "..", ".", "%ff", "", "x" * 300, "me", "events"]
    path = "/" + "/".join(rng.choice(segs) for _ in range(rng.randrange(1, 5)))
    return rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]), path, b"", headers


def test_f2_generated_requests_never_get_a_5xx_and_rejections_write_nothing(deployment):
    d = deployment
    rng = random.Random(int(os.environ.get("RELIABILITY_FUZZ_SEED", "20261201")))
    out = Outcome()
    batches_compared = 0
    # Small batches, so that many are rejected whole and can be compared (SQLite snapshots are
    # cheap enough to take around every request; pg_dump is not).
    batch = 1 if d.sqlite_path else 4
    end = time.monotonic() + FUZZ_SECONDS
    while time.monotonic() < end:
        # An answer made from a read (a duplicate, a poll) writes its counters and feed row just
        # after it (README, "Answers from a read"); the usage endpoint writes what is pending, so
        # the snapshot below starts from a settled database.
        call(d.url(0), "GET", "/v1/usage", d.key)
        before = snapshot(d)
        statuses = []
        for _ in range(batch):
            method, target, body, headers = fuzz_request(rng)
            try:
                status, _ = send(d, out, f"{method} {target[:80]} {body[:80]!r} {str(headers)[:60]}", method,
                                 target, body, headers, must_reject=False)
            except (OSError, ValueError, IndexError) as e:
                if method == "HEAD":
                    continue  # no body comes back to parse
                raise AssertionError(f"{method} {target[:80]} {body[:80]!r}: no HTTP answer ({e!r})")
            statuses.append(status)
        if statuses and all(s >= 400 for s in statuses):
            assert snapshot(d) == before, "a batch of rejected requests wrote to the database"
            batches_compared += 1
    assert out.problems == [], "\n".join(out.problems[:20])
    s, _, _ = call(d.url(0), "GET", "/healthz", None)
    assert s == 200
    print(f"F2 {d.store}: {out.count} generated requests in {FUZZ_SECONDS:.0f}s, statuses "
          f"{dict(sorted(out.statuses.items()))}, {batches_compared} all-rejected batches wrote nothing")
