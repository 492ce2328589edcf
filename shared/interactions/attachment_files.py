"""An attachment's file: where it sits on disk (CLAIMDESK_DATA_DIR/files: staff uploads and the
back-office's cached downloads from Telegram), and removing it for good while the row stays."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from shared.enums import FileRemoval
from shared.interactions.models import Attachment

log = logging.getLogger(__name__)


def files_dir(data_dir: Path) -> Path:
    return (data_dir / "files").resolve()


def forget_file(attachment: Attachment, *, reason: FileRemoval, at: datetime) -> str | None:
    """Clear what leads to the file (its Telegram ids, its place on disk) and note why it is gone;
    returns the place on disk to delete once the change is written. The file's name goes too when
    the customer's data is erased (a name like "passport_ivanov.jpg" is personal data)."""
    path = attachment.storage_path
    attachment.tg_file_id = None
    attachment.tg_file_unique_id = None
    attachment.storage_path = None
    if reason is FileRemoval.ERASED:
        attachment.file_name = None
    attachment.removed_at = at
    attachment.removed_reason = reason.value
    return path


def files_on_disk(root: Path, places: Iterable[str | None]) -> list[Path]:
    """The files at these places under `root` that exist (never anything outside it)."""
    found = []
    for relative in sorted({p for p in places if p}):
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            log.warning("not touching %s: outside %s", relative, root)
        elif path.is_file():
            found.append(path)
    return found


def delete_files(paths: Iterable[Path]) -> int:
    """Delete these files; returns how many went (one already gone is fine)."""
    deleted = 0
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot delete %s: %s", path, exc)
            continue
        deleted += 1
    return deleted
