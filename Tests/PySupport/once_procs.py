"""Real `once-server` processes for the Python suites (interop and fleet): start, stop, keys.

Everything is bounded: server start-up, key commands, every wait. Servers are killed at
teardown, at interpreter exit and (Linux) when the test process itself dies.
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Deque, Dict, List, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
KEY_RE = re.compile(r"^once_live_\S+$")

START_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 10.0
TEST_TIMEOUT_S = int(os.environ.get("ONCE_INTEROP_TEST_TIMEOUT", "90"))

_live_procs: List[subprocess.Popen] = []


def _server_bin() -> Path:
    raw = os.environ.get("ONCE_SERVER_BIN", ".build/debug/once-server")
    p = Path(raw)
    if not p.is_absolute():
        cwd_p = Path.cwd() / p
        p = cwd_p if cwd_p.exists() else REPO_ROOT / p
    return p


def _die_with_parent() -> None:  # runs in the child before exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc in _live_procs:
        _live_procs.remove(proc)


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_live_procs):
        try:
            _stop(proc)
        except Exception:
            pass


def run_cli(*args: str) -> str:
    """Run a one-shot `once-server` subcommand; return stdout, fail the test on error."""
    cmd = [str(_server_bin()), *args]
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"timed out after {CLI_TIMEOUT_S}s: {cmd}")
    if cp.returncode != 0:
        pytest.fail(f"{cmd} exited {cp.returncode}\nstdout: {cp.stdout}\nstderr: {cp.stderr}")
    return cp.stdout


def new_database(tmp: Path):
    """A fresh database for one server: a SQLite file in `tmp`, or, when ONCE_INTEROP_POSTGRES_URL
    names a PostgreSQL cluster, a new database on it (the same tests then run on PostgreSQL)."""
    admin = os.environ.get("ONCE_INTEROP_POSTGRES_URL")
    if not admin:
        return tmp / "once.sqlite"
    name = "once_interop_" + uuid.uuid4().hex[:12]
    cp = subprocess.run(["psql", admin, "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {name}"],
                        capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    if cp.returncode != 0:
        pytest.fail(f"CREATE DATABASE failed: {cp.stderr}")
    base, _, query = admin.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


def create_key(db, plan: Optional[str] = None, name: Optional[str] = None) -> str:
    args = ["keys", "create", "--database", str(db)]
    if plan:
        args += ["--plan", plan]
    if name:
        args += ["--name", name]
    out = run_cli(*args).strip()
    assert KEY_RE.match(out), f"`keys create` must print only the key, got: {out!r}"
    return out


@dataclass
class Server:
    proc: subprocess.Popen
    base_url: str
    db: object
    log: Deque[str] = field(default_factory=lambda: collections.deque(maxlen=400))

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(list(self.log)[-n:])


def start_server(db, *extra: str) -> Server:
    binp = _server_bin()
    if not binp.exists():
        pytest.fail(f"server binary not found: {binp} (set ONCE_SERVER_BIN)")
    # Rate limiting is off unless a test asks for it: the race and load tests send bursts from
    # one key that would otherwise measure the limiter instead of what they test.
    limits = [] if "--rate-limit" in extra else ["--rate-limit", "0"]
    cmd = [str(binp), "serve", "--host", "127.0.0.1", "--port", "0", "--database", str(db), *limits, *extra]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        bufsize=1,
        preexec_fn=_die_with_parent,
    )
    _live_procs.append(proc)
    log: Deque[str] = collections.deque(maxlen=400)
    port_box: Dict[str, int] = {}
    ready = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip("\n"))
            if "port" not in port_box:
                m = LISTEN_RE.search(line)
                if m:
                    port_box["port"] = int(m.group(1))
                    ready.set()
        ready.set()  # EOF: the process is gone

    threading.Thread(target=reader, name="once-server-log", daemon=True).start()

    if not ready.wait(START_TIMEOUT_S) or "port" not in port_box:
        _stop(proc)
        pytest.fail(f"server did not report 'listening on http://127.0.0.1:PORT' within "
                    f"{START_TIMEOUT_S}s; cmd={cmd}\n--- log ---\n" + "\n".join(log))

    base = f"http://127.0.0.1:{port_box['port']}"
    deadline = time.monotonic() + 10
    last_err: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    break
                last_err = r.status
        except (urllib.error.URLError, OSError) as e:
            last_err = e
        time.sleep(0.1)
    else:
        _stop(proc)
        pytest.fail(f"GET /healthz never answered 200 ({last_err!r})\n--- log ---\n" + "\n".join(log))

    return Server(proc=proc, base_url=base, db=db, log=log)


