"""A customer's personal data through the API (admins only): the export as a JSON file, the
erasure (irreversible: it must be confirmed; refused in the caller's language while a claim is
open), both recorded with who and when; an erased customer's file answers 410."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from shared.actors import Actor
from shared.audit.models import CustomerEvent
from shared.claims.service import transition
from shared.enums import AttachmentKind, Direction, InteractionChannel
from shared.i18n import get_translator
from shared.interactions.service import AttachmentIn, TelegramRef, log_interaction
from shared.settings import get_settings
from tests.backoffice.conftest import Api
from tests.factories import make_claim, make_customer


async def test_export_and_erasure_by_an_admin(api: Api, tmp_path: Path) -> None:
    async with api.sessions() as session:
        customer = await make_customer(session, name="Ольга Кукушкина")
        claim = await make_claim(session, customer=customer, description="Курьер грубил, Кукушкина")
        (tmp_path / "files" / "tg").mkdir(parents=True)
        (tmp_path / "files" / "tg" / "AgADphoto").write_bytes(b"photo")
        interaction, _ = await log_interaction(
            session,
            actor=Actor.customer(customer.id),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text="Фото",
            claim_id=claim.id,
            telegram=TelegramRef(chat_id=customer.telegram_chat_id or 0, message_id=7),
            attachments=(
                AttachmentIn(
                    kind=AttachmentKind.PHOTO,
                    tg_file_id="AgACphoto",
                    tg_file_unique_id="AgADphoto",
                    storage_path="tg/AgADphoto",
                ),
            ),
        )
        attachment_id = interaction.attachments[0].id
        await session.commit()
    url = f"/api/v1/customers/{customer.id}"

    response = await api.call("GET", f"{url}/personal-data")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="customer-{customer.id}-personal-data.json"'
    )
    document = await response.json()
    assert document["customer"]["name"] == "Ольга Кукушкина"
    assert document["claims"][0]["description"] == "Курьер грубил, Кукушкина"
    for role in ("operator", "manager"):
        await api.json("GET", f"{url}/personal-data", as_=role, expect=403)
        await api.json("POST", f"{url}/erasure", as_=role, json={"confirm": True}, expect=403)

    # Irreversible: it must be confirmed.
    await api.json("POST", f"{url}/erasure", json={}, expect=422)
    await api.json("POST", f"{url}/erasure", json={"confirm": False}, expect=422)
    refused = await api.json(
        "POST", f"{url}/erasure", json={"confirm": True}, headers={"Accept-Language": "ru"}, expect=409
    )
    assert refused["detail"].startswith(f"Сначала закройте претензии клиента: {claim.number}.")

    async with api.sessions() as session:
        staff = Actor.staff(api.user_ids["manager"])
        await transition(session, claim_id=claim.id, to="in_progress", actor=staff)
        await transition(session, claim_id=claim.id, to="resolved", actor=staff, result="rejected", resolution="Нет")
        await transition(session, claim_id=claim.id, to="closed", actor=staff)
        await session.commit()
    erased = await api.json("POST", f"{url}/erasure", json={"confirm": True})
    assert erased["irreversible"] is True
    assert (erased["claims"], erased["attachments"], erased["files_deleted"]) == (1, 1, 1)
    assert not (tmp_path / "files" / "tg" / "AgADphoto").exists()
    again = await api.json("POST", f"{url}/erasure", json={"confirm": True}, expect=409)
    assert again["detail"] == "This customer's data has already been erased."

    shown = await api.json("GET", url, as_="operator")
    marker = get_translator(get_settings().default_language)("core.erased")
    assert shown["erased_at"] is not None and shown["name"] == marker and shown["phone"] is None
    gone = await api.json("GET", f"/api/v1/attachments/{attachment_id}", as_="operator", expect=410)
    assert gone["detail"] == "The file was deleted with the customer's personal data."
    listed = await api.json("GET", f"/api/v1/claims/{claim.id}/interactions", as_="operator")
    (item,) = [i for i in listed["items"] if i["attachments"]]
    assert item["attachments"][0]["removed_reason"] == "erased"

    async with api.sessions() as session:
        events = (
            await session.scalars(
                select(CustomerEvent).where(CustomerEvent.customer_id == customer.id).order_by(CustomerEvent.id)
            )
        ).all()
    assert [(e.kind, e.actor_staff_id) for e in events] == [
        ("exported", api.user_ids["admin"]),
        ("erased", api.user_ids["admin"]),
    ]
