"""G and C5. once-exec under faults: killed with -9 after its child's side effect, and a local
store on a full disk."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import exec_bin
from test_fencing import _alive, run_exec, wait_for


def test_c5_kill_9_of_once_exec_after_the_side_effect_leaves_an_expired_lease(deployment, tmp_path):
    d = deployment
    k = "c5-" + uuid.uuid4().hex[:8]
    side, pid_file, fence = tmp_path / "side-effect", tmp_path / "child.pid", tmp_path / "fence"
    first = run_exec(d, k, f'echo $$ > {pid_file}; echo "$ONCE_FENCE" > {fence}; touch {side}; exec sleep 60')
    wait_for(side)
    child = int(pid_file.read_text())
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    deadline = time.monotonic() + 15
    while _alive(child):
        assert time.monotonic() < deadline, "the child outlived its once-exec"
        time.sleep(0.05)
    status = d.call("GET", f"/v1/ai/status?key={k}")[1]
    assert status["status"] == "in_progress", status  # nobody completed it: at-least-once, not "done"
    deadline = time.monotonic() + 20
    while status["status"] == "in_progress":
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.2)
        status = d.call("GET", f"/v1/ai/status?key={k}")[1]
    assert status["status"] == "failed" and status["error_code"] == "lease_expired", status
    first_fence = int(fence.read_text())
    second = run_exec(d, k, f'echo "$ONCE_FENCE" > {fence}')
    second.communicate(timeout=60)
    assert second.returncode == 0, second.returncode
    assert int(fence.read_text()) > first_fence


@pytest.fixture
def full_disk():
    """A 2 MiB tmpfs of our own (root only), unmounted afterwards."""
    mnt = Path(tempfile.mkdtemp(prefix="once-full-"))
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if cp.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (needs root): {cp.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        mnt.rmdir()


def fill(mnt: Path) -> None:
    fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass  # ENOSPC: the disk is full
    finally:
        os.close(fd)


def test_g_a_full_disk_is_a_clear_error_and_the_child_does_not_run(full_disk, tmp_path):
    state = full_disk / "once-exec.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONCEONLY_")}
    warm = subprocess.run([str(exec_bin()), "--state", str(state), "warm-up", "--", "true"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert warm.returncode == 0, warm.stderr
    fill(full_disk)
    outcomes = []
    for i in range(50):  # several keys: the first writes may still fit in free pages
        marker = tmp_path / f"ran-{i}"
        cp = subprocess.run([str(exec_bin()), "--state", str(state), f"full-{i}-" + "k" * 200, "--",
                             "touch", str(marker)], env=env, capture_output=True, text=True, timeout=60)
        outcomes.append((cp.returncode, cp.stderr.strip(), marker.exists()))
        if cp.returncode != 0:
            break
    code, err, ran = outcomes[-1]
    assert code != 0, f"once-exec kept running children on a full disk: {outcomes}"
    assert not ran, f"the child ran although its lease could not be written: {outcomes}"
    assert code in (203, 206), outcomes
    said = err.replace(str(full_disk), "DIR").lower()
    assert len(err.splitlines()) == 1 and ("full" in said or "space" in said), err
    # Free the space: the store works again and nothing is corrupt.
    (full_disk / "filler").unlink()
    again = subprocess.run([str(exec_bin()), "--state", str(state), "after-full", "--", "true"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    print(f"G disk full: once-exec exited {code} ({err!r}) without running the child; fine again once freed")


@pytest.fixture(scope="session")
def clockshift(tmp_path_factory):
    """Tests/Reliability/clock/clockshift.c built as an LD_PRELOAD library."""
    out = tmp_path_factory.mktemp("clock") / "clockshift.so"
    src = Path(__file__).resolve().parent / "clock" / "clockshift.c"
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(out), str(src), "-ldl"], check=True, timeout=120,
                   capture_output=True)
    return out


def test_d2_a_jump_of_the_clients_wall_clock_changes_nothing(deployment, clockshift, tmp_path):
    d = deployment
    shift = tmp_path / "shift"
    shift.write_text("0")
    env = {"LD_PRELOAD": str(clockshift), "ONCE_CLOCK_SHIFT_FILE": str(shift)}
    # The shim really moves once-exec's wall clock: a {date} key follows it.
    shift.write_text(str(3 * 86400))
    probe = subprocess.run([str(exec_bin()), "--state", str(tmp_path / "local.sqlite"), "d2:{date}", "--", "sh", "-c",
                            'echo "$ONCE_KEY"'], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    expected = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 3 * 86400))
    assert probe.returncode == 0 and probe.stdout.strip() == f"d2:{expected}", (probe.stdout, probe.stderr)
    # Against the server, jump the client's clock an hour ahead, then two hours back, while the
    # child runs across several renewals: the lease is the server's business, nothing changes.
    shift.write_text("0")
    k = "d2-" + uuid.uuid4().hex[:8]
    started, done = tmp_path / "started", tmp_path / "done"
    run = run_exec(d, k, f"touch {started}; sleep 4; echo ok > {done}", env_extra=env, ttl="3")
    wait_for(started)
    shift.write_text("3600")
    time.sleep(1.5)
    shift.write_text("-7200")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, (run.returncode, err)
    assert done.read_text().strip() == "ok"
    status = d.call("GET", f"/v1/ai/status?key={k}")[1]
    assert status["status"] == "completed" and status["version"] >= 4, status  # acquire, renewals, complete
