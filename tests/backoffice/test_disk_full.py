"""The attachments' disk full (issue 13, faults): a clear answer (507, in the caller's language),
no half-written file left, nothing else lost, and the desk goes on once there is room.

The disk is a real one: a 32 KiB tmpfs mounted on the files folder (root only; CI runs as root)."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from backoffice.files import save_upload
from backoffice.problems import ApiProblem
from bot.sandbox import BotApiEmulator
from shared.actors import Actor
from shared.enums import AttachmentKind, Direction, InteractionChannel
from shared.interactions.models import Attachment
from shared.interactions.service import AttachmentIn, log_interaction
from tests.backoffice.conftest import Api, make_settings
from tests.backoffice.test_interactions_plan import _claim, emulator, settings_extra  # noqa: F401 (fixtures)

ROOM = 32 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    files = tmp_path / "files"
    files.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={ROOM}", "tmpfs", str(files)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield files
    finally:
        subprocess.run(["umount", "-l", str(files)], check=False)


def _files_in(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.is_file()]


async def _telegram_file(api: Api, emu: BotApiEmulator, claim_id: int, data: bytes, name: str) -> int:
    stored = emu.world.files.add(data, "document", file_name=name, mime_type="application/pdf")
    async with api.sessions() as session:
        interaction, _ = await log_interaction(
            session,
            actor=Actor.system(),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text="",
            claim_id=claim_id,
            attachments=[
                AttachmentIn(
                    kind=AttachmentKind.DOCUMENT,
                    tg_file_id=stored.file_id,
                    tg_file_unique_id=stored.file_unique_id,
                    file_name=name,
                    mime_type="application/pdf",
                    size=len(data),
                )
            ],
        )
        await session.commit()
        return interaction.attachments[0].id


async def test_a_file_too_big_for_the_disk_is_a_clear_507_and_the_next_one_is_served(
    api: Api,
    emulator: BotApiEmulator,  # noqa: F811
    small_disk: Path,
) -> None:
    claim_id = await _claim(api)
    big = await _telegram_file(api, emulator, claim_id, b"%PDF big " * 8_000, "big.pdf")
    small = await _telegram_file(api, emulator, claim_id, b"%PDF small", "small.pdf")

    problem = await api.json("GET", f"/api/v1/attachments/{big}", expect=507, headers={"Accept-Language": "ru"})
    assert problem["code"] == "storage_full"
    assert "Диск сервера для файлов заполнен" in problem["detail"]
    assert _files_in(small_disk) == []  # no half-written file
    async with api.sessions() as session:
        row = await session.get(Attachment, big)
        assert row is not None and row.storage_path is None and row.tg_file_id  # it can be fetched later

    response = await api.call("GET", f"/api/v1/attachments/{small}")
    assert response.status == 200 and await response.read() == b"%PDF small"
    listed = await api.json("GET", f"/api/v1/claims/{claim_id}/interactions")
    assert len(listed["items"]) == 2


def _upload(data: bytes, name: str) -> web.FileField:
    return web.FileField(
        name="files", filename=name, file=io.BytesIO(data), content_type="application/pdf",
        headers=CIMultiDictProxy(CIMultiDict()),
    )  # fmt: skip


def test_a_staff_upload_on_a_full_disk_is_refused_and_leaves_nothing(
    database_url: str, tmp_path: Path, small_disk: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    with pytest.raises(ApiProblem) as refused:
        save_upload(settings, _upload(b"x" * (2 * ROOM), "scan.pdf"))
    assert (refused.value.status, refused.value.code) == (507, "storage_full")
    assert _files_in(small_disk) == []
    kept = save_upload(settings, _upload(b"%PDF fits", "note.pdf"))
    assert (tmp_path / "files" / str(kept.storage_path)).read_bytes() == b"%PDF fits"
