"""An attachment's file: where it sits on disk (CLAIMDESK_DATA_DIR/files: staff uploads and the
back-office's cached downloads from Telegram), and removing it for good while the row stays."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from shared.enums import FileRemoval
from shared.interactions.models import Attachment

log = logging.getLogger(__name__)


def files_dir(data_dir: Path) -> Path:
    return (data_dir / "files").resolve()


class StorageFull(Exception):
    """The disk that keeps the attachments is full (or its quota used up): nothing was written."""


@contextlib.contextmanager
def new_file(target: Path) -> Iterator[BinaryIO]:
    """Write a new file under the files folder: under a temporary name, renamed when complete (a
    reader sees the whole file or none). When the disk is full the partial file is removed and
    `StorageFull` raised, so that the caller can say so plainly (and nothing half-written stays)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with partial.open("wb") as out:
            yield out
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            log.error("the attachments' disk is full: cannot write %s (%s)", target.name, exc.strerror)
            raise StorageFull(str(target.parent)) from exc
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


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
