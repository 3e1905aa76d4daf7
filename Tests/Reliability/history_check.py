"""Checkers for recorded lease histories (scenario H of the reliability reference).

Two kinds:

* Interval checks, which hold with expiry in play: no two grants of one key overlap in time,
  fencing versions are ordered like the grants, versions a client reads never go back, and
  every acknowledged finish is what later reads see.
* A linearizability check in the style of Porcupine (Wing & Gong's search with memoisation)
  against a sequential model of one key's lease register, for histories whose leases do not
  expire during the test (long TTLs): is there one order of the operations, consistent with
  real time, in which the model gives every answer the server gave?

Times are client-side monotonic seconds. An operation without an answer (timeout, reset
connection, 5xx) may or may not have taken effect; the checkers allow both.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "PySupport"))
from once_http import Op  # noqa: E402

RELEASES = ("complete", "fail", "cancel")
FINISHED = {"complete": "completed", "fail": "failed"}


def by_key(ops: Iterable[Op]) -> Dict[str, List[Op]]:
    keys: Dict[str, List[Op]] = defaultdict(list)
    for op in ops:
        keys[op.key].append(op)
    return keys


@dataclass
class Grant:
    key: str
    lease_id: str
    version: int
    ttl: int
    invoke: float
    ack: float
    end: float  # the earliest moment the lease may have ended (release sent or TTL run out)


def grants_of(ops: List[Op]) -> List[Grant]:
    """The acknowledged grants of one key's operations, each with its earliest possible end."""
    grants = []
    for op in ops:
        if op.kind == "acquire" and op.answered and op.status == 200 and op.body.get("status") == "acquired":
            grants.append(Grant(op.key, op.body["lease_id"], op.body["version"], op.body["ttl"],
                                op.invoke, op.ret, float("inf")))
    for g in grants:
        # The lease lasts at least its TTL from the moment the acquire was sent, pushed on by
        # every acknowledged extend (each took effect after it was sent).
        expiry = g.invoke + g.ttl
        release = float("inf")
        for op in ops:
            if op.args.get("lease_id") != g.lease_id:
                continue
            if op.kind == "extend" and op.answered and op.status == 200:
                expiry = max(expiry, op.invoke + op.body.get("ttl", g.ttl))
            elif op.kind in RELEASES:
                # Any release attempt, answered or not, may have ended the lease when it arrived.
                release = min(release, op.invoke)
        g.end = min(expiry, release)
    return grants


def check_grants(ops: Iterable[Op]) -> List[str]:
    """No two grants of a key overlap; versions and lease ids are unique and ordered like grants."""
    violations = []
    for key, kops in by_key(ops).items():
        grants = grants_of(kops)
        seen_ids: Dict[str, Grant] = {}
        seen_versions: Dict[int, Grant] = {}
        for g in grants:
            if g.lease_id in seen_ids:
                violations.append(f"{key}: lease_id {g.lease_id} granted twice")
            seen_ids[g.lease_id] = g
            if g.version in seen_versions:
                violations.append(f"{key}: version {g.version} granted to {seen_versions[g.version].lease_id} "
                                  f"and {g.lease_id}")
            seen_versions[g.version] = g
        for i, a in enumerate(grants):
            for b in grants[i + 1:]:
                # Both were certainly held during [latest ack, earliest end).
                if max(a.ack, b.ack) < min(a.end, b.end):
                    violations.append(
                        f"{key}: grants {a.lease_id} (v{a.version}) and {b.lease_id} (v{b.version}) overlap: "
                        f"both held during [{max(a.ack, b.ack):.3f}, {min(a.end, b.end):.3f})")
                first, second = (a, b) if a.ack < b.invoke else (b, a) if b.ack < a.invoke else (None, None)
                if first is not None and not first.version < second.version:
                    violations.append(f"{key}: {second.lease_id} granted after {first.lease_id} but its version "
                                      f"{second.version} is not above {first.version}")
    return violations


def version_of(op: Op) -> Optional[int]:
    if not op.answered or op.status != 200 or not isinstance(op.body, dict):
        return None
    v = op.body.get("version")
    return v if isinstance(v, int) else None


def check_versions_never_go_back(ops: Iterable[Op]) -> List[str]:
    """A version read after another answer of the same key was received is never lower."""
    violations = []
    for key, kops in by_key(ops).items():
        versioned = sorted(((op.ret, op.invoke, v, op) for op in kops if (v := version_of(op)) is not None),
                           key=lambda t: t[0])
        best_before: List[Tuple[float, int]] = []  # (ack time, highest version acknowledged by then)
        highest = 0
        for ret, _, v, _ in versioned:
            highest = max(highest, v)
            best_before.append((ret, highest))
        for op in kops:
            v = version_of(op)
            if v is None:
                continue
            floor = max((h for ack, h in best_before if ack < op.invoke), default=0)
            if v < floor:
                violations.append(f"{key}: {op.kind} sent at {op.invoke:.3f} read version {v} after version "
                                  f"{floor} was acknowledged")
    return violations


def check_finishes_are_seen(ops: Iterable[Op]) -> List[str]:
    """After a complete or fail is acknowledged, every later read and acquire sees that outcome."""
    violations = []
    for key, kops in by_key(ops).items():
        done = [op for op in kops if op.kind in FINISHED and op.answered and op.status == 200]
        for fin in done:
            want = FINISHED[fin.kind]
            for op in kops:
                if op.invoke <= fin.ret or not op.answered:
                    continue
                if op.kind in ("acquire", "status", "result") and op.status == 200:
                    got = op.body.get("status")
                    if got != want:
                        violations.append(f"{key}: {op.kind} sent {op.invoke - fin.ret:.3f}s after an acknowledged "
                                          f"{fin.kind} saw {got!r}, not {want!r}")
                    elif op.kind == "result" and fin.kind == "complete" and "result" in fin.args \
                            and op.body.get("result") != fin.args["result"]:
                        violations.append(f"{key}: result {op.body.get('result')!r} is not the acknowledged "
                                          f"{fin.args['result']!r}")
                elif op.kind in ("status", "result") and op.status == 404:
                    violations.append(f"{key}: {op.kind} found no record after an acknowledged {fin.kind}")
    return violations


def check_all(ops: Iterable[Op]) -> List[str]:
    ops = list(ops)
    return check_grants(ops) + check_versions_never_go_back(ops) + check_finishes_are_seen(ops)


# --- Linearizability against a sequential model of one key (no expiry) --------------------------

# Model state: None (absent) or (state, lease_id, version, payload): state is held, completed,
# failed or canceled; payload is what the finishing request carried (its result or error code),
# since only an identical finish is a replay (Stripe's rule: same key, other parameters = error).
State = Optional[Tuple[str, Optional[str], int, Optional[str]]]


def payload(op: Op) -> Optional[str]:
    if op.kind == "complete":
        return json.dumps(op.args.get("result"), sort_keys=True)
    if op.kind == "fail":
        return str(op.args.get("error_code"))
    return None


def step(state: State, op: Op) -> Tuple[bool, State]:
    """Whether the model gives `op`'s answer in `state`, and the state after it.

    An unanswered `op` matches whatever the model answers (it may have taken effect)."""
    known = op.answered
    st, lid, ver, done_with = state if state is not None else ("absent", None, 0, None)
    body = op.body if known and isinstance(op.body, dict) else {}
    if op.kind == "acquire":
        if st in ("absent", "canceled"):
            nxt = ("held", body.get("lease_id") if known else f"?{op.invoke}", ver + 1, None)
            ok = not known or (op.status == 200 and body.get("status") == "acquired" and body.get("version") == ver + 1)
            return ok, nxt
        want = {"held": "polling", "completed": "completed", "failed": "failed"}[st]
        ok = not known or (op.status == 200 and body.get("status") == want and body.get("version") == ver)
        return ok, state
    if op.kind in ("status", "result"):
        if st == "absent":
            return (not known or op.status == 404), state
        want = {"held": "in_progress", "completed": "completed", "failed": "failed", "canceled": "canceled"}[st]
        ok = not known or (op.status == 200 and body.get("status") == want
                           and (op.kind == "result" or body.get("version") == ver))
        return ok, state
    mine = op.args.get("lease_id") is not None and op.args.get("lease_id") == lid
    if op.kind == "extend":
        if st == "held" and mine:
            return (not known or (op.status == 200 and body.get("version") == ver + 1)), (st, lid, ver + 1, None)
        return (not known or op.status in (404, 409)), state
    if op.kind in RELEASES:
        target = {"complete": "completed", "fail": "failed", "cancel": "canceled"}[op.kind]
        if st == "held" and mine:
            return (not known or (op.status == 200 and body.get("version") == ver + 1)), \
                (target, lid, ver + 1, payload(op))
        if st == target and mine and payload(op) == done_with:
            return (not known or (op.status == 200 and body.get("version") == ver)), state  # replay
        return (not known or op.status in (404, 409)), state
    raise ValueError(f"no model for {op.kind}")


class Inconclusive(Exception):
    pass


def linearizable(ops: List[Op], budget: int = 200_000) -> bool:
    """Porcupine-style search for one key: is there a real-time-consistent order of `ops` in
    which the model gives every answer? Unanswered operations may be placed anywhere after they
    were sent, or left out. Raises Inconclusive when the search exceeds `budget` steps."""
    ops = sorted(ops, key=lambda o: o.invoke)
    n = len(ops)
    inf = float("inf")
    rets = [o.ret if o.answered else inf for o in ops]
    required = sum(1 << i for i in range(n) if ops[i].answered)
    seen = set()
    steps = 0

    def search(mask: int, state: State) -> bool:
        nonlocal steps
        if mask & required == required:
            return True
        if (mask, state) in seen:
            return False
        seen.add((mask, state))
        steps += 1
        if steps > budget:
            raise Inconclusive(f"more than {budget} search steps")
        horizon = min(rets[i] for i in range(n) if not mask >> i & 1)
        candidates = [i for i in range(n) if not mask >> i & 1 and ops[i].invoke < horizon]
        # An answered operation that fits now without changing the state (a read, a polling
        # acquire, a refused write) is taken at once: the state stays the same and taking it only
        # widens the candidate set, so this never loses a solution (partial-order reduction).
        for i in candidates:
            if ops[i].answered:
                ok, nxt = step(state, ops[i])
                if ok and nxt == state:
                    return search(mask | 1 << i, state)
        for i in candidates:
            ok, nxt = step(state, ops[i])
            if ok and search(mask | 1 << i, nxt):
                return True
            if not ops[i].answered and search(mask | 1 << i, state):  # it never took effect
                return True
        return False

    return search(0, None)


def check_linearizable(ops: Iterable[Op]) -> List[str]:
    violations = []
    for key, kops in by_key(ops).items():
        try:
            if not linearizable(kops):
                violations.append(f"{key}: no order of its {len(kops)} operations fits the lease model")
        except Inconclusive as e:
            violations.append(f"{key}: linearizability search inconclusive ({e})")
    return violations
