"""Deployments for the reliability suite: one `once-server` on a SQLite file, or two replicas on
one PostgreSQL database (ONCE_TEST_POSTGRES_URL, a cluster `scripts/pg-cluster` started).

`RELIABILITY_STORES=sqlite,postgres` picks the stores (default both; PostgreSQL is skipped when
no cluster is configured, except under CI where it is required). `RELIABILITY_SCALE` multiplies
the counts (keys, kills, cycles) for long runs (`scripts/soak`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "PySupport"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from once_http import History, Op, call  # noqa: E402
from once_procs import REPO_ROOT, Server, _stop, create_key, start_server  # noqa: E402

ADMIN_URL = os.environ.get("ONCE_TEST_POSTGRES_URL")
SCALE = max(1, int(os.environ.get("RELIABILITY_SCALE", "1")))
STORE_RETRIES = 5
STORES = [s for s in os.environ.get("RELIABILITY_STORES", "sqlite,postgres").split(",") if s]


def scaled(n: int) -> int:
    return n * SCALE


def new_postgres_database() -> str:
    assert ADMIN_URL, "ONCE_TEST_POSTGRES_URL must be set under CI"
    name = "once_rel_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {name}"],
                   check=True, capture_output=True, timeout=30)
    base, _, query = ADMIN_URL.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


class Deployment:
    """Real servers on one database; replicas can be killed and restarted on it."""

    def __init__(self, store: str, tmp: Path, *server_args: str):
        self.store = store
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.db = str(tmp / "once.sqlite") if store == "sqlite" else new_postgres_database()
        self.args = ("--min-ttl", "1", *server_args)
        self.key = create_key(self.db)
        self.replicas = 1 if store == "sqlite" else 2
        self.servers: List[Optional[Server]] = [start_server(self.db, *self.args) for _ in range(self.replicas)]
        self.history = History()
        self.unavailable = 0  # 503s retried

    @property
    def sqlite_path(self) -> Optional[Path]:
        return Path(self.db) if self.store == "sqlite" else None

    def url(self, i: int = 0) -> str:
        """The base URL of replica `i % replicas` (clients spread over the replicas)."""
        server = self.servers[i % self.replicas]
        assert server is not None, f"replica {i % self.replicas} is down"
        return server.base_url

    def new_account(self) -> str:
        return create_key(self.db)

    def op(self, client: int, kind: str, key: str, api_key: Optional[str] = None, **args):
        """One recorded request from `client` (spread over the replicas by its number).

        A 503 (`store_unavailable`, the store could not answer in time: 64 racers serialised on
        one key of a loaded machine can get it) is retried after its Retry-After, as the SDKs
        do; every attempt stays in the history, the 503s as answers that say nothing."""
        for attempt in range(STORE_RETRIES + 1):
            server = self.servers[client % self.replicas] or next((s for s in self.servers if s), None)
            if server is None:  # every replica is down: the request is sent nowhere and gets no answer
                op = Op(client=client, key=key, kind=kind, args=args, invoke=time.monotonic())
                with self.history.lock:
                    self.history.ops.append(op)
                return op
            op = self.history.run(server.base_url, api_key or self.key, client, kind, key, **args)
            if op.status != 503 or attempt == STORE_RETRIES:
                return op
            with self.history.lock:
                self.unavailable += 1
            time.sleep(1.0)
        return op

    def call(self, method: str, path: str, body=None, i: int = 0, api_key: Optional[str] = None, **kw):
        return call(self.url(i), method, path, api_key or self.key, body, **kw)

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        server = self.servers[i]
        assert server is not None
        server.proc.send_signal(sig)
        server.proc.wait(timeout=30)
        _stop(server.proc)
        self.servers[i] = None

    def restart(self, i: int) -> Server:
        assert self.servers[i] is None
        self.servers[i] = start_server(self.db, *self.args)
        return self.servers[i]

    def close(self) -> None:
        for server in self.servers:
            if server is not None:
                _stop(server.proc)


def store_params():
    out = []
    for store in STORES:
        if store == "postgres" and not ADMIN_URL and os.environ.get("CI") != "true":
            out.append(pytest.param(store, marks=pytest.mark.skip(reason="no PostgreSQL test cluster")))
        else:
            out.append(store)
    return out


@pytest.fixture(params=store_params())
def store(request) -> str:
    return request.param


@pytest.fixture
def deployment(store, tmp_path):
    d = Deployment(store, tmp_path)
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def make_deployment(store, tmp_path):
    """For tests that need their own server options."""
    made = []

    def make(*args: str) -> Deployment:
        d = Deployment(store, tmp_path / f"d{len(made)}", *args)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def exec_bin() -> Path:
    raw = os.environ.get("ONCE_EXEC_BIN") or str(Path(os.environ.get("ONCE_SERVER_BIN",
                                                                      ".build/debug/once-server")).parent / "once-exec")
    p = Path(raw)
    return p if p.is_absolute() else REPO_ROOT / p
