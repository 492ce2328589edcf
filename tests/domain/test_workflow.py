"""The claim workflow: every allowed and every refused transition, as pure logic and through the
`transition` service against PostgreSQL."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from shared.actors import Actor
from shared.audit.models import ClaimEvent
from shared.claims.models import Claim
from shared.claims.service import transition
from shared.claims.workflow import ClaimResult, ClaimStatus, allowed_transitions, can_transition
from shared.errors import InvalidValue, TransitionRefused
from shared.i18n import get_translator
from tests.factories import make_claim, make_staff

ALLOWED = {
    ("new", "in_progress"),
    ("in_progress", "resolved"),
    ("resolved", "closed"),
    ("resolved", "in_progress"),
}
ALL_PAIRS = list(itertools.product([s.value for s in ClaimStatus], repeat=2))
REFUSED = [pair for pair in ALL_PAIRS if pair not in ALLOWED]

# The shortest way to bring a new claim to each status.
PATH = {
    "new": [],
    "in_progress": ["in_progress"],
    "resolved": ["in_progress", "resolved"],
    "closed": ["in_progress", "resolved", "closed"],
}


def test_pure_rules_match_the_issue() -> None:
    assert {(a, b) for a, b in ALL_PAIRS if can_transition(a, b)} == ALLOWED
    assert allowed_transitions("closed") == ()


@pytest.mark.parametrize(
    ("key", "ru", "en"),
    [
        ("status.new", "Новая", "New"),
        ("status.in_progress", "В работе", "In progress"),
        ("status.resolved", "Отработана", "Resolved"),
        ("status.closed", "Закрыта", "Closed"),
        ("result.satisfied", "Удовлетворена", "Satisfied"),
        ("result.partially_satisfied", "Удовлетворена частично", "Partially satisfied"),
        ("result.rejected", "Отклонена", "Rejected"),
    ],
)
def test_labels(key: str, ru: str, en: str) -> None:
    assert get_translator("ru")(key) == ru
    assert get_translator("en")(key) == en


async def _claim_in(session, status: str) -> tuple[Claim, Actor]:
    staff = await make_staff(session)
    actor = Actor.staff(staff.id)
    claim = await make_claim(session)
    for step in PATH[status]:
        kwargs = {"result": ClaimResult.SATISFIED, "resolution": "Вернём деньги"} if step == "resolved" else {}
        await transition(session, claim_id=claim.id, to=step, actor=actor, **kwargs)
    return claim, actor


async def _events(session, claim_id: int) -> int:
    return await session.scalar(select(func.count()).select_from(ClaimEvent).where(ClaimEvent.claim_id == claim_id))


@pytest.mark.parametrize(("current", "to"), sorted(ALLOWED))
async def test_allowed_transition(session, current: str, to: str) -> None:
    claim, actor = await _claim_in(session, current)
    before = await _events(session, claim.id)
    kwargs = {"result": "partially_satisfied", "resolution": "Компенсируем доставку"} if to == "resolved" else {}
    await transition(session, claim_id=claim.id, to=to, actor=actor, **kwargs)
    assert claim.status == to
    assert await _events(session, claim.id) == before + 1
    if to == "resolved":
        assert claim.result == "partially_satisfied" and claim.resolved_at is not None
    if current == "resolved" and to == "in_progress":
        assert claim.result is None and claim.resolved_at is None
    if to == "closed":
        assert claim.closed_at is not None
    # Queued news is not yet an answer: it counts once delivered (tests/domain/test_first_response.py).
    assert claim.first_response_at is None


@pytest.mark.parametrize(("current", "to"), REFUSED)
async def test_refused_transition_changes_nothing(db, current: str, to: str) -> None:
    async with db() as session:
        claim, actor = await _claim_in(session, current)
        await session.commit()
        before_events = await _events(session, claim.id)
        version = claim.version
    async with db() as session:
        with pytest.raises(TransitionRefused) as refused:
            await transition(session, claim_id=claim.id, to=to, actor=actor, result="satisfied", resolution="x")
        assert refused.value.allowed == [s.value for s in allowed_transitions(current)]
        await session.commit()  # even a careless caller that commits finds nothing to write
    async with db() as session:
        fresh = await session.get_one(Claim, claim.id)
        assert (fresh.status, fresh.version) == (current, version)
        assert await _events(session, claim.id) == before_events


async def test_resolving_needs_result_and_resolution(db) -> None:
    async with db() as session:
        claim, actor = await _claim_in(session, "in_progress")
        await session.commit()
        events = await _events(session, claim.id)
    for kwargs, field in [
        ({}, "result"),
        ({"result": "satisfied"}, "resolution"),
        ({"result": "satisfied", "resolution": "   "}, "resolution"),
        ({"result": "maybe", "resolution": "x"}, "result"),
    ]:
        async with db() as session:
            with pytest.raises(InvalidValue) as invalid:
                await transition(session, claim_id=claim.id, to="resolved", actor=actor, **kwargs)
            assert invalid.value.field == field
            await session.commit()
    async with db() as session:
        fresh = await session.get_one(Claim, claim.id)
        assert fresh.status == "in_progress" and fresh.result is None
        assert await _events(session, claim.id) == events


async def test_result_only_when_resolving(session) -> None:
    claim, actor = await _claim_in(session, "new")
    with pytest.raises(InvalidValue):
        await transition(session, claim_id=claim.id, to="in_progress", actor=actor, result="satisfied")
