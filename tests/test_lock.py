"""The lock files (requirements/, written by `make lock`) pin every dependency pyproject.toml names,
at versions its bounds allow, for this Python too; the runtime's pins are the dev lock's. A
dependency added to pyproject.toml without `make lock` fails here (and so in CI), not on the
machine of the next person who runs `make run`."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(name: str) -> dict[str, list[tuple[Version, Marker | None]]]:
    """Package -> its pinned versions, each with the marker it applies under (a universal lock pins
    some packages once per range of Python versions)."""
    found: dict[str, list[tuple[Version, Marker | None]]] = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if not line or line.startswith(("#", " ")):
            continue
        requirement, _, marker = line.partition(";")
        package, _, version = requirement.strip().partition("==")
        assert version, f"requirements/{name}: not an exact pin: {line!r}"
        found.setdefault(canonicalize_name(package), []).append(
            (Version(version), Marker(marker) if marker.strip() else None)
        )
    return found


def check(requirements: list[str], locked: dict[str, list[tuple[Version, Marker | None]]], lock: str) -> None:
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in locked, (
            f"{requirement.name} is in pyproject.toml but not in requirements/{lock}: run `make lock`"
        )
        for version, _marker in locked[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"requirements/{lock} pins {requirement.name}=={version}, outside pyproject.toml's "
                f"'{requirement.specifier}': run `make lock`"
            )
        assert any(marker is None or marker.evaluate() for _version, marker in locked[name]), (
            f"requirements/{lock} pins {requirement.name} for other Pythons only"
        )


def test_the_runtime_lock_pins_every_dependency() -> None:
    check(PROJECT["dependencies"], pins("runtime.txt"), "runtime.txt")


def test_the_dev_lock_pins_every_dependency_and_the_dev_extra() -> None:
    check(PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"], pins("dev.txt"), "dev.txt")


def test_the_runtime_pins_are_the_dev_locks() -> None:
    runtime, dev = pins("runtime.txt"), pins("dev.txt")
    for name, versions in runtime.items():
        assert {v for v, _ in versions} <= {v for v, _ in dev.get(name, [])}, name
