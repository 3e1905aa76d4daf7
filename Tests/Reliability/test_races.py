"""A. Mutual exclusion and atomic claims: racers on fresh, expired and canceled keys, and a
counter kept under the lease (the DynamoDB lock client's stress test)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import scaled
from history_check import check_all, check_linearizable

RACERS = 64


def race(d, kind, keys, racers=RACERS, **args):
    """`racers` callers per key, spread over the replicas, released together per key."""
    results = {}
    with ThreadPoolExecutor(max_workers=racers) as pool:
        for k in keys:
            barrier = threading.Barrier(racers, timeout=60)

            def one(i, k=k, barrier=barrier):
                barrier.wait()
                return d.op(i, kind, k, **args)

            results[k] = list(pool.map(one, range(racers)))
    return results


def outcomes(replies):
    statuses = sorted({op.status for op in replies})
    assert statuses == [200], f"every racer gets 200, saw {statuses}: {[op.body for op in replies if op.status != 200][:3]}"
    return [op.body["status"] for op in replies]


def fresh_keys(prefix, n):
    tag = uuid.uuid4().hex[:8]
    return [f"{prefix}-{tag}-{i}" for i in range(n)]


def test_a1_racers_on_fresh_keys_get_one_grant_each(deployment):
    keys = fresh_keys("a1", scaled(25))
    results = race(deployment, "acquire", keys, ttl=60)
    for k, replies in results.items():
        got = outcomes(replies)
        assert got.count("acquired") == 1 and got.count("polling") == RACERS - 1, (k, got)
        winner = next(op.body for op in replies if op.body["status"] == "acquired")
        assert winner["version"] == 1 and winner["lease_id"].startswith("lease_")
        # A racer that lost never learns the winner's lease id (it could otherwise finish it).
        assert all(op.body["lease_id"] is None for op in replies if op.body["status"] == "polling"), k
    ops = deployment.history.snapshot()
    assert check_all(ops) == []
    assert check_linearizable(ops) == []
    print(f"A1 {deployment.store}: {len(keys)} keys x {RACERS} racers over {deployment.replicas} replica(s), "
          f"{len(ops)} requests ({deployment.unavailable} 503s retried): one grant per key, history linearizable")


def test_a2_check_lock_race_then_again_after_the_ttl(deployment):
    keys = fresh_keys("a2", scaled(15))
    first = race(deployment, "check_lock", keys, ttl=2)
    last_answer = max(op.ret for replies in first.values() for op in replies)
    for k, replies in first.items():
        got = outcomes(replies)
        assert got.count("locked") == 1 and got.count("duplicate") == RACERS - 1, (k, got)
    # Still inside the window (the locks were created at most ~0.5 s ago): all duplicates.
    for k in keys[:3]:
        op = deployment.op(0, "check_lock", k, ttl=2)
        if op.invoke < min(o.invoke for o in first[k]) + 2:
            assert op.body["status"] == "duplicate", (k, op.body)
    time.sleep(max(0.0, last_answer + 2.2 - time.monotonic()))
    second = race(deployment, "check_lock", keys, ttl=2)
    for k, replies in second.items():
        got = outcomes(replies)
        assert got.count("locked") == 1, (k, got)
    print(f"A2 {deployment.store}: {len(keys)} keys x {RACERS} racers, twice (before and after the 2 s TTL): "
          f"exactly one 'locked' per key per window")


def test_a3_racers_on_expired_and_canceled_keys_get_one_new_higher_grant(deployment):
    n = scaled(10)
    expired = fresh_keys("a3x", n)
    canceled = fresh_keys("a3c", n)
    before = {}
    for i, k in enumerate(expired + canceled):
        op = deployment.op(i, "acquire", k, ttl=1)
        assert op.body["status"] == "acquired", op.body
        before[k] = op.body
    for i, k in enumerate(canceled):
        op = deployment.op(i, "cancel", k, lease_id=before[k]["lease_id"])
        assert op.status == 200 and op.body["status"] == "canceled", op.body
        before[k] = op.body
    time.sleep(1.3)
    results = race(deployment, "acquire", expired + canceled, ttl=60)
    for k, replies in results.items():
        got = outcomes(replies)
        assert got.count("acquired") == 1, (k, got)
        winner = next(op.body for op in replies if op.body["status"] == "acquired")
        assert winner["version"] > before[k]["version"], (k, before[k], winner)
        assert winner["lease_id"] != before[k].get("lease_id")
    ops = deployment.history.snapshot()
    assert check_all(ops) == []
    print(f"A3 {deployment.store}: {n} expired + {n} canceled keys x {RACERS} racers: one new grant each, "
          f"versions above the old ones")


def test_a4_a_counter_kept_under_the_lease_loses_no_update(deployment, tmp_path):
    workers, rounds = 12, scaled(4)
    counter = tmp_path / "counter"
    counter.write_text("0")
    key = "a4-" + uuid.uuid4().hex[:8]
    deadline = time.monotonic() + 120
    acquisitions = []

    def worker(w: int) -> None:
        rng = random.Random(w)
        for _ in range(rounds):
            while True:
                assert time.monotonic() < deadline, "the counter test ran out of time"
                op = deployment.op(w, "acquire", key, ttl=30)
                if op.body and op.body.get("status") == "acquired":
                    break
                time.sleep(0.01 + rng.random() * 0.02)
            acquisitions.append(op.body["version"])
            value = int(Path(counter).read_text())
            time.sleep(rng.random() * 0.03)
            Path(counter).write_text(str(value + 1))
            release = deployment.op(w, "cancel", key, lease_id=op.body["lease_id"])
            assert release.status == 200, release.body

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(worker, range(workers)))
    assert int(counter.read_text()) == workers * rounds
    assert len(set(acquisitions)) == len(acquisitions), "a version was granted twice"
    ops = deployment.history.snapshot()
    assert check_all(ops) == []
    print(f"A4 {deployment.store}: {workers} workers x {rounds} increments under the lease = "
          f"{counter.read_text()} ({len(ops)} requests)")
