"""The header's navigation: a page's link, its label key (web.po) and the least role that sees it.
A page added to the desk adds its line here."""

from __future__ import annotations

from dataclasses import dataclass

from shared.enums import Role


@dataclass(frozen=True, slots=True)
class NavLink:
    path: str
    label: str  # a catalog key
    role: Role = Role.OPERATOR


NAV: list[NavLink] = [
    NavLink("/", "web.nav.queue"),
    NavLink("/reports", "web.reports.nav", Role.MANAGER),
    NavLink("/claims/new", "web.newclaim.nav"),
    NavLink("/undelivered", "web.undelivered.nav"),
    NavLink("/catalogs", "web.admin.nav.catalogs", Role.MANAGER),
    NavLink("/users", "web.admin.nav.users", Role.ADMIN),
    NavLink("/replies", "web.nav.replies", Role.MANAGER),
]
