"""Schemathesis (property-based, from the OpenAPI document) against the running API, signed in as
an admin: no 5xx and no response that breaks its schema or its documented status and type. Every
operation, the reports and exchange ones included (their files: csv, xlsx, png, svg, declared)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from backoffice.api import all_routes
from shared.actors import Actor
from shared.enums import AttachmentKind, Direction, InteractionChannel
from shared.interactions.service import AttachmentIn, log_interaction
from shared.plans.service import add_plan_item
from shared.staff.models import ApiToken, StaffUser
from shared.staff.service import hash_password, hash_token
from tests.backoffice.conftest import Api
from tests.factories import make_catalogs, make_claim

# Far from the ids schemathesis tries (1, small numbers, 2^63-1): the fuzzer must not deactivate
# its own user or revoke its own token half-way through the run.
ADMIN_ID = 900_000_001
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))


async def test_schemathesis_finds_no_server_errors(api: Api, tmp_path: Path) -> None:
    token = "cdk_schemathesis-admin-token"
    async with api.sessions() as session:
        session.add(StaffUser(id=ADMIN_ID, login="fuzz-admin", password_hash=hash_password("x" * 12), role="admin"))
        await session.flush()
        session.add(ApiToken(id=ADMIN_ID, owner_id=ADMIN_ID, name="fuzz", token_hash=hash_token(token)))
        # Rows with the small ids the fuzzer tries first, so deeper code paths run, not only 404s.
        await make_catalogs(session)
        claim = await make_claim(session)
        await add_plan_item(session, claim_id=claim.id, actor=Actor.system(), title="Проверить")
        await log_interaction(
            session,
            actor=Actor.system(),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text="фото",
            claim_id=claim.id,
            attachments=[AttachmentIn(kind=AttachmentKind.PHOTO, tg_file_id="f", storage_path="cached.jpg")],
        )
        # Already in the disk cache (fetching through Telegram is tested against the emulator).
        (tmp_path / "files").mkdir()
        (tmp_path / "files" / "cached.jpg").write_bytes(b"\xff\xd8\xff" + b"0" * 100)
        await session.commit()
    base = str(api.client.make_url("/"))
    schemathesis = Path(sys.executable).with_name("schemathesis")
    process = await asyncio.create_subprocess_exec(
        str(schemathesis),
        "run",
        f"{base}api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "20261128",
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    Path(os.environ.get("SCHEMATHESIS_LOG", tmp_path / "schemathesis.log")).write_text(text)  # noqa: ASYNC240
    assert process.returncode == 0, text[-12000:]
    assert f"{len(all_routes())} passed" in text, text[-3000:]
