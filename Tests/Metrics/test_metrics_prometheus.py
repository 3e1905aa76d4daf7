"""`GET /metrics` of a real once-server, read with prometheus_client's own text-format parser,
before and after a burst of concurrent API traffic: the parser accepts it and the counters move
by exactly what was sent."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "PySupport"))
import once_procs  # noqa: E402

FAMILIES = [
    "once_http_requests", "once_http_request_duration_seconds", "once_check_locks", "once_lease_transitions",
    "once_leases_held", "once_sweeper_runs", "once_sweeper_rows", "once_rate_limited_requests",
    "once_store_commit_duration_seconds", "once_store_commit_batch_size", "once_build_info",
]


def call(base: str, key: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(
        base + path, method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def scrape(base: str, token: str) -> dict[tuple[str, tuple], float]:
    req = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=15) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    samples: dict[tuple[str, tuple], float] = {}
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    missing = [f for f in FAMILIES if f not in names]
    assert not missing, f"families missing from /metrics: {missing}"
    return samples


def delta(before, after, name, **labels) -> float:
    k = (name, tuple(sorted(labels.items())))
    return after.get(k, 0.0) - before.get(k, 0.0)


def test_metrics_parse_and_move_under_load(tmp_path: Path):
    db = tmp_path / "once.sqlite"
    key = once_procs.create_key(db)
    token = "metrics-token-for-the-test"
    server = once_procs.start_server(db, "--metrics-token", token)
    base = server.base_url

    # Without the token: 401.
    try:
        urllib.request.urlopen(base + "/metrics", timeout=10)
        raise AssertionError("/metrics answered without the token")
    except urllib.error.HTTPError as e:
        assert e.code == 401

    before = scrape(base, token)

    def lease_round(i: int) -> None:
        status, got = call(base, key, "/v1/ai/lease", {"key": f"job-{i}", "ttl": 60})
        assert status == 200 and got["status"] == "acquired", got
        status, _ = call(base, key, "/v1/ai/complete", {"key": f"job-{i}", "lease_id": got["lease_id"]})
        assert status == 200

    def check_lock(i: int) -> None:
        status, _ = call(base, key, "/v1/check-lock", {"key": f"mail-{i % 40}", "ttl": 600})
        assert status == 200

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(check_lock, range(80)))  # 40 keys, each twice: 40 locked, 40 duplicate
        list(pool.map(lease_round, range(30)))

    after = scrape(base, token)
    assert delta(before, after, "once_check_locks_total", outcome="locked") == 40
    assert delta(before, after, "once_check_locks_total", outcome="duplicate") == 40
    assert delta(before, after, "once_lease_transitions_total", transition="acquired") == 30
    assert delta(before, after, "once_lease_transitions_total", transition="completed") == 30
    assert delta(before, after, "once_http_requests_total",
                 route="/v1/check-lock", method="POST", status="200") == 80
    assert delta(before, after, "once_http_request_duration_seconds_count", route="/v1/ai/lease") == 30
    assert after[("once_leases_held", ())] == 0
    # Every write was carried by a commit: 40 new check-locks, 30 acquires, 30 completes (and
    # whatever else wrote); a commit carries one or more of them.
    commits = delta(before, after, "once_store_commit_duration_seconds_count")
    carried = delta(before, after, "once_store_commit_batch_size_sum")
    assert carried >= 100, (commits, carried)
    assert 1 <= commits <= carried, (commits, carried)
    assert delta(before, after, "once_store_commit_batch_size_count") == commits
    # The scrape before this one was counted too.
    assert delta(before, after, "once_http_requests_total", route="/metrics", method="GET", status="200") >= 1
