"""One-shot (or n-shot) failures injected into chosen Bot API methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Canonical spellings of the fault kinds; ints are accepted for the HTTP-status ones.
KINDS = frozenset({"429", "500", "502", "timeout", "timeout_after", "drop", "403", "400"})


@dataclass
class Fault:
    kind: str
    method: str | None = None  # lower-cased Bot API method; None = any method
    chat_id: int | str | None = None
    times: int = 1
    retry_after: int = 1
    description: str | None = None
    hold: float | None = None  # seconds a "timeout" holds the request; None = emulator default
    hits: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.times - self.hits)

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is not None and self.method != method.lower():
            return False
        if self.chat_id is not None and str(params.get("chat_id")) != str(self.chat_id):
            return False
        return True


@dataclass
class FaultInjector:
    faults: list[Fault] = field(default_factory=list)
    injected: int = 0

    def inject(
        self,
        method: str | None = None,
        chat_id: int | str | None = None,
        kind: str | int = 500,
        times: int = 1,
        *,
        retry_after: int = 1,
        description: str | None = None,
        hold: float | None = None,
    ) -> Fault:
        """Make the next ``times`` matching calls fail with ``kind``.

        kinds: 429, 500, 502, 403, 400, "timeout" (held, not executed), "timeout_after"
        (executed, then held: the client times out although the message was sent — the
        case that makes naive retries send duplicates) and "drop" (connection closed).
        """
        k = str(kind).lower()
        if k not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(KINDS)}")
        fault = Fault(
            kind=k,
            method=method.lower() if method else None,
            chat_id=chat_id,
            times=times,
            retry_after=retry_after,
            description=description,
            hold=hold,
        )
        self.faults.append(fault)
        return fault

    def take(self, method: str, params: dict[str, Any]) -> Fault | None:
        """The first armed fault matching this call, consuming one of its shots."""
        for fault in self.faults:
            if fault.matches(method, params):
                fault.hits += 1
                self.injected += 1
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()

    @property
    def pending(self) -> int:
        return sum(f.remaining for f in self.faults)
