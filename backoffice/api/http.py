"""What every view uses: the request context, parsing (pydantic at the edge) and rendering."""

from __future__ import annotations

import typing
from typing import Annotated, Any, TypeVar

import orjson
from aiohttp import web
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from backoffice.problems import ApiProblem, from_validation_error

MAX_JSON_BODY = 1024 * 1024
MAX_ID = 2**63 - 1

M = TypeVar("M", bound=BaseModel)


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _sane_year(value: Any) -> Any:
    # Far dates overflow when shifted between time zones; nobody files a claim in year 1.
    if not 1900 <= value.year <= 9998:
        raise ValueError("year must be between 1900 and 9998")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Moment = Annotated[AwareDatetime, AfterValidator(_sane_year)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid")


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The request body, reading no more than `limit` bytes (and one chunk) before refusing it with
    413: a body sent without Content-Length (chunked) must not be buffered whole first."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiProblem(413, "too_large", "api.problem.too_large", limit=limit)
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body.extend(chunk)
        if len(body) > limit:
            raise ApiProblem(413, "too_large", "api.problem.too_large", limit=limit)
    return bytes(body)


async def read_body(request: web.Request, model: type[M]) -> M:
    raw = await read_limited(request, MAX_JSON_BODY)
    if not raw.strip():
        data: Any = {}
    else:
        try:
            # orjson, not json: it refuses what PostgreSQL could not store or Python could not
            # handle (lone surrogates, NaN, nesting deeper than 1024, where json.loads raised a
            # RecursionError at 1,000 levels) as a plain decode error.
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiProblem(400, "bad_request", "api.problem.bad_request") from None
    if not isinstance(data, dict):
        raise ApiProblem(400, "bad_request", "api.problem.not_an_object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, "body") from None


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is list or origin is tuple:
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation) if arg is not type(None))


def read_query(request: web.Request, model: type[M]) -> M:
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in request.query:
            continue
        if _is_list(info.annotation):
            data[key] = [v for raw in request.query.getall(key) for v in raw.split(",") if v != ""]
        else:
            data[key] = request.query[key]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, "query") from None


def path_id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise ApiProblem(404, "not_found", "api.problem.not_found")
    return int(raw)


def reply(model: BaseModel | None, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    if model is None:
        return web.Response(status=status, headers=headers)
    return web.Response(body=model.model_dump_json(), status=status, content_type="application/json", headers=headers)


def etag(version: int) -> str:
    return f'"v{version}"'


def if_match_version(request: web.Request, *, required: bool) -> int | None:
    """The version named by If-Match (`"v3"` or `W/"v3"`); 428 when required and missing."""
    header = request.headers.get("If-Match")
    if header is None or not header.strip():
        if required:
            raise ApiProblem(428, "precondition_required", "api.problem.precondition_required")
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.startswith("v") or not value[1:].isdigit() or len(value) > 12:
        # An ETag we never issued cannot match the current one.
        raise ApiProblem(412, "stale_version", "api.problem.stale_version")
    return int(value[1:])
