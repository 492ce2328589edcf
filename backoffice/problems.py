"""RFC 9457 problem details: the one error shape of the back-office API.

Titles stay the English reason phrase (RFC 9457 treats them as advisory); `detail` is translated
from the `api.problem.*` catalog keys by the request's Accept-Language. Field-level details go to
`errors` (422) and the allowed target statuses to `allowed` (409 on a refused transition).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.errors import Conflict, DomainError, InvalidValue, NotFound, StaleVersion, TransitionRefused
from shared.i18n import Translator

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:claimdesk:problem:"


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class Problem(BaseModel):
    """application/problem+json (RFC 9457) with claimdesk's extension members."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    allowed: list[str] | None = None


class ApiProblem(Exception):
    """Raised by views and helpers; rendered by the error middleware."""

    def __init__(
        self,
        status: int,
        code: str,
        key: str,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        errors_say_detail: bool = False,
        **params: Any,
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.key = key
        self.params = params
        self.errors = list(errors) if errors is not None else None
        self.headers = headers or {}
        self.extra = extra or {}
        # The field errors say what the detail says (a domain refusal told in the caller's language).
        self.errors_say_detail = errors_say_detail


def render(problem: ApiProblem, t: Translator, instance: str | None = None) -> web.Response:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + problem.code,
        "title": HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "detail": t(problem.key, **problem.params),
        "code": problem.code,
    }
    if instance:
        body["instance"] = instance
    if problem.errors is not None:
        body["errors"] = [e.model_dump() for e in problem.errors]
        if problem.errors_say_detail:
            for error in body["errors"]:
                error["message"] = body["detail"]
    body.update(problem.extra)
    return web.Response(
        body=json.dumps(body, ensure_ascii=False),
        status=problem.status,
        content_type=PROBLEM_JSON,
        charset="utf-8",
        headers=problem.headers,
    )


def invalid(field: str, message: str, type_: str = "value_error") -> ApiProblem:
    errors = [FieldError(field=field, message=message, type=type_)]
    return ApiProblem(422, "invalid", "api.problem.invalid", errors=errors)


def from_validation_error(exc: ValidationError, location: str) -> ApiProblem:
    errors = []
    for err in exc.errors(include_url=False):
        parts = [str(p) for p in err["loc"]]
        field = ".".join(parts) if parts else location
        errors.append(FieldError(field=field, message=err["msg"], type=err["type"]))
    return ApiProblem(422, "invalid", "api.problem.invalid", errors=errors)


def _shown(value: object) -> object:
    """A parameter of a refusal as the message shows it: a list as `a, b, c`."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return value


def from_domain_error(exc: DomainError) -> ApiProblem:
    # A refusal that names its own catalog message is told in the caller's language.
    key = exc.details.get("key")
    key = key if isinstance(key, str) else None
    if isinstance(exc, NotFound):
        return ApiProblem(404, "not_found", "api.problem.not_found_entity", entity=exc.entity, id=exc.ident)
    if isinstance(exc, InvalidValue):
        message = exc.message.removeprefix(f"{exc.field}: ")
        return ApiProblem(
            422,
            "invalid",
            key or "api.problem.invalid",
            errors=[FieldError(field=exc.field, message=message, type="domain")],
            errors_say_detail=key is not None,
            **{k: _shown(v) for k, v in exc.params.items()},
        )
    if isinstance(exc, TransitionRefused):
        return ApiProblem(
            409,
            "transition_refused",
            "api.problem.transition_refused",
            extra={"allowed": exc.allowed, "current": exc.current, "to": exc.to},
            current=exc.current,
            to=exc.to,
            allowed=", ".join(exc.allowed) or "—",
        )
    if isinstance(exc, StaleVersion):
        return ApiProblem(412, "stale_version", "api.problem.stale_version", extra=dict(exc.details))
    if exc.code == "forbidden":
        field = exc.details.get("field")
        errors = [FieldError(field=str(field), message=exc.message, type="forbidden")] if field else None
        return ApiProblem(403, "forbidden", key or "api.problem.domain_forbidden", errors=errors, message=exc.message)
    if isinstance(exc, Conflict):
        field = exc.details.get("field")
        errors = [FieldError(field=str(field), message=exc.message, type="conflict")] if field else None
        params = {k: v for k, v in exc.details.items() if k not in ("key", "field", "message")}
        return ApiProblem(
            409,
            "conflict",
            key or "api.problem.conflict",
            errors=errors,
            errors_say_detail=key is not None,
            message=exc.message,
            **params,
        )
    return ApiProblem(422, exc.code, "api.problem.domain", message=exc.message)


_HTTP_KEYS = {
    400: ("bad_request", "api.problem.bad_request"),
    401: ("unauthorized", "api.problem.unauthorized"),
    403: ("forbidden", "api.problem.forbidden_plain"),
    404: ("not_found", "api.problem.not_found"),
    405: ("method_not_allowed", "api.problem.method_not_allowed"),
    413: ("too_large", "api.problem.too_large"),
    415: ("unsupported_media_type", "api.problem.unsupported_media_type"),
}


def from_http_exception(exc: web.HTTPException, *, body_limit: int) -> ApiProblem:
    """aiohttp's own HTTP errors; `body_limit` is the app's request size limit (aiohttp refuses a
    larger body with 413 when a handler reads it whole), which the 413 text names."""
    code, key = _HTTP_KEYS.get(exc.status, ("http_error", "api.problem.http_error"))
    headers = {}
    if exc.status == 405 and "Allow" in exc.headers:
        headers["Allow"] = exc.headers["Allow"]
    return ApiProblem(exc.status, code, key, headers=headers, http_status=exc.status, limit=body_limit)
