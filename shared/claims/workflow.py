"""The claim workflow: statuses, results and the allowed transitions, in one place.

ISO 10002 reads as: acknowledge (new), assess and investigate (in_progress), respond (resolved,
with a result and the text told to the customer), close (closed). A resolved claim goes back to
in_progress when the customer disputes the decision or staff reopen it.
"""

from __future__ import annotations

from enum import StrEnum


class ClaimStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ClaimResult(StrEnum):
    SATISFIED = "satisfied"
    PARTIALLY_SATISFIED = "partially_satisfied"
    REJECTED = "rejected"


TRANSITIONS: dict[ClaimStatus, tuple[ClaimStatus, ...]] = {
    ClaimStatus.NEW: (ClaimStatus.IN_PROGRESS,),
    ClaimStatus.IN_PROGRESS: (ClaimStatus.RESOLVED,),
    ClaimStatus.RESOLVED: (ClaimStatus.CLOSED, ClaimStatus.IN_PROGRESS),
    ClaimStatus.CLOSED: (),
}

OPEN_STATUSES: tuple[ClaimStatus, ...] = (ClaimStatus.NEW, ClaimStatus.IN_PROGRESS)
DONE_STATUSES: tuple[ClaimStatus, ...] = (ClaimStatus.RESOLVED, ClaimStatus.CLOSED)

# Catalog keys of the UI labels (shared/i18n): Новая / New, В работе / In progress, ...
STATUS_LABEL_KEYS = {status: f"status.{status.value}" for status in ClaimStatus}
RESULT_LABEL_KEYS = {result: f"result.{result.value}" for result in ClaimResult}


def allowed_transitions(current: ClaimStatus | str) -> tuple[ClaimStatus, ...]:
    return TRANSITIONS[ClaimStatus(current)]


def can_transition(current: ClaimStatus | str, to: ClaimStatus | str) -> bool:
    return ClaimStatus(to) in TRANSITIONS[ClaimStatus(current)]


def needs_result(to: ClaimStatus | str) -> bool:
    """Resolving is the one step that must say what was decided and what the customer is told."""
    return ClaimStatus(to) is ClaimStatus.RESOLVED


def is_reopening(current: ClaimStatus | str, to: ClaimStatus | str) -> bool:
    return ClaimStatus(current) is ClaimStatus.RESOLVED and ClaimStatus(to) is ClaimStatus.IN_PROGRESS
