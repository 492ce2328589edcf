"""Staff users and API tokens (admin only): list, create, change role, deactivate; issue and revoke
tokens. A token's plain value is shown once, in the answer that issues it."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from backoffice.api import ApiRoute
from backoffice.api.auth import StaffUserOut
from backoffice.api.http import Body, Id, Out, Query, Text, path_id, read_body, read_query, reply
from backoffice.context import ctx
from shared.enums import Role
from shared.staff.accounts import list_tokens, update_user
from shared.staff.service import create_user, issue_token, list_users, revoke_token


class UserList(Out):
    items: list[StaffUserOut]


class UserIn(Body):
    login: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=8, max_length=1024)
    role: Role
    full_name: Text = Field(default="", max_length=200)
    language: str | None = Field(default=None, pattern="^(ru|en)$", description="default: DEFAULT_LANGUAGE")


class UserPatch(Body):
    role: Role | None = None
    active: bool | None = None
    full_name: Text | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, pattern="^(ru|en)$")
    password: Text | None = Field(default=None, min_length=8, max_length=1024)
    employee_id: Id | None = None


class TokenOut(Out):
    id: int
    owner_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenList(Out):
    items: list[TokenOut]


class TokenQuery(Query):
    owner_id: Id | None = None


class TokenIn(Body):
    name: Text = Field(min_length=1, max_length=100)


class IssuedToken(TokenOut):
    token: str = Field(description="shown once; store it now")


async def users_view(request: web.Request) -> web.Response:
    """Every staff user."""
    rows = await list_users(ctx(request).session)
    return reply(UserList(items=[StaffUserOut.model_validate(u) for u in rows]))


async def create_user_view(request: web.Request) -> web.Response:
    """Create a staff user."""
    c = ctx(request)
    body = await read_body(request, UserIn)
    user = await create_user(c.session, **body.model_dump())
    return reply(StaffUserOut.model_validate(user), status=201)


async def patch_user(request: web.Request) -> web.Response:
    """Change a user's role, name, language, password or active flag (deactivating ends their sessions)."""
    c = ctx(request)
    user_id = path_id(request, "user_id")
    body = await read_body(request, UserPatch)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k == "employee_id"}
    user = await update_user(c.session, user_id=user_id, changes=changes)
    return reply(StaffUserOut.model_validate(user))


async def tokens_view(request: web.Request) -> web.Response:
    """API tokens (never their values)."""
    c = ctx(request)
    query = read_query(request, TokenQuery)
    rows = await list_tokens(c.session, owner_id=query.owner_id)
    return reply(TokenList(items=[TokenOut.model_validate(t) for t in rows]))


async def issue_token_view(request: web.Request) -> web.Response:
    """Issue an API token for a user; the value is in this answer only."""
    c = ctx(request)
    user_id = path_id(request, "user_id")
    body = await read_body(request, TokenIn)
    token, row = await issue_token(c.session, user_id=user_id, name=body.name)
    return reply(IssuedToken.model_validate({**TokenOut.model_validate(row).model_dump(), "token": token}), status=201)


async def revoke_token_view(request: web.Request) -> web.Response:
    """Revoke an API token."""
    c = ctx(request)
    row = await revoke_token(c.session, token_id=path_id(request, "token_id"))
    return reply(TokenOut.model_validate(row))


TAGS = ("users",)
routes = [
    ApiRoute("GET", "/api/v1/users", users_view, Role.ADMIN, "List staff users", response=UserList, tags=TAGS),
    ApiRoute(
        "POST",
        "/api/v1/users",
        create_user_view,
        Role.ADMIN,
        "Create a staff user",
        body=UserIn,
        response=StaffUserOut,
        status=201,
        errors=(409,),
        tags=TAGS,
    ),
    ApiRoute(
        "PATCH",
        "/api/v1/users/{user_id}",
        patch_user,
        Role.ADMIN,
        "Change a staff user",
        body=UserPatch,
        response=StaffUserOut,
        tags=TAGS,
    ),
    ApiRoute(
        "GET",
        "/api/v1/tokens",
        tokens_view,
        Role.ADMIN,
        "List API tokens",
        query=TokenQuery,
        response=TokenList,
        tags=TAGS,
    ),
    ApiRoute(
        "POST",
        "/api/v1/users/{user_id}/tokens",
        issue_token_view,
        Role.ADMIN,
        "Issue an API token",
        body=TokenIn,
        response=IssuedToken,
        status=201,
        tags=TAGS,
    ),
    ApiRoute(
        "POST",
        "/api/v1/tokens/{token_id}/revoke",
        revoke_token_view,
        Role.ADMIN,
        "Revoke an API token",
        response=TokenOut,
        tags=TAGS,
    ),
]
