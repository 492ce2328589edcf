from __future__ import annotations

import argparse
import getpass
import sys

from claimdesk.cli import fail
from shared import migrate
from shared.enums import Role
from shared.errors import DomainError
from shared.runtime import open_database
from shared.settings import get_settings
from shared.staff.service import create_user, list_users


def register(subparsers: argparse._SubParsersAction) -> None:
    users = subparsers.add_parser("users", help="manage back-office staff users")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create a staff user")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--name", default="", help="full name")
    add.add_argument("--language", default=None, choices=["ru", "en"], help="default: DEFAULT_LANGUAGE")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(handler=handle_add)
    listing = actions.add_parser("list", help="list staff users")
    listing.set_defaults(handler=handle_list)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ValueError("the passwords differ")
    return first


async def handle_add(args: argparse.Namespace) -> int:
    try:
        password = _read_password(args.password_stdin)
    except (ValueError, EOFError) as exc:
        return fail(str(exc) or "no password given", 1)
    async with open_database(get_settings()) as db, db.sessions() as session:
        await migrate.upgrade(db.url)
        try:
            user = await create_user(
                session,
                login=args.login,
                password=password,
                role=args.role,
                full_name=args.name,
                language=args.language,
            )
        except DomainError as exc:
            return fail(exc.message, 1)
        await session.commit()
        print(f"created {user.role} '{user.login}' (id {user.id})", file=sys.stderr)
    return 0


async def handle_list(args: argparse.Namespace) -> int:
    async with open_database(get_settings()) as db:
        await migrate.upgrade(db.url)
        async with db.sessions() as session:
            for user in await list_users(session):
                state = "active" if user.active else "inactive"
                print(f"{user.login}\t{user.role}\t{state}\t{user.full_name}")
    return 0
