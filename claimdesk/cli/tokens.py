"""`claimdesk tokens issue LOGIN --name NAME`: a new API token on stdout, and nothing else, once."""

from __future__ import annotations

import argparse
import sys

from claimdesk.cli import fail
from shared.errors import DomainError
from shared.runtime import open_database
from shared.settings import get_settings
from shared.staff.service import get_user_by_login, issue_token


def register(subparsers: argparse._SubParsersAction) -> None:
    tokens = subparsers.add_parser("tokens", help="manage back-office API tokens")
    actions = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = actions.add_parser("issue", help="issue an API token for a staff user (printed once)")
    issue.add_argument("login")
    issue.add_argument("--name", required=True, help="what the token is for, e.g. 'reporting script'")
    issue.set_defaults(handler=handle_issue)


async def handle_issue(args: argparse.Namespace) -> int:
    async with open_database(get_settings()) as db, db.sessions() as session:
        try:
            user = await get_user_by_login(session, login=args.login)
            if not user.active:
                return fail(f"user '{user.login}' is deactivated", 1)
            token, row = await issue_token(session, user_id=user.id, name=args.name)
        except DomainError as exc:
            return fail(exc.message, 1)
        await session.commit()
    print(token)
    print(f"issued token {row.id} '{row.name}' for '{user.login}'; it is not shown again", file=sys.stderr)
    return 0
