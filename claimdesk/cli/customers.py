"""`claimdesk customers export ID` and `claimdesk customers erase ID`: a customer's personal data
on request (152-FZ, GDPR). Both are recorded in the customer's audit trail, as done by the
operating-system user who ran the command. Erasure cannot be undone: it asks first, unless --yes."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from claimdesk.cli import fail
from shared import migrate
from shared.actors import SYSTEM
from shared.customers.personal_data import erase_personal_data, export_personal_data
from shared.customers.queries import customer_with_claims
from shared.errors import DomainError
from shared.interactions.attachment_files import files_dir
from shared.runtime import open_database
from shared.settings import get_settings

EXIT_REFUSED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    customers = subparsers.add_parser("customers", help="a customer's personal data: export, erase")
    actions = customers.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="everything stored about a customer, as JSON")
    export.add_argument("customer_id", type=int, metavar="ID")
    export.add_argument("-o", "--output", type=Path, help="write to this file (default: standard output)")
    export.set_defaults(handler=handle_export)
    erase = actions.add_parser(
        "erase",
        help="erase a customer's personal data for good (the claims' figures stay for the reports)",
    )
    erase.add_argument("customer_id", type=int, metavar="ID")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(handler=handle_erase)


def _who() -> dict[str, str]:
    """Who acted, for the audit trail: the command line, run by this operating-system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"via": "command line", "os_user": user}


async def handle_export(args: argparse.Namespace) -> int:
    async with open_database(get_settings()) as db:
        await migrate.upgrade(db.url)
        async with db.sessions() as session:
            try:
                document = await export_personal_data(
                    session, customer_id=args.customer_id, actor=SYSTEM, source=_who()
                )
            except DomainError as exc:
                return fail(exc.message, EXIT_REFUSED)
            text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
            if args.output is not None:
                try:
                    args.output.write_text(text, encoding="utf-8")
                except OSError as exc:
                    return fail(f"{args.output}: {exc.strerror or exc}", EXIT_REFUSED)
            else:
                sys.stdout.write(text)
            await session.commit()
    if args.output is not None:
        print(f"customer {args.customer_id}: personal data written to {args.output}", file=sys.stderr)
    return 0


def _confirmed(customer_id: int, name: str, claims: int) -> bool:
    print(
        f"Erase the personal data of customer {customer_id} ({name}, {claims} claim(s))?\n"
        "Their name, contacts, Telegram ids, the texts of their claims and messages and their files "
        "are deleted FOR GOOD; the claims' figures stay for the reports. This cannot be undone.",
        file=sys.stderr,
    )
    print("Type 'yes' to erase: ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() == "yes"


async def handle_erase(args: argparse.Namespace) -> int:
    settings = get_settings()
    async with open_database(settings) as db:
        await migrate.upgrade(db.url)
        async with db.sessions() as session:
            try:
                customer, claims = await customer_with_claims(session, customer_id=args.customer_id)
            except DomainError as exc:
                return fail(exc.message, EXIT_REFUSED)
            name = customer.name
            await session.rollback()
            if not args.yes and not _confirmed(args.customer_id, name, len(claims)):
                return fail("nothing erased", EXIT_REFUSED)
            try:
                erasure = await erase_personal_data(
                    session,
                    customer_id=args.customer_id,
                    actor=SYSTEM,
                    files_root=files_dir(settings.data_dir),
                    source=_who(),
                )
            except DomainError as exc:
                await session.rollback()
                return fail(exc.message, EXIT_REFUSED)
            await session.commit()
    print(
        f"customer {args.customer_id} erased for good: {erasure.claims} claim(s), {erasure.interactions} "
        f"message(s), {erasure.attachments} attachment(s) ({erasure.files_deleted} file(s) deleted)",
        file=sys.stderr,
    )
    return 0
