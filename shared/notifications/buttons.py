"""The callback data of the buttons the desk's messages carry: accept or dispute a decision, rate
a closed claim. Defined once, here.

`flows.py` writes them (`DecisionButton(...).pack()`); the bot reads them with aiogram
`CallbackData` factories built on these very models (`class DecisionCb(CallbackData,
DecisionButton, prefix=DecisionButton.PREFIX)` in bot/routers/decision.py, survey.py), so a field
added, removed or reordered here changes the writer and the reader together. `pack()` writes what
aiogram's `CallbackData.pack` writes for such fields (the prefix and the values joined by ":"):
tests/delivery/test_decision_survey.py checks that both agree. `shared` does not import aiogram.

Callback data comes back from the client and is untrusted: the bot re-checks every id against the
customer before using it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

SEPARATOR = ":"  # aiogram CallbackData's default separator

ACCEPT = "a"
DISPUTE = "d"
SKIP_COMMENT = 0  # a "score" that is no rating: the customer skips the comment


class ButtonData(BaseModel):
    PREFIX: ClassVar[str]

    def pack(self) -> str:
        return SEPARATOR.join([self.PREFIX, *(str(value) for value in self.model_dump().values())])


class DecisionButton(ButtonData):
    """Accept (`ACCEPT`) or dispute (`DISPUTE`) the decision on a claim; `stamp` says which
    decision (`flows.decision_stamp`): a button of an older decision is no longer current."""

    PREFIX: ClassVar[str] = "dc"
    action: str  # any text: an unknown action is answered "not found", not left unanswered
    claim_id: int
    stamp: int


class SurveyButton(ButtonData):
    """A rating 1..5 of a closed claim, or `SKIP_COMMENT` (no comment after the rating)."""

    PREFIX: ClassVar[str] = "sv"
    claim_id: int
    score: int
