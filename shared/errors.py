"""Domain errors. Services raise them before changing anything; the edges map them to a reply
(the bot) or a problem+json status (the back-office)."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """Base of every refusal the domain makes; `code` is stable for the edges to map."""

    code = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, entity: str, ident: object) -> None:
        super().__init__(f"{entity} {ident} not found", entity=entity, id=ident)
        self.entity = entity
        self.ident = ident


class InvalidValue(DomainError):
    """A value the domain refuses, tied to the field that carried it. `key`: a catalog message
    that says why in the caller's language (the edges show it instead of a generic one), filled
    with `params`; `message` stays English, for the logs."""

    code = "invalid"

    def __init__(self, field: str, message: str, *, key: str | None = None, **params: object) -> None:
        super().__init__(f"{field}: {message}", field=field, key=key, params=params)
        self.field = field
        self.key = key
        self.params = {"field": field, **params}


class NotAllowed(DomainError):
    """The caller's role does not allow this particular change (`key`: as for InvalidValue)."""

    code = "forbidden"

    def __init__(self, message: str, *, key: str | None = None, **details: object) -> None:
        super().__init__(message, key=key, **details)
        self.key = key


class TransitionRefused(DomainError):
    code = "transition_refused"

    def __init__(self, current: str, to: str, allowed: Sequence[str]) -> None:
        names = ", ".join(allowed) or "none"
        super().__init__(
            f"cannot move a claim from '{current}' to '{to}'; allowed: {names}",
            current=current,
            to=to,
            allowed=list(allowed),
        )
        self.current = current
        self.to = to
        self.allowed = list(allowed)


class StaleVersion(DomainError):
    code = "stale_version"

    def __init__(self, entity: str, expected: int, actual: int | None) -> None:
        super().__init__(
            f"{entity} was changed by someone else (version {actual}, you had {expected})",
            expected=expected,
            actual=actual,
        )


class Conflict(DomainError):
    """The request is well-formed but clashes with the current state (e.g. a survey answered twice)."""

    code = "conflict"
