"""Interop: the official Python client `onceonly-sdk==3.0.5` against a real `once-server`.

Every test goes through the SDK's public API (OnceOnly, .ai, idempotent, idempotent_ai); a few
add a raw HTTP look where the SDK hides a wire detail the spec fixes (headers, bare arrays).
Expectations come from /work/shared/spec/API.md; rows tagged R there are asserted as recommended.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import threading
import time

import httpx
import pytest
from onceonly import (
    ApiError,
    OnceOnly,
    UnauthorizedError,
    ValidationError,
    idempotent,
    idempotent_ai,
)
from onceonly.ai_models import AiResult, AiRun

AGENCY_MAKE_LIMIT = 2_000_000
AGENCY_AI_LIMIT = 10_000_000
FAST_WAIT = dict(timeout=10.0, poll_min=0.2, poll_max=0.5)


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def assert_iso_utc(value) -> dt.datetime:
    assert isinstance(value, str), f"expected ISO-8601 string, got {value!r}"
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() == dt.timedelta(0), f"not UTC: {value}"
    return parsed


def is_hex64(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) is not None


def raw_get(env, path: str, params=None, key=None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or env.key}"}
    with httpx.Client(base_url=env.server.base_url + "/v1", timeout=10.0) as h:
        return h.get(path, params=params, headers=headers)


def raw_post(env, path: str, body, key=None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or env.key}"}
    with httpx.Client(base_url=env.server.base_url + "/v1", timeout=10.0) as h:
        return h.post(path, json=body, headers=headers)


def expect_409(call, error: str) -> ApiError:
    with pytest.raises(ApiError) as ei:
        call()
    assert ei.value.status_code == 409, ei.value
    assert ei.value.detail.get("error") == error, ei.value.detail
    return ei.value


def today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


# ----------------------------------------------------------------------------------------------
# check-lock
# ----------------------------------------------------------------------------------------------

def test_check_lock_locked_then_duplicate(client, uniq):
    key = f"{uniq}:invoice"
    r1 = client.check_lock(key, ttl=60, meta={"invoice_id": "INV-1", "amount_usd": 9.99},
                           request_id="interop-req-1")
    assert r1.locked and not r1.duplicate and r1.should_proceed()
    assert r1.status_code == 200
    assert r1.key == key and r1.ttl == 60
    assert r1.first_seen_at is None
    assert r1.request_id == "interop-req-1"  # echoed (R)
    assert r1.raw["success"] is True and r1.raw["status"] == "locked"

    r2 = client.check_lock(key, ttl=120)
    assert r2.duplicate and not r2.locked and r2.is_duplicate() and not r2.should_proceed()
    assert r2.status_code == 200
    assert r2.raw["success"] is False and r2.raw["status"] == "duplicate"
    assert r2.ttl == 60  # a duplicate echoes the stored lock's TTL (R)
    first_seen = assert_iso_utc(r2.first_seen_at)
    assert abs((dt.datetime.now(dt.timezone.utc) - first_seen).total_seconds()) < 60
    assert r2.request_id  # generated when the caller sent none (R)

    r3 = client.check_lock(key, ttl=60)
    assert r3.duplicate and r3.first_seen_at == r2.first_seen_at  # not refreshed (R)


def test_check_lock_status_header(env, uniq):
    key = f"{uniq}:hdr"
    a = raw_post(env, "/check-lock", {"key": key, "ttl": 60})
    b = raw_post(env, "/check-lock", {"key": key, "ttl": 60})
    assert (a.status_code, b.status_code) == (200, 200)
    assert a.headers.get("X-OnceOnly-Status") == "locked"
    assert b.headers.get("X-OnceOnly-Status") == "duplicate"
    assert a.headers.get("X-Request-Id") and b.headers.get("X-Request-Id")


def test_check_lock_duplicate_409_mode(client409, uniq):
    key = f"{uniq}:409"
    r1 = client409.check_lock(key, ttl=60)
    assert r1.locked and not r1.duplicate and r1.status_code == 200
    assert r1.first_seen_at is None

    r2 = client409.check_lock(key, ttl=60)
    assert r2.duplicate and not r2.locked and r2.status_code == 409
    assert_iso_utc(r2.first_seen_at)
    assert r2.raw["detail"]["error"] == "Duplicate blocked"
    assert r2.raw["detail"]["first_seen_at"] == r2.first_seen_at


def test_ttl_defaults_and_clamps(client_factory, env, client409, uniq):
    agency = client_factory(env.key)
    free = client_factory(env.free_key)
    assert agency.check_lock(f"{uniq}:d1").ttl == 86400       # agency default TTL
    assert free.check_lock(f"{uniq}:d2").ttl == 60            # free default TTL
    assert free.check_lock(f"{uniq}:d3", ttl=100_000).ttl == 3600  # clamped to free max
    # server without --min-ttl: TTL below 10 s is clamped to 10 (R)
    assert client409.check_lock(f"{uniq}:d4", ttl=3).ttl == 10
    lease = client409.ai.lease(f"{uniq}:d5", ttl=3)
    assert lease["status"] == "acquired" and lease["ttl"] == 10


def test_accounts_are_isolated(client_factory, env, uniq):
    main = client_factory(env.key)
    free = client_factory(env.free_key)
    key = f"{uniq}:shared-name"
    assert main.check_lock(key, ttl=60).locked
    assert free.check_lock(key, ttl=60).locked  # other account: separate namespace
    assert main.check_lock(key, ttl=60).duplicate


def test_check_lock_and_lease_keys_are_separate(client, uniq):
    key = f"{uniq}:both"
    assert client.check_lock(key, ttl=60).locked
    assert client.ai.lease(key, ttl=60)["status"] == "acquired"  # separate namespaces (R)


# ----------------------------------------------------------------------------------------------
# leases
# ----------------------------------------------------------------------------------------------

def test_lease_acquire_extend_complete_status_result(client, uniq):
    key = f"{uniq}:lease"
    a = client.ai.lease(key, ttl=60, metadata={"purpose": "interop"})
    assert a["ok"] is True and a["status"] == "acquired"
    assert a["key"] == key and a["version"] == 1 and a["ttl"] == 60
    assert isinstance(a["lease_id"], str) and a["lease_id"].startswith("lease_")
    assert a["charged"] == 1 and a["limit"] == AGENCY_AI_LIMIT and isinstance(a["usage"], int)
    assert a["ttl_left"] is None and a["retry_after_sec"] is None  # R: null on acquired
    assert a["done_at"] is None and a["result_hash"] is None and a["error_code"] is None
    assert_iso_utc(a["first_seen_at"])
    lease_id = a["lease_id"]

    e = client.ai.extend(key, lease_id, ttl=60)
    assert e["ok"] is True and e["status"] == "extended" and e["version"] == 2 and e["ttl"] == 60

    st = client.ai.status(key)
    assert st.ok and st.status == "in_progress" and st.key == key and st.version == 2
    assert isinstance(st.ttl_left, int) and 0 < st.ttl_left <= 60

    result = {"answer": 42, "items": [1, 2, 3], "nested": {"ok": True}}
    c = client.ai.complete(key, lease_id, result=result)
    assert c["ok"] is True and c["status"] == "completed" and c["key"] == key and c["version"] == 3
    assert_iso_utc(c["done_at"])
    assert is_hex64(c["result_hash"])  # SHA-256 hex when the client sent none (R)

    # a repeated identical complete replays the stored answer (SDK retries POSTs)
    assert client.ai.complete(key, lease_id, result=result) == c
    expect_409(lambda: client.ai.fail(key, lease_id, error_code="late"), "lease_not_active")

    st = client.ai.status(key)
    assert st.status == "completed" and st.version == 3
    assert st.done_at == c["done_at"] and st.result_hash == c["result_hash"]
    assert st.error_code is None

    res = client.ai.result(key)
    assert isinstance(res, AiResult)
    assert res.ok and res.status == "completed" and res.key == key
    assert res.result == result and res.result_hash == c["result_hash"] and res.done_at == c["done_at"]

    again = client.ai.lease(key, ttl=60)  # terminal: reported, not re-acquired, not charged
    assert again["status"] == "completed" and again["charged"] == 0 and again["version"] == 3


def test_complete_with_client_result_hash(client, uniq):
    key = f"{uniq}:hash"
    a = client.ai.lease(key, ttl=60)
    c = client.ai.complete(key, a["lease_id"], result={"x": 1}, result_hash="client-hash-1")
    assert c["result_hash"] == "client-hash-1"
    assert client.ai.result(key).result_hash == "client-hash-1"


def test_lease_held_by_another_caller(client, client_factory, env, uniq):
    key = f"{uniq}:held"
    other = client_factory(env.key)
    a = client.ai.lease(key, ttl=60)
    assert a["status"] == "acquired"

    b = other.ai.lease(key, ttl=60)
    assert b["ok"] is True and b["status"] == "polling"  # R: `polling` on /ai/lease
    assert b["lease_id"] is None  # holder's lease_id hidden from non-owners (R)
    assert b["charged"] == 0 and b["retry_after_sec"] == 5 and b["version"] == 1
    assert isinstance(b["ttl_left"], int) and 0 < b["ttl_left"] <= 60
    assert b["first_seen_at"] == a["first_seen_at"]

    st = other.ai.status(key)
    assert st.status == "in_progress" and st.retry_after_sec == 5

    # foreign lease ids are refused and change nothing
    expect_409(lambda: other.ai.extend(key, "lease_not_mine", ttl=60), "lease_mismatch")
    expect_409(lambda: other.ai.complete(key, "lease_not_mine", result={"x": 1}), "lease_mismatch")
    expect_409(lambda: other.ai.fail(key, "lease_not_mine", error_code="x"), "lease_mismatch")
    expect_409(lambda: other.ai.cancel(key, "lease_not_mine"), "lease_mismatch")
    assert client.ai.status(key).version == 1

    res = other.ai.result(key)  # before completion: in_progress, no result (S/R)
    assert res.status == "in_progress" and res.result is None

    client.ai.complete(key, a["lease_id"], result={"by": "holder"})
    after = other.ai.lease(key, ttl=60)
    assert after["status"] == "completed" and after["charged"] == 0


def test_lease_fail(client, uniq):
    key = f"{uniq}:fail"
    a = client.ai.lease(key, ttl=60)
    f = client.ai.fail(key, a["lease_id"], error_code="upstream_timeout", error_hash="eh1")
    assert f["ok"] is True and f["status"] == "failed" and f["error_code"] == "upstream_timeout"
    assert f["version"] == 2
    assert_iso_utc(f["done_at"])

    st = client.ai.status(key)
    assert st.status == "failed" and st.error_code == "upstream_timeout" and st.done_at == f["done_at"]
    res = client.ai.result(key)
    assert res.status == "failed" and res.error_code == "upstream_timeout" and res.result is None

    assert client.ai.fail(key, a["lease_id"], error_code="upstream_timeout", error_hash="eh1") == f
    again = client.ai.lease(key, ttl=60)  # explicit fail is final (R)
    assert again["status"] == "failed" and again["charged"] == 0 and again["error_code"] == "upstream_timeout"


def test_lease_cancel_then_reacquire(client, uniq):
    key = f"{uniq}:cancel"
    a = client.ai.lease(key, ttl=60)
    c = client.ai.cancel(key, a["lease_id"], reason="operator stop")
    assert c["ok"] is True and c["status"] == "canceled" and c["version"] == 2
    assert client.ai.status(key).status == "canceled"

    b = client.ai.lease(key, ttl=60)
    assert b["status"] == "acquired" and b["charged"] == 1
    assert b["lease_id"] and b["lease_id"] != a["lease_id"]
    assert b["version"] == 3  # +1 on every mutation, never reset (R)
    expect_409(lambda: client.ai.extend(key, a["lease_id"], ttl=60), "lease_mismatch")
    client.ai.complete(key, b["lease_id"], result={"round": 2})
    assert client.ai.result(key).result == {"round": 2}


def test_lease_expiry_then_reacquire(client, uniq):
    key = f"{uniq}:expire"
    a = client.ai.lease(key, ttl=1)  # server runs with --min-ttl 1
    assert a["status"] == "acquired" and a["ttl"] == 1 and a["version"] == 1
    time.sleep(2.5)

    st = client.ai.status(key)
    assert st.status == "failed" and st.error_code == "lease_expired"  # R: pollers stop
    assert client.ai.result(key).status == "failed"
    expect_409(lambda: client.ai.extend(key, a["lease_id"], ttl=60), "lease_not_active")
    expect_409(lambda: client.ai.complete(key, a["lease_id"], result={"late": True}), "lease_not_active")

    b = client.ai.lease(key, ttl=60)  # crash recovery: re-acquire (R)
    assert b["status"] == "acquired" and b["charged"] == 1
    assert b["lease_id"] != a["lease_id"] and b["version"] > a["version"]
    c = client.ai.complete(key, b["lease_id"], result={"recovered": True})
    assert c["status"] == "completed" and c["version"] > b["version"]
    assert client.ai.result(key).result == {"recovered": True}


def test_status_and_result_unknown_key_404(client, uniq):
    for call in (client.ai.status, client.ai.result):
        with pytest.raises(ApiError) as ei:
            call(f"{uniq}:never-used")
        assert ei.value.status_code == 404 and ei.value.detail.get("error") == "not_found"


def test_lease_run_id_writes_timeline(client, uniq):
    run_id = f"run_{uniq}"
    key = f"{uniq}:run-lease"
    a = client.ai.lease(key, ttl=60, metadata={"run_id": run_id, "agent_id": "interop_bot"})
    assert a["status"] == "acquired"
    client.ai.complete(key, a["lease_id"], result={"done": 1})

    tl = client.get_run_timeline(run_id)
    assert tl["run_id"] == run_id
    types = [e["type"] for e in tl["events"]]
    assert "run_started" in types and "run_finished" in types, types
    assert types.index("run_started") < types.index("run_finished")
    assert tl["total"] == len(tl["events"]) >= 2
    finished = tl["events"][types.index("run_finished")]
    assert finished["status"] == "completed"
    for e in tl["events"]:
        assert e["run_id"] == run_id
        if e.get("lease_id") is not None:
            assert e["lease_id"] == a["lease_id"]

    run_id2 = f"run_{uniq}_2"
    key2 = f"{uniq}:run-lease-2"
    a2 = client.ai.lease(key2, ttl=60, metadata={"run_id": run_id2})
    client.ai.fail(key2, a2["lease_id"], error_code="boom")
    tl2 = client.get_run_timeline(run_id2)
    fin = [e for e in tl2["events"] if e["type"] == "run_finished"]
    assert fin and fin[-1]["status"] == "failed"


def test_ai_run_key_mode_without_actions(client, uniq):
    """Mode A /ai/run: same lease logic; no actions → completes at once with {"actions": []}."""
    key = f"{uniq}:mode-a"
    run_id = f"run_{uniq}_a"
    r = client.ai.run(key=key, ttl=60, run_id=run_id)
    assert isinstance(r, AiRun) and r.status == "acquired" and r.version == 1
    res = client.ai.wait(key, **FAST_WAIT)
    assert res.status == "completed" and res.result == {"actions": []}
    again = client.ai.run(key=key, ttl=60, run_id=run_id)
    assert isinstance(again, AiRun) and again.status == "completed" and again.charged == 0
    types = [e["type"] for e in client.get_run_timeline(run_id)["events"]]
    assert "run_started" in types and "run_finished" in types, types


# ----------------------------------------------------------------------------------------------
# run_fn and decorators
# ----------------------------------------------------------------------------------------------

def test_run_fn_runs_once(client, uniq):
    key = f"{uniq}:run-fn"
    calls = []

    def work():
        calls.append(1)
        return {"n": len(calls), "msg": "hello"}

    r1 = client.ai.run_fn(key, work, ttl=60, **FAST_WAIT)
    assert isinstance(r1, AiResult)
    assert r1.ok and r1.status == "completed" and r1.key == key
    assert r1.result == {"n": 1, "msg": "hello"} and is_hex64(r1.result_hash)
    assert_iso_utc(r1.done_at)

    r2 = client.ai.run_fn(key, work, ttl=60, **FAST_WAIT)
    assert calls == [1]  # not run again
    assert r2.status == "completed" and r2.result == r1.result and r2.result_hash == r1.result_hash


def test_run_fn_non_dict_result_is_wrapped(client, uniq):
    r = client.ai.run_fn(f"{uniq}:scalar", lambda: 42, ttl=60, **FAST_WAIT)
    assert r.status == "completed" and r.result == {"value": "42"}


def test_run_fn_failure_is_recorded(client, uniq):
    key = f"{uniq}:run-fn-fail"
    calls = []

    def boom():
        calls.append(1)
        raise RuntimeError("kaboom")

    with pytest.raises(RuntimeError, match="kaboom"):
        client.ai.run_fn(key, boom, ttl=60, error_code="boom_code", **FAST_WAIT)
    st = client.ai.status(key)
    assert st.status == "failed" and st.error_code == "boom_code"

    r = client.ai.run_fn(key, boom, ttl=60, **FAST_WAIT)
    assert calls == [1]
    assert r.status == "failed" and r.error_code == "boom_code" and r.result is None


def test_run_fn_waits_for_other_holder(client, client_factory, env, uniq):
    key = f"{uniq}:run-fn-wait"
    holder = client_factory(env.key)
    a = holder.ai.lease(key, ttl=60)
    assert a["status"] == "acquired"
    errors = []

    def finish_later():
        try:
            time.sleep(1.0)
            holder.ai.complete(key, a["lease_id"], result={"by": "holder"})
        except Exception as e:  # surfaced below
            errors.append(e)

    t = threading.Thread(target=finish_later, daemon=True)
    t.start()
    calls = []
    r = client.ai.run_fn(key, lambda: calls.append(1) or {"by": "me"}, ttl=60, **FAST_WAIT)
    t.join(10)
    assert not errors, errors
    assert calls == []
    assert r.status == "completed" and r.result == {"by": "holder"}


def test_run_fn_no_wait_on_conflict(client, uniq):
    key = f"{uniq}:run-fn-nowait"
    a = client.ai.lease(key, ttl=60)
    calls = []
    r = client.ai.run_fn(key, lambda: calls.append(1), ttl=60, wait_on_conflict=False)
    assert calls == []
    assert not r.ok and r.status == "polling" and r.error_code == "not_acquired"
    client.ai.cancel(key, a["lease_id"])


def test_idempotent_ai_decorator(client, uniq):
    calls = []

    @idempotent_ai(client, key_fn=lambda order_id: f"{uniq}:order:{order_id}", ttl=60,
                   metadata_fn=lambda order_id: {"order_id": order_id}, **FAST_WAIT)
    def charge(order_id):
        calls.append(order_id)
        return {"charged": order_id}

    r1 = charge("A")
    r2 = charge("A")
    r3 = charge("B")
    assert calls == ["A", "B"]
    assert all(isinstance(r, AiResult) for r in (r1, r2, r3))
    assert r1.status == r2.status == r3.status == "completed"
    assert r1.result == r2.result == {"charged": "A"} and r3.result == {"charged": "B"}
    assert client.ai.status(f"{uniq}:order:A").status == "completed"


def test_idempotent_ai_decorator_async(env, uniq):
    """Async twin. onceonly-sdk 3.0.5 bug: after fn ran and /ai/complete succeeded,
    run_fn_async cancels its heartbeat task and awaits it inside `except Exception`, so
    asyncio.CancelledError (a BaseException) escapes from the first call. The server side
    is what we check: fn ran once, the lease is completed, the second call reads the result."""
    calls = []
    key = f"{uniq}:async-fixed"

    async def main():
        async with OnceOnly(api_key=env.key, base_url=env.server.base_url, timeout=10.0,
                            fail_open=False) as c:
            @idempotent_ai(c, key=key, ttl=60, **FAST_WAIT)
            async def job():
                calls.append(1)
                await asyncio.sleep(0.05)
                return {"async": True}

            try:
                first = await job()
            except asyncio.CancelledError:  # SDK bug described above
                first = None
            second = await job()
            return first, second, await c.ai.status_async(key)

    r1, r2, st = asyncio.run(main())
    assert calls == [1]
    assert st.status == "completed"
    assert r2.status == "completed" and r2.result == {"async": True}
    if r1 is not None:
        assert r1.result == {"async": True}


def test_idempotent_check_lock_decorator(client, uniq):
    calls = []

    @idempotent(client, key_prefix=uniq, ttl=60, return_value_on_duplicate="DUP")
    def send(to):
        calls.append(to)
        return f"sent {to}"

    assert send("a@example.com") == "sent a@example.com"
    assert send("a@example.com") == "DUP"
    assert send("b@example.com") == "sent b@example.com"
    assert calls == ["a@example.com", "b@example.com"]


# ----------------------------------------------------------------------------------------------
# runs and events
# ----------------------------------------------------------------------------------------------

def test_post_event_and_run_timeline(client, uniq):
    run_id = f"run_{uniq}"
    now = int(time.time())
    r1 = client.post_event(run_id=run_id, type="run_started", ts=now - 3, status="started",
                           agent_id="interop_bot", data={"customer_id": "cus_1"})
    assert r1["ok"] is True and isinstance(r1["event_id"], int) and r1["run_id"] == run_id
    r2 = client.post_event(run_id=run_id, type="tool_call", ts=now - 2, status="start",
                           step="step_1", tool="send_email", req_id="req-1", lease_id="lease_x",
                           agent_id="interop_bot", message="calling", duration_ms=12,
                           data={"to": "user@example.com"}, unknown_extra_field="ignored")
    r3 = client.post_event(run_id=run_id, type="note", message="server stamps ts")
    ids = [r1["event_id"], r2["event_id"], r3["event_id"]]
    assert ids == sorted(ids) and len(set(ids)) == 3

    tl = client.get_run_timeline(run_id)
    assert tl["run_id"] == run_id and tl["total"] == 3
    evs = tl["events"]
    assert [e["type"] for e in evs] == ["run_started", "tool_call", "note"]  # chronological
    assert [e["id"] for e in evs] == ids
    assert [e["ts"] for e in evs] == sorted(e["ts"] for e in evs)
    assert evs[0]["ts"] == now - 3 and evs[0]["status"] == "started" and evs[0]["data"] == {"customer_id": "cus_1"}
    e2 = evs[1]
    assert (e2["ts"], e2["status"], e2["step"], e2["tool"], e2["req_id"], e2["lease_id"],
            e2["agent_id"], e2["message"], e2["duration_ms"], e2["data"]) == (
        now - 2, "start", "step_1", "send_email", "req-1", "lease_x",
        "interop_bot", "calling", 12, {"to": "user@example.com"})
    assert isinstance(evs[2]["ts"], int) and abs(evs[2]["ts"] - time.time()) < 60
    assert evs[2]["step"] is None and evs[2]["tool"] is None and evs[2]["duration_ms"] is None

    page = client.get_run_timeline(run_id, limit=2)
    assert page["total"] == 3 and [e["type"] for e in page["events"]] == ["run_started", "tool_call"]
    page = client.get_run_timeline(run_id, limit=2, offset=2)
    assert page["total"] == 3 and [e["type"] for e in page["events"]] == ["note"]


def test_unknown_run_timeline_is_empty(client, uniq):
    tl = client.get_run_timeline(f"run_{uniq}_nothing")
    assert tl == {"run_id": f"run_{uniq}_nothing", "total": 0, "events": []}


def test_run_id_with_reserved_characters(client, uniq):
    run_id = f"run {uniq}/a?b#c%d"  # the SDK percent-encodes it into one path segment
    client.post_event(run_id=run_id, type="note")
    tl = client.get_run_timeline(run_id)
    assert tl["run_id"] == run_id and tl["total"] == 1


def test_events_feed(client, env, uniq):
    key = f"{uniq}:feed"
    client.check_lock(key, ttl=60)
    client.check_lock(key, ttl=60)
    lkey = f"{uniq}:feed-lease"
    a = client.ai.lease(lkey, ttl=60)
    client.ai.complete(lkey, a["lease_id"], result={})

    feed = client.events(limit=50)
    assert isinstance(feed, dict) and isinstance(feed.get("data"), list)  # SDK wraps the array
    items = feed["data"]
    for it in items:
        assert isinstance(it["ts"], int) and isinstance(it["type"], str)
    assert [it["ts"] for it in items] == sorted((it["ts"] for it in items), reverse=True)  # newest first

    mine = [it for it in items if it.get("key") == key]
    assert [it["type"] for it in mine] == ["duplicate", "locked"]
    assert_iso_utc(mine[0]["first_seen_at"])
    lease_items = [it for it in items if it.get("key") == lkey]
    assert [it["type"] for it in lease_items] == ["ai_completed", "ai_acquired"]
    acq = lease_items[1]
    assert acq["lease_id"] == a["lease_id"] and acq["version"] == 1 and acq["charged"] == 1

    assert len(client.events(limit=1)["data"]) == 1
    assert client.events(limit=2, offset=1)["data"][0] == items[1]

    raw = raw_get(env, "/events", {"limit": 5})
    assert raw.status_code == 200 and isinstance(raw.json(), list)  # a bare array on the wire


# ----------------------------------------------------------------------------------------------
# usage, metrics, me
# ----------------------------------------------------------------------------------------------

def test_usage_make_and_ai(client, uniq):
    make0 = client.usage("make")
    assert make0["plan"] == "agency" and re.fullmatch(r"\d{4}-\d\d", make0["month"])
    assert make0["limit"] == AGENCY_MAKE_LIMIT
    for f in ("usage", "requests_total_month", "blocked_total_month"):
        assert isinstance(make0[f], int)
    assert client.usage() == make0  # default kind is make

    key = f"{uniq}:usage"
    client.check_lock(key, ttl=60)
    client.check_lock(key, ttl=60)
    make1 = client.usage("make")
    assert make1["requests_total_month"] == make0["requests_total_month"] + 2
    assert make1["usage"] == make0["usage"] + 1  # R: duplicates answered are the billed unit
    assert make1["blocked_total_month"] == make0["blocked_total_month"]

    ai0 = client.usage("ai")
    assert ai0["limit"] == AGENCY_AI_LIMIT
    lkey = f"{uniq}:usage-lease"
    a = client.ai.lease(lkey, ttl=60)
    client.ai.lease(lkey, ttl=60)  # polling: counted, not charged
    client.ai.status(lkey)         # free
    client.ai.complete(lkey, a["lease_id"], result={})
    ai1 = client.usage("ai")
    assert ai1["usage"] == ai0["usage"] + 1
    assert ai1["requests_total_month"] == ai0["requests_total_month"] + 2
    assert a["usage"] == ai1["usage"]  # lease answer carries the post-call counter


def test_usage_all(client, env, uniq):
    u0 = client.usage_all()
    assert u0["plan"] == "agency" and re.fullmatch(r"\d{4}-\d\d", u0["month"])
    fields = ("usage", "limit", "requests_total_month", "blocked_total_month",
              "charged_total_month", "polling_total_month")
    for kind in ("make", "ai"):
        for f in fields:
            assert isinstance(u0[kind][f], int), (kind, f)
    assert u0["make"]["limit"] == AGENCY_MAKE_LIMIT and u0["ai"]["limit"] == AGENCY_AI_LIMIT

    key = f"{uniq}:usage-all"
    a = client.ai.lease(key, ttl=60)
    client.ai.lease(key, ttl=60)
    client.ai.cancel(key, a["lease_id"])
    u1 = client.usage_all()
    assert u1["ai"]["charged_total_month"] == u0["ai"]["charged_total_month"] + 1
    assert u1["ai"]["polling_total_month"] == u0["ai"]["polling_total_month"] + 1
    assert u1["make"]["charged_total_month"] == 0 and u1["make"]["polling_total_month"] == 0  # R

    raw = raw_get(env, "/usage/all")
    assert raw.headers.get("X-OnceOnly-Plan") == "agency"
    assert raw.headers.get("X-OnceOnly-Month") == u1["month"]
    assert raw.headers.get("X-Request-Id")


def test_metrics(client, env, uniq):
    today = today_utc()
    frm, to = (today - dt.timedelta(days=2)).isoformat(), today.isoformat()

    def today_row():
        rows = client.metrics(frm, to)
        assert isinstance(rows, dict) and isinstance(rows.get("data"), list)  # SDK-wrapped array
        days = [r["day"] for r in rows["data"]]
        assert days == [(today - dt.timedelta(days=i)).isoformat() for i in (2, 1, 0)]  # zero-filled, ascending
        for r in rows["data"]:
            for f in ("checks_total", "locks_created", "duplicates_blocked", "rate_limited",
                      "ai_acquired", "ai_completed", "ai_failed"):
                assert isinstance(r[f], int), (r, f)
        return rows["data"][-1]

    m0 = today_row()
    key = f"{uniq}:metrics"
    client.check_lock(key, ttl=60)
    client.check_lock(key, ttl=60)
    a = client.ai.lease(f"{key}-ok", ttl=60)
    client.ai.complete(f"{key}-ok", a["lease_id"], result={})
    b = client.ai.lease(f"{key}-bad", ttl=60)
    client.ai.fail(f"{key}-bad", b["lease_id"], error_code="x")
    m1 = today_row()
    assert m1["checks_total"] == m0["checks_total"] + 2
    assert m1["locks_created"] == m0["locks_created"] + 1
    assert m1["duplicates_blocked"] == m0["duplicates_blocked"] + 1
    assert m1["ai_acquired"] == m0["ai_acquired"] + 2
    assert m1["ai_completed"] == m0["ai_completed"] + 1
    assert m1["ai_failed"] == m0["ai_failed"] + 1

    raw = raw_get(env, "/metrics", {"from_day": to, "to_day": to})
    assert raw.status_code == 200 and isinstance(raw.json(), list) and len(raw.json()) == 1


def test_me(client, env):
    me = client.me()
    assert me["plan"] == "agency"  # self-host default (R)
    preview = me["key_preview"]
    assert isinstance(preview, str) and preview.startswith("once_live_")
    assert env.key not in preview and len(preview) < len(env.key)
    assert me["is_active"] is True
    for f in ("email_notifications_enabled", "tool_error_notifications_enabled",
              "run_failure_notifications_enabled"):
        assert isinstance(me[f], bool), f
    for f in ("requests_total_all_time", "blocked_total_all_time"):
        assert isinstance(me[f], int), f


def test_me_free_plan(client_factory, env):
    free = client_factory(env.free_key)
    assert free.me()["plan"] == "free"
    assert free.usage("make")["limit"] == 1000 and free.usage("ai")["limit"] == 3000


def test_update_notifications(client):
    out = client.update_notifications(email_notifications_enabled=True,
                                      tool_error_notifications_enabled=False,
                                      run_failure_notifications_enabled=True)
    assert out == {"email_notifications_enabled": True,
                   "tool_error_notifications_enabled": False,
                   "run_failure_notifications_enabled": True}
    out = client.update_notifications(run_failure_notifications_enabled=False)  # partial update
    assert out == {"email_notifications_enabled": True,
                   "tool_error_notifications_enabled": False,
                   "run_failure_notifications_enabled": False}
    me = client.me()
    assert (me["email_notifications_enabled"], me["tool_error_notifications_enabled"],
            me["run_failure_notifications_enabled"]) == (True, False, False)
    with pytest.raises(ValueError):  # the SDK refuses an empty update client-side
        client.update_notifications()


# ----------------------------------------------------------------------------------------------
# typed errors
# ----------------------------------------------------------------------------------------------

def test_401_without_authorization(env, transcript):
    """An empty api_key is refused by httpx itself ("Bearer " is an illegal header value), so
    the SDK is given its documented `sync_client` hook: an httpx client without Authorization."""
    from conftest import attach
    for headers in ({}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        bare = httpx.Client(base_url=env.server.base_url + "/v1", timeout=10.0, headers=headers)
        c = attach(OnceOnly(api_key="unused", base_url=env.server.base_url, sync_client=bare,
                            fail_open=True), transcript)
        try:
            with pytest.raises(UnauthorizedError) as ei:
                c.me()
            if not headers:
                assert str(ei.value) == "Missing Authorization Bearer token"
            with pytest.raises(UnauthorizedError):
                c.check_lock("k401", ttl=60)  # never fails open on 401
            with pytest.raises(UnauthorizedError):
                c.ai.lease("k401", ttl=60)
        finally:
            bare.close()


@pytest.mark.parametrize("which", ["bogus", "revoked"])
def test_403_bad_key(client_factory, env, which):
    key = "once_live_bogus" if which == "bogus" else env.revoked_key
    c = client_factory(key, fail_open=True)
    with pytest.raises(UnauthorizedError) as ei:
        c.me()
    expected = {"Invalid API key"} if which == "bogus" else {"Invalid API key", "API key disabled"}
    assert str(ei.value) in expected
    with pytest.raises(UnauthorizedError):
        c.check_lock("k403", ttl=60)  # never fails open on 403
    with pytest.raises(UnauthorizedError):
        c.ai.lease("k403", ttl=60)
    with pytest.raises(UnauthorizedError):
        c.usage_all()


def _big_meta():
    return {"blob": "x" * 3000}


VALIDATION_CASES = {
    "check_lock key 300 chars": lambda c, u: c.check_lock("k" * 300, ttl=60),
    "check_lock key 257 chars": lambda c, u: c.check_lock("k" * 257, ttl=60),
    "check_lock empty key": lambda c, u: c.check_lock("", ttl=60),
    "check_lock ttl -5": lambda c, u: c.check_lock(f"{u}:neg", ttl=-5),
    "check_lock ttl 0": lambda c, u: c.check_lock(f"{u}:zero", ttl=0),
    "check_lock metadata > 2048 bytes": lambda c, u: c.check_lock(f"{u}:meta", ttl=60, meta=_big_meta()),
    "lease key 300 chars": lambda c, u: c.ai.lease("k" * 300, ttl=60),
    "lease ttl -5": lambda c, u: c.ai.lease(f"{u}:neg", ttl=-5),
    "lease metadata > 2048 bytes": lambda c, u: c.ai.lease(f"{u}:meta", ttl=60, metadata=_big_meta()),
    "post_event blank run_id": lambda c, u: c.post_event(run_id="   ", type="note"),
    "post_event blank type": lambda c, u: c.post_event(run_id=f"run_{u}", type=""),
    "usage unknown kind": lambda c, u: c.usage("bogus"),
    "metrics from_day > to_day": lambda c, u: c.metrics("2026-03-02", "2026-03-01"),
    "metrics span > 366 days": lambda c, u: c.metrics("2024-01-01", "2026-01-01"),
    "metrics bad date": lambda c, u: c.metrics("yesterday", "2026-03-01"),
}


@pytest.mark.parametrize("case", list(VALIDATION_CASES))
def test_422_validation(client, uniq, case):
    with pytest.raises(ValidationError):
        VALIDATION_CASES[case](client, uniq)


def test_bad_input_changes_nothing(client, uniq):
    with pytest.raises(ValidationError):
        client.check_lock(f"{uniq}:neg", ttl=-5)
    assert client.check_lock(f"{uniq}:neg", ttl=60).locked
    with pytest.raises(ValidationError):
        client.ai.lease(f"{uniq}:neg", ttl=-5)
    assert client.ai.lease(f"{uniq}:neg", ttl=60)["version"] == 1


def test_key_length_boundaries(client):
    import uuid as _uuid
    u = _uuid.uuid4().hex  # 32 chars
    ascii_key = (u + "k" * 300)[:256]
    assert client.check_lock(ascii_key, ttl=60).locked
    wide = (u + "é" * 300)[:256]  # 256 characters, more than 256 bytes (R: count characters)
    assert client.check_lock(wide, ttl=60).locked
    assert client.check_lock(wide, ttl=60).key == wide
