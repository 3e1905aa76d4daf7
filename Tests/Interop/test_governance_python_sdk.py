"""The official Python SDK's governance calls (`gov.*`) and its 429 handling against a real
once-server (policies, templates, the kill switch, agent logs and metrics; rate limits).
Tools and `ai.run_tool` are in test_tools_python_sdk.py."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from onceonly import OnceOnly
from onceonly.exceptions import ApiError, RateLimitError, ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "PySupport"))
from once_procs import _stop, create_key, new_database, start_server  # noqa: E402

from conftest import make_client  # noqa: E402


def test_upsert_get_list_policy(client, uniq):
    agent = f"{uniq}-bot"
    p = client.gov.upsert_policy({"max_actions_per_hour": 100, "max_spend_usd_per_day": 50}, agent_id=agent)
    assert p.agent_id == agent
    assert p.max_actions_per_hour == 100
    assert p.max_spend_usd_per_day == 50
    # A single-field repair keeps the rest; null removes a field.
    p = client.gov.upsert_policy({"agent_id": agent, "max_spend_usd_per_day": None, "blocked_tools": []})
    assert p.policy == {"max_actions_per_hour": 100, "blocked_tools": []}
    got = client.gov.get_policy(agent)
    assert got.policy == p.policy
    listed = {x.agent_id: x.policy for x in client.gov.list_policies()}
    assert listed[agent] == p.policy


def test_unknown_tools_is_an_api_error_with_the_tools(client, uniq):
    with pytest.raises(ApiError) as e:
        client.gov.upsert_policy({"allowed_tools": ["stripe.charge"]}, agent_id=f"{uniq}-bot")
    assert e.value.status_code == 400
    assert e.value.detail["error"] == "unknown_tools"
    assert e.value.detail["tools"] == ["stripe.charge"]
    with pytest.raises(ApiError) as missing:
        client.gov.get_policy(f"{uniq}-bot")
    assert missing.value.status_code == 404


def test_policy_from_template(client, uniq):
    p = client.gov.policy_from_template(f"{uniq}-support", "support_bot", {"max_actions_per_hour": 10})
    assert p.max_actions_per_hour == 10
    assert p.max_spend_usd_per_day == 50
    assert "send_email" in p.allowed_tools
    assert "process_refund" in p.blocked_tools
    assert p.max_calls_per_tool["send_email"] == 500
    with pytest.raises(ValidationError):
        client.gov.policy_from_template(f"{uniq}-x", "no_such_template")


def test_templates_and_kill_switch_are_gated_on_the_free_plan(client_factory, env, uniq):
    free = client_factory(env.free_key)
    with pytest.raises(ApiError) as e:
        free.gov.policy_from_template(f"{uniq}-x", "strict")
    assert e.value.status_code == 403
    assert e.value.detail["error"] == "feature_not_available"
    with pytest.raises(ApiError):
        free.gov.disable_agent(f"{uniq}-x", "test")
    # Free keeps allow/block lists but drops the caps.
    p = free.gov.upsert_policy({"blocked_tools": [], "max_actions_per_hour": 5}, agent_id=f"{uniq}-x")
    assert p.policy == {"blocked_tools": []}


def test_kill_switch_round_trip(client, uniq):
    agent = f"{uniq}-bot"
    off = client.gov.disable_agent(agent, "suspicious_activity_detected")
    assert off.agent_id == agent
    assert off.is_enabled is False
    assert off.disabled_reason == "suspicious_activity_detected"
    assert off.disabled_at and off.disabled_at.endswith("Z")
    again = client.gov.disable_agent(agent)
    assert again.disabled_at == off.disabled_at
    on = client.gov.enable_agent(agent)
    assert on.is_enabled is True and on.enabled is True
    assert on.disabled_reason is None and on.disabled_at is None


def test_agent_logs_and_metrics_of_a_new_agent(client, uniq):
    agent = f"{uniq}-quiet"
    assert client.gov.agent_logs(agent, limit=10) == []
    for period in ("hour", "day", "week"):
        m = client.gov.agent_metrics(agent, period=period)
        assert (m.agent_id, m.period, m.total_actions, m.blocked_actions, m.total_spend_usd, m.top_tools) == (
            agent, period, 0, 0, 0.0, [])
    with pytest.raises(ValidationError):
        client.gov.agent_logs(agent, limit=501)


@pytest.fixture(scope="module")
def limited():
    """A server with a tiny token bucket: 2 requests at once, then 2 a second."""
    with tempfile.TemporaryDirectory(prefix="once-interop-rate-") as tmp:
        db = new_database(Path(tmp))
        key = create_key(db, name="interop-rate")
        srv = start_server(db, "--rate-limit", "2", "--rate-burst", "2")
        try:
            yield srv, key
        finally:
            _stop(srv.proc)


def test_429_carries_an_integer_retry_after(limited, transcript, uniq):
    srv, key = limited
    c = make_client(srv.base_url, key, transcript)
    try:
        with pytest.raises(RateLimitError) as e:
            for i in range(10):
                c.check_lock(f"{uniq}-{i}", ttl=60)
        assert e.value.retry_after_sec is not None and e.value.retry_after_sec >= 1
        assert float(e.value.retry_after_sec).is_integer()
    finally:
        c.close()


def test_sdk_retry_loop_rides_out_429s(limited, transcript, uniq):
    srv, key = limited
    c = make_client(srv.base_url, key, transcript, max_retries_429=20, retry_backoff=0.1, retry_max_backoff=2.0)
    try:
        results = [c.check_lock(f"{uniq}-ride-{i}", ttl=60) for i in range(8)]
        assert all(r.locked for r in results)
        assert any(" -> 429 " in entry for entry in transcript.entries), "the bucket never ran dry"
    finally:
        c.close()
