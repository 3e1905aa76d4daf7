"""B. Fencing and stale holders: a paused holder (a real once-exec under SIGSTOP, and a raw
client) is refused everything after its lease lapsed; versions only go up, across kill -9
restarts of the server."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid

from conftest import exec_bin, scaled
from history_check import check_all

MUTATIONS = (("extend", {}), ("complete", {"result": {"by": "stale"}}), ("fail", {"error_code": "stale"}),
             ("cancel", {}))


def test_b1_a_paused_client_is_refused_every_mutation_after_its_lease_lapsed(deployment):
    d = deployment
    k = "b1-" + uuid.uuid4().hex[:8]
    a = d.op(0, "acquire", k, ttl=1).body
    assert a["status"] == "acquired"
    time.sleep(1.3)  # A is "paused" past its TTL
    b = d.op(1, "acquire", k, ttl=60).body
    assert b["status"] == "acquired" and b["version"] > a["version"], b
    for i, (kind, extra) in enumerate(MUTATIONS):
        op = d.op(i, kind, k, lease_id=a["lease_id"], **extra)
        assert op.status == 409, (kind, op.status, op.body)
        assert op.body["detail"]["error"] == "lease_mismatch", (kind, op.body)
        status = d.op(i + 1, "status", k).body
        assert status["status"] == "in_progress" and status["version"] == b["version"], (kind, status)
    done = d.op(1, "complete", k, lease_id=b["lease_id"], result={"by": "b"})
    assert done.status == 200, done.body
    result = d.op(0, "result", k).body
    assert result["status"] == "completed" and result["result"] == {"by": "b"}, result
    assert check_all(d.history.snapshot()) == []


def test_b3_an_extend_after_expiry_does_not_resurrect_the_lease(deployment):
    d = deployment
    k = "b3-" + uuid.uuid4().hex[:8]
    a = d.op(0, "acquire", k, ttl=1).body
    time.sleep(1.3)
    late = d.op(1, "extend", k, lease_id=a["lease_id"], ttl=60)
    assert late.status == 409 and late.body["detail"]["error"] == "lease_not_active", late.body
    status = d.op(0, "status", k).body
    assert status["status"] == "failed" and status["error_code"] == "lease_expired", status
    again = d.op(1, "acquire", k, ttl=60).body
    assert again["status"] == "acquired" and again["version"] > a["version"], again


def test_b2_versions_strictly_increase_across_kill_9_restarts(deployment):
    d = deployment
    k = "b2-" + uuid.uuid4().hex[:8]
    restarts = scaled(5)
    rng = random.Random(2)
    versions = []
    for r in range(restarts + 1):
        for c in range(scaled(30)):
            expires = c == 0  # one lease per round expires instead of being released
            op = d.op(c, "acquire", k, ttl=1 if expires else 30)
            assert op.body["status"] == "acquired", op.body
            versions.append(op.body["version"])
            if expires:
                time.sleep(1.05)
                continue
            release = d.op(c, "cancel", k, lease_id=op.body["lease_id"])
            assert release.status == 200, release.body
        if r < restarts:
            i = rng.randrange(d.replicas)
            d.kill(i)
            d.restart(i)
    assert versions == sorted(set(versions)), "versions must strictly increase"
    assert check_all(d.history.snapshot()) == []
    print(f"B2 {d.store}: {len(versions)} grants on one key across {restarts} kill -9 restarts, versions "
          f"{versions[0]}..{versions[-1]} strictly increasing")


def run_exec(d, key, script, *extra, env_extra=None, ttl="2", **popen):
    env = {**os.environ, "ONCEONLY_API_KEY": d.key, **(env_extra or {})}
    env.pop("ONCEONLY_BASE_URL", None)
    cmd = [str(exec_bin()), "--server", d.url(0), "--ttl", ttl, "--kill-after", "200ms", *extra, key, "--", "sh",
           "-c", script]
    return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **popen)


def wait_for(path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_b1_a_sigstopped_once_exec_loses_to_the_next_run_and_stops_its_child(deployment, tmp_path):
    d = deployment
    k = "b1x-" + uuid.uuid4().hex[:8]
    first_fence, second_fence, pid_file = tmp_path / "fence1", tmp_path / "fence2", tmp_path / "child1.pid"
    first = run_exec(d, k, f'echo $$ > {pid_file}; echo "$ONCE_FENCE" > {first_fence}.tmp; '
                           f'mv {first_fence}.tmp {first_fence}; exec sleep 60')
    try:
        try:
            wait_for(first_fence)
        except AssertionError:
            first.kill()
            raise AssertionError(f"the first run did not start its child: {first.communicate(timeout=10)}")
        child = int(pid_file.read_text())
        os.kill(first.pid, signal.SIGSTOP)
        # Its lease runs out on the server (TTL 2 s); the next run takes the key.
        deadline = time.monotonic() + 20
        while True:
            second = run_exec(d, k, f'echo "$ONCE_FENCE" > {second_fence}')
            out, err = second.communicate(timeout=60)
            if second.returncode == 0:
                break
            assert second.returncode == 200, (second.returncode, err)  # still held: try again
            assert time.monotonic() < deadline, "the paused run's lease never lapsed"
            time.sleep(0.2)
        assert int(second_fence.read_text()) > int(first_fence.read_text())
        os.kill(first.pid, signal.SIGCONT)
        out, err = first.communicate(timeout=60)
        assert first.returncode == 202, (first.returncode, err)
        deadline = time.monotonic() + 15
        while _alive(child):
            assert time.monotonic() < deadline, "the stale run's child was left running"
            time.sleep(0.05)
        status = d.call("GET", f"/v1/ai/status?key={k}")[1]
        assert status["status"] == "completed", status
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its reaper is gone for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
