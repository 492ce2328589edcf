"""`claimdesk customers export|erase` as a user runs them: the export as JSON (to a file or standard
output), the erasure asked for first (anything but 'yes' erases nothing; --yes does not ask), both
recorded as done on the command line by this operating-system user."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from sqlalchemy import select

from shared.actors import Actor
from shared.audit.models import CustomerEvent
from shared.claims.service import transition
from shared.customers.models import Customer
from tests.factories import make_claim, make_customer, make_staff
from tests.test_cli import claimdesk, clean_env


async def test_export_and_erase_on_the_command_line(db, database_url: str, tmp_path: Path) -> None:
    async with db() as session:
        staff = Actor.staff((await make_staff(session)).id)
        customer = await make_customer(session, name="Ольга Кукушкина")
        claim = await make_claim(session, customer=customer)
        await session.commit()
    env = clean_env(DATABASE_URL=database_url, CLAIMDESK_DATA_DIR=str(tmp_path))
    ident = str(customer.id)

    out = tmp_path / "export.json"
    exported = claimdesk("customers", "export", ident, "-o", str(out), env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["customer"]["name"] == "Ольга Кукушкина" and len(document["claims"]) == 1
    to_stdout = claimdesk("customers", "export", ident, env=env, cwd=tmp_path)
    assert json.loads(to_stdout.stdout)["customer"]["id"] == customer.id
    missing = claimdesk("customers", "export", "999999", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip() == "claimdesk: customer 999999 not found"

    # An open claim: refused, one line, nothing erased.
    refused = claimdesk("customers", "erase", ident, "--yes", env=env, cwd=tmp_path)
    assert refused.returncode == 1 and f"close the customer's claims first: {claim.number}" in refused.stderr
    async with db() as session:
        for to, extra in (
            ("in_progress", {}),
            ("resolved", {"result": "rejected", "resolution": "Нет"}),
            ("closed", {}),
        ):
            await transition(session, claim_id=claim.id, to=to, actor=staff, **extra)
        await session.commit()

    declined = claimdesk("customers", "erase", ident, env=env, cwd=tmp_path, stdin="no\n")
    assert declined.returncode == 1 and "cannot be undone" in declined.stderr
    assert "nothing erased" in declined.stderr
    async with db() as session:
        assert (await session.get_one(Customer, customer.id)).erased_at is None

    erased = claimdesk("customers", "erase", ident, env=env, cwd=tmp_path, stdin="yes\n")
    assert erased.returncode == 0, erased.stderr
    assert f"customer {ident} erased for good" in erased.stderr
    async with db() as session:
        stored = await session.get_one(Customer, customer.id)
        assert stored.erased_at is not None and stored.phone is None and stored.telegram_user_id is None
        events = (
            await session.scalars(
                select(CustomerEvent).where(CustomerEvent.customer_id == customer.id).order_by(CustomerEvent.id)
            )
        ).all()
    assert [(e.kind, e.actor_kind) for e in events] == [
        ("exported", "system"),
        ("exported", "system"),
        ("erased", "system"),
    ]
    assert events[-1].details["via"] == "command line" and events[-1].details["os_user"] == getpass.getuser()
