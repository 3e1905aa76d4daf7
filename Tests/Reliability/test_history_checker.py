"""The checkers themselves, on hand-written histories: each rule accepts a correct history and
rejects the violation it exists for (so a green reliability run means something)."""

from __future__ import annotations

from history_check import (Op, check_finishes_are_seen, check_grants, check_linearizable,
                           check_versions_never_go_back)


def op(kind, t0, t1, status=200, client=0, key="k", **fields):
    args = {k: v for k, v in fields.items() if k in ("lease_id", "result", "ttl", "error_code")}
    body = fields.get("body")
    return Op(client=client, key=key, kind=kind, args=args, invoke=t0, ret=t1, status=status, body=body)


def acquired(t0, t1, lid, v, ttl=10, client=0):
    return op("acquire", t0, t1, body={"status": "acquired", "lease_id": lid, "version": v, "ttl": ttl},
              client=client)


def polling(t0, t1, v, client=1):
    return op("acquire", t0, t1, body={"status": "polling", "lease_id": None, "version": v, "ttl": 10},
              client=client)


def test_grants_after_expiry_or_release_pass():
    h = [acquired(0.0, 0.1, "a", 1, ttl=2), acquired(2.05, 2.1, "b", 2, ttl=2),
         op("cancel", 3.0, 3.1, lease_id="b", body={"status": "canceled", "version": 3}),
         acquired(3.05, 3.2, "c", 4)]
    assert check_grants(h) == []


def test_overlapping_grants_are_caught():
    h = [acquired(0.0, 0.1, "a", 1, ttl=10), acquired(5.0, 5.1, "b", 2)]
    assert any("overlap" in v for v in check_grants(h))


def test_an_extend_pushes_the_end():
    h = [acquired(0.0, 0.1, "a", 1, ttl=2),
         op("extend", 1.5, 1.6, lease_id="a", body={"status": "extended", "ttl": 2, "version": 2}),
         acquired(2.5, 2.6, "b", 3)]
    assert any("overlap" in v for v in check_grants(h))


def test_a_lower_version_for_a_later_grant_is_caught():
    h = [acquired(0.0, 0.1, "a", 5, ttl=1), acquired(2.0, 2.1, "b", 3, ttl=1)]
    assert any("not above" in v for v in check_grants(h))


def test_a_version_granted_twice_is_caught():
    h = [acquired(0.0, 0.1, "a", 1, ttl=1), acquired(2.0, 2.1, "b", 1, ttl=1)]
    assert any("granted to" in v for v in check_grants(h))


def test_versions_going_back_are_caught():
    h = [acquired(0.0, 0.1, "a", 7), op("status", 0.5, 0.6, body={"status": "in_progress", "version": 6})]
    assert check_versions_never_go_back(h)
    assert check_versions_never_go_back(h[:1] + [op("status", 0.5, 0.6, body={"status": "in_progress",
                                                                              "version": 7})]) == []


def test_a_lost_completion_is_caught():
    done = op("complete", 1.0, 1.1, lease_id="a", result={"n": 1}, body={"status": "completed", "version": 2})
    h = [acquired(0.0, 0.1, "a", 1), done,
         op("result", 2.0, 2.1, body={"status": "completed", "result": {"n": 1}})]
    assert check_finishes_are_seen(h) == []
    lost = [acquired(0.0, 0.1, "a", 1), done, acquired(2.0, 2.1, "b", 2)]
    assert check_finishes_are_seen(lost)
    other = [acquired(0.0, 0.1, "a", 1), done, op("result", 2.0, 2.1, body={"status": "completed", "result": {}})]
    assert check_finishes_are_seen(other)


def test_linearizable_race_passes_and_two_winners_fail():
    race = [acquired(0.0, 0.3, "a", 1, client=0)] + [polling(0.0, 0.3, 1, client=i) for i in range(1, 20)]
    assert check_linearizable(race) == []
    two = race + [acquired(0.0, 0.3, "b", 2, client=99)]
    assert check_linearizable(two)


def test_a_read_before_the_grant_seeing_the_grant_fails():
    h = [op("status", 0.0, 0.1, body={"status": "in_progress", "version": 1}), acquired(0.5, 0.6, "a", 1)]
    assert check_linearizable(h)


def test_unanswered_operations_may_or_may_not_have_happened():
    lost_cancel = Op(client=0, key="k", kind="cancel", args={"lease_id": "a"}, invoke=1.0)
    took_effect = [acquired(0.0, 0.1, "a", 1), lost_cancel, acquired(2.0, 2.1, "b", 3)]
    assert check_linearizable(took_effect) == []
    did_not = [acquired(0.0, 0.1, "a", 1), lost_cancel, polling(2.0, 2.1, 1)]
    assert check_linearizable(did_not) == []


def test_complete_replay_and_conflicts_fit_the_model():
    h = [acquired(0.0, 0.1, "a", 1),
         op("complete", 0.2, 0.3, lease_id="a", body={"status": "completed", "version": 2}),
         op("complete", 0.4, 0.5, lease_id="a", body={"status": "completed", "version": 2}),
         op("fail", 0.6, 0.7, status=409, lease_id="a", body={"detail": {"error": "lease_not_active"}}),
         op("cancel", 0.8, 0.9, status=409, lease_id="a", body={"detail": {"error": "lease_not_active"}}),
         op("complete", 0.95, 0.99, status=409, lease_id="b", body={"detail": {"error": "lease_mismatch"}})]
    assert check_linearizable(h) == []
    wrong = h + [op("fail", 1.0, 1.1, lease_id="a", body={"status": "failed", "version": 3})]
    assert check_linearizable(wrong)


def test_only_an_identical_finish_is_a_replay():
    first = op("complete", 0.2, 0.3, lease_id="a", result={"n": 1}, body={"status": "completed", "version": 2})
    same = op("complete", 0.4, 0.5, lease_id="a", result={"n": 1}, body={"status": "completed", "version": 2})
    other = op("complete", 0.4, 0.5, lease_id="a", result={"n": 2}, body={"status": "completed", "version": 2})
    assert check_linearizable([acquired(0.0, 0.1, "a", 1), first, same]) == []
    assert check_linearizable([acquired(0.0, 0.1, "a", 1), first, other])
