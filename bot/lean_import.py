"""Import aiogram without building ~900 pydantic schemas up front (aiogram issue #1513).

Why: `aiogram/types/__init__.py` calls `model_rebuild()` on every Telegram type at import. Here
that costs ~7 s of CPU and ~165 MB of RSS in every bot and worker process, for schemas the bot
never uses (issue 3's RSS target is 150 MB for the whole bot). With this module the import took
~1.7 s and ~64 MB here (9.2 s and 165 MB without, same loaded machine); each model the process
really uses (Update, the methods it calls and their responses) is built on first use, by
pydantic's own deferred-build machinery.

How (while `aiogram` is imported, and only then):
1. pydantic's default `defer_build` is True, so classes are created without a schema;
2. `BaseModel.model_rebuild` called by aiogram with `_types_namespace` only records that
   namespace instead of building;
3. afterwards the recorded namespace (every aiogram type by name, plus `Default`, `Optional`, ...)
   is added to the globals of each `aiogram.types.*` / `aiogram.methods.*` module that lacks the
   names. Those modules import their field types under `TYPE_CHECKING` only; pydantic resolves a
   model's annotations in its module's globals whichever model's build reaches it, so a lazy build
   of `Update`, `SendMessage`, `Response[Message]` or a project subclass finds every name.
Both patches are undone as soon as the import is over: other pydantic models of the process are
not affected.

Risk: this leans on pydantic internals (`pydantic._internal._config.config_defaults`, the
`_types_namespace` keyword of `model_rebuild`) and on how aiogram's types package is laid out.
It is active only for the versions it was checked against (`SUPPORTED_*` below) and only when
aiogram is not imported yet; otherwise aiogram is imported the normal way and a warning is
logged. `tests/bot/test_lean_import.py` builds every aiogram type and method under it and round-
trips the ones the project uses; run it after upgrading aiogram or pydantic before widening the
bounds.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

# (major, minor) ranges this was verified with: [low, high).
SUPPORTED_AIOGRAM = ((3, 31), (3, 32))
SUPPORTED_PYDANTIC = ((2, 12), (2, 14))

_ACTIVE = False


def _version(dist: str) -> tuple[int, int]:
    from importlib.metadata import version

    major, minor, *_ = version(dist).split(".")
    return int(major), int(minor)


def _supported() -> bool:
    try:
        aiogram_v, pydantic_v = _version("aiogram"), _version("pydantic")
    except Exception:
        return False
    return (
        SUPPORTED_AIOGRAM[0] <= aiogram_v < SUPPORTED_AIOGRAM[1]
        and SUPPORTED_PYDANTIC[0] <= pydantic_v < SUPPORTED_PYDANTIC[1]
    )


def active() -> bool:
    """Whether aiogram was imported through this module in this process."""
    return _ACTIVE


def install() -> bool:
    """Import aiogram lazily if possible; True when the lean import is in effect."""
    global _ACTIVE
    if _ACTIVE:
        return True
    if "aiogram" in sys.modules:
        return False  # imported already, schemas built: nothing left to save
    if not _supported():
        log.warning("lean aiogram import skipped: aiogram/pydantic versions outside the checked range")
        return False
    from pydantic import BaseModel
    from pydantic._internal import _config

    namespaces: list[dict[str, Any]] = []
    original = BaseModel.__dict__["model_rebuild"]

    def record_namespace(cls: type[BaseModel], **kwargs: Any) -> bool | None:
        ns = kwargs.get("_types_namespace")
        if ns is not None and cls.__module__.startswith("aiogram."):
            if not namespaces or namespaces[-1] is not ns:
                namespaces.append(ns)
            return None
        return original.__func__(cls, **kwargs)

    had_default = "defer_build" in _config.config_defaults
    previous = _config.config_defaults.get("defer_build")
    _config.config_defaults["defer_build"] = True
    BaseModel.model_rebuild = classmethod(record_namespace)  # type: ignore[method-assign,assignment]
    try:
        import aiogram
        import aiogram.methods
        import aiogram.types  # noqa: F401
    finally:
        BaseModel.model_rebuild = original  # type: ignore[method-assign]
        if had_default:
            _config.config_defaults["defer_build"] = previous
        else:
            _config.config_defaults.pop("defer_build", None)
    names: dict[str, Any] = {}
    for ns in namespaces:
        names.update(ns)
    for name, module in list(sys.modules.items()):
        if module is not None and name.startswith(("aiogram.types.", "aiogram.methods.")):
            scope = vars(module)
            for key, value in names.items():
                scope.setdefault(key, value)
    _ACTIVE = True
    return True
