"""Soak (scripts/soak only): minutes of mixed load with memory and file descriptors of every
replica sampled; neither may keep growing, and no request may get a 5xx."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import pytest

from history_check import check_all

SOAK_SECONDS = float(os.environ.get("RELIABILITY_SOAK_SECONDS", "0"))
pytestmark = pytest.mark.skipif(SOAK_SECONDS <= 0, reason="soak runs from scripts/soak")


def sample(d):
    rows = []
    for s in d.servers:
        rss = next(int(ln.split()[1]) for ln in Path(f"/proc/{s.proc.pid}/status").read_text().splitlines()
                   if ln.startswith("VmRSS:"))
        rows.append((rss, len(os.listdir(f"/proc/{s.proc.pid}/fd"))))
    return rows


def test_soak_memory_and_descriptors_stay_flat(deployment):
    d = deployment
    stop = threading.Event()
    tag = uuid.uuid4().hex[:6]
    errors = []

    def client(c: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            k = f"soak-{tag}-{c}-{n % 5000}"
            if n % 3 == 0:
                s, body, _ = d.call("POST", "/v1/check-lock", {"key": k, "ttl": 30}, i=c)
                if s >= 500:
                    errors.append((s, body))
                continue
            got = d.op(c, "acquire", k, ttl=30)
            if got.status is not None and got.status >= 500:
                errors.append((got.status, got.body))
            if got.answered and got.body.get("status") == "acquired":
                kind = "complete" if n % 2 else "cancel"
                d.op(c, kind, k, lease_id=got.body["lease_id"], **({"result": {"n": n}} if kind == "complete" else {}))
            if len(d.history.ops) > 200_000:  # keep the checker's memory bounded
                with d.history.lock:
                    del d.history.ops[:100_000]

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(16)]
    for t in threads:
        t.start()
    samples = []
    end = time.monotonic() + SOAK_SECONDS
    while time.monotonic() < end:
        samples.append(sample(d))
        time.sleep(5)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert errors == [], errors[:5]
    quarter = max(1, len(samples) // 4)
    for r in range(d.replicas):
        early = sum(s[r][0] for s in samples[quarter:2 * quarter]) / quarter
        late = sum(s[r][0] for s in samples[-quarter:]) / quarter
        fds = [s[r][1] for s in samples]
        print(f"soak {d.store} replica {r}: {SOAK_SECONDS:.0f}s, {len(d.history.ops)} recent requests, RSS "
              f"{early / 1024:.1f} -> {late / 1024:.1f} MiB, fds {min(fds)}..{max(fds)}")
        assert late < early * 1.5 + 20 * 1024, f"replica {r} memory keeps growing: {early} -> {late} kB"
        assert max(fds) - min(fds) < 100, f"replica {r} file descriptors: {min(fds)}..{max(fds)}"
    assert check_all(d.history.snapshot()) == []
