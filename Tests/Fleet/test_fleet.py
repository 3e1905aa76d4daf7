"""Fleet tests: several real `once-server` replicas on one real PostgreSQL database.

Needs ONCE_TEST_POSTGRES_URL (a cluster `scripts/pg-cluster` started) and ONCE_SERVER_BIN.
Every HTTP call has a timeout; every loop is bounded in count and time; all traffic is loopback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "PySupport"))
from once_http import call  # noqa: E402
from once_procs import REPO_ROOT, _stop, create_key, start_server  # noqa: E402

ADMIN_URL = os.environ.get("ONCE_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not ADMIN_URL and os.environ.get("CI") != "true", reason="no PostgreSQL test cluster (scripts/test starts one)")


def new_database() -> str:
    assert ADMIN_URL, "ONCE_TEST_POSTGRES_URL must be set under CI"
    name = "once_fleet_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {name}"],
                   check=True, capture_output=True, timeout=30)
    base, _, query = ADMIN_URL.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


@pytest.fixture
def fleet():
    """Two replicas on one fresh database, sharing one API key."""
    db = new_database()
    key = create_key(db)
    a = start_server(db, "--min-ttl", "1")
    b = start_server(db, "--min-ttl", "1")
    try:
        yield db, key, a, b
    finally:
        _stop(a.proc)
        _stop(b.proc)


def race(replicas, key, path, body_for, keys, racers=64):
    """`racers` callers per key, split across the replicas, released together per key."""
    results = {k: [] for k in keys}
    with ThreadPoolExecutor(max_workers=racers) as pool:
        for k in keys:
            barrier = threading.Barrier(racers, timeout=30)

            def one(i, k=k, barrier=barrier):
                base = replicas[i % len(replicas)].base_url
                barrier.wait()
                return call(base, "POST", path, key, body_for(k))

            results[k] = list(pool.map(one, range(racers)))
    return results


def test_racers_across_two_replicas_get_exactly_one_grant(fleet):
    _, key, a, b = fleet
    keys = [f"race-{uuid.uuid4().hex[:8]}-{i}" for i in range(20)]
    leases = race([a, b], key, "/v1/ai/lease", lambda k: {"key": k, "ttl": 60}, keys)
    grants = 0
    for k, replies in leases.items():
        statuses = [s for s, _, _ in replies]
        assert all(s == 200 for s in statuses), f"{k}: {statuses}"
        acquired = [d for _, d, _ in replies if d["status"] == "acquired"]
        polling = [d for _, d, _ in replies if d["status"] == "polling"]
        assert len(acquired) == 1, f"{k}: {len(acquired)} grants"
        assert len(polling) == 63
        grants += 1
    locks = race([a, b], key, "/v1/check-lock", lambda k: {"key": k, "ttl": 60}, keys)
    for k, replies in locks.items():
        locked = [d for s, d, _ in replies if s == 200 and d["status"] == "locked"]
        duplicates = [d for s, d, _ in replies if s == 200 and d["status"] == "duplicate"]
        assert len(locked) == 1 and len(duplicates) == 63, k
    print(f"fleet race: {len(keys)} keys x 64 racers over 2 replicas: {grants} leases granted once each, "
          f"{len(keys)} check-locks locked once each")


def test_fencing_across_replicas(fleet):
    _, key, a, b = fleet
    k = "fenced-" + uuid.uuid4().hex[:8]
    s, first, _ = call(a.base_url, "POST", "/v1/ai/lease", key, {"key": k, "ttl": 60})
    assert s == 200 and first["status"] == "acquired"
    s, _, _ = call(a.base_url, "POST", "/v1/ai/cancel", key, {"key": k, "lease_id": first["lease_id"]})
    assert s == 200
    s, second, _ = call(b.base_url, "POST", "/v1/ai/lease", key, {"key": k, "ttl": 60})
    assert s == 200 and second["status"] == "acquired"
    assert second["version"] > first["version"]
    assert second["lease_id"] != first["lease_id"]
    for replica in (a, b):
        for path, extra in (("/v1/ai/extend", {}), ("/v1/ai/complete", {}), ("/v1/ai/fail", {"error_code": "x"})):
            s, body, _ = call(replica.base_url, "POST", path, key, {"key": k, "lease_id": first["lease_id"], **extra})
            assert s == 409, (replica.base_url, path, s, body)
    s, done, _ = call(a.base_url, "POST", "/v1/ai/complete", key, {"key": k, "lease_id": second["lease_id"]})
    assert s == 200 and done["version"] > second["version"]


def test_sigkill_of_one_replica_under_load_leaves_the_other_answering(fleet):
    _, key, a, b = fleet
    stop_at = time.monotonic() + 6.0
    killed = threading.Event()
    outcomes: dict[str, list[int]] = {"a": [], "b": []}
    lock = threading.Lock()

    def worker(i: int) -> None:
        n = 0
        while time.monotonic() < stop_at and n < 2000:
            n += 1
            name, replica = ("a", a) if i % 2 == 0 else ("b", b)
            body = {"key": f"load-{i}-{n}", "ttl": 30}
            path = "/v1/check-lock" if n % 2 else "/v1/ai/lease"
            try:
                status, _, _ = call(replica.base_url, "POST", path, key, body, timeout=10)
            except OSError:
                status = -1  # connection refused or reset: only expected from the killed replica
            with lock:
                outcomes[name].append(status)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    os.kill(a.proc.pid, signal.SIGKILL)
    killed.set()
    for t in threads:
        t.join(timeout=30)
    b_statuses = outcomes["b"]
    assert b_statuses, "replica b answered nothing"
    assert all(s == 200 for s in b_statuses), f"replica b: {sorted(set(b_statuses))}"
    assert not any(s >= 500 for s in outcomes["a"]), "replica a must never answer 5xx before it dies"
    print(f"fleet kill: replica b answered {len(b_statuses)} requests, all 200, while a was SIGKILLed "
          f"({sum(1 for s in outcomes['a'] if s == 200)} answered by a before, "
          f"{sum(1 for s in outcomes['a'] if s == -1)} refused after)")


@pytest.fixture
def private_cluster():
    """A PostgreSQL cluster of this test's own, so it can be stopped and started."""
    tmp = Path(tempfile.mkdtemp(prefix="once-pg-outage-"))
    tmp.rmdir()
    script = REPO_ROOT / "scripts" / "pg-cluster"
    out = subprocess.run([str(script), "start", str(tmp)], check=True, capture_output=True, text=True, timeout=120)
    url = out.stdout.split("ONCE_TEST_POSTGRES_URL='")[1].split("'")[0]
    try:
        yield tmp, url
    finally:
        subprocess.run([str(script), "stop", str(tmp)], capture_output=True, timeout=60)


def pg_ctl(cluster: Path, *args: str) -> None:
    bin_dir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    cmd = [str(bin_dir / "pg_ctl"), "-D", str(cluster / "data"), *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def test_database_outage_gives_503_then_recovers_without_restart(private_cluster):
    cluster, url = private_cluster
    key = create_key(url)
    srv = start_server(url, "--store-timeout", "2")
    try:
        s, body, _ = call(srv.base_url, "POST", "/v1/ai/lease", key, {"key": "before", "ttl": 60})
        assert s == 200 and body["status"] == "acquired"
        port = (cluster / "port").read_text().strip()
        pg_ctl(cluster, "-m", "fast", "-w", "stop")

        started = time.monotonic()
        s, body, headers = call(srv.base_url, "POST", "/v1/ai/lease", key, {"key": "during", "ttl": 60})
        took = time.monotonic() - started
        assert s == 503, (s, body)
        assert headers.get("Retry-After", "").isdigit()
        assert took < 10, f"a request during the outage took {took:.1f}s"
        assert "PostgreSQL" not in json.dumps(body) and "postgres" not in json.dumps(body).lower()
        s, _, _ = call(srv.base_url, "GET", "/healthz", key)
        assert s == 503
        # A long outage: the pool's own reconnect backoff grows towards a minute meanwhile.
        outage_end = time.monotonic() + 15
        while time.monotonic() < outage_end:
            s, _, _ = call(srv.base_url, "POST", "/v1/check-lock", key, {"key": "during", "ttl": 60})
            assert s == 503
            time.sleep(0.5)

        pg_ctl(cluster, "-l", str(cluster / "server.log"), "-w", "-o",
               f"-c listen_addresses=127.0.0.1 -p {port} -k {cluster}", "start")
        back = time.monotonic()
        recovered = None
        while time.monotonic() - back < 30:
            s, _, _ = call(srv.base_url, "GET", "/healthz", key, timeout=5)
            if s == 200:
                s, body, _ = call(srv.base_url, "POST", "/v1/ai/lease", key, {"key": "after", "ttl": 60})
                if s == 200 and body["status"] == "acquired":
                    recovered = time.monotonic() - back
                    break
            time.sleep(0.1)
        assert recovered is not None, "the replica did not recover within 30 s of PostgreSQL's return"
        assert recovered < 5, f"the replica took {recovered:.1f}s to notice PostgreSQL was back"
        s, body, _ = call(srv.base_url, "POST", "/v1/ai/lease", key, {"key": "before", "ttl": 60})
        assert s == 200 and body["status"] == "polling", "the lease taken before the outage must still hold"
        print(f"fleet outage: 503 in {took:.2f}s while PostgreSQL was down (15 s); "
              f"recovered {recovered:.2f}s after it was back")
    finally:
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=20) == 0, "graceful shutdown must exit 0"


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_sigterm_and_sigint_shut_down_gracefully(store, tmp_path):
    for sig in (signal.SIGTERM, signal.SIGINT):
        db = str(tmp_path / f"once-{sig}.sqlite") if store == "sqlite" else new_database()
        key = create_key(db)
        srv = start_server(db)
        s, _, _ = call(srv.base_url, "POST", "/v1/check-lock", key, {"key": "k", "ttl": 60})
        assert s == 200
        srv.proc.send_signal(sig)
        assert srv.proc.wait(timeout=20) == 0, f"{store}: exit status after {sig!r}"


def test_bad_database_urls_are_usage_errors(tmp_path):
    binary = os.environ.get("ONCE_SERVER_BIN", str(REPO_ROOT / ".build/debug/once-server"))
    for url in ("http://example.invalid/db", "postgres:/nohost", "postgres://@127.0.0.1/db",
                "postgres://u@127.0.0.1:5432/db?sslmode=maybe", "postgres://u@127.0.0.1:5432/"):
        cp = subprocess.run([binary, "serve", "--database", url], capture_output=True, text=True, timeout=30,
                            cwd=tmp_path)
        assert cp.returncode == 64, (url, cp.returncode, cp.stderr)
        assert cp.stderr.startswith("Error: --database"), cp.stderr
        assert not any(tmp_path.iterdir()), f"{url} created files: {list(tmp_path.iterdir())}"
