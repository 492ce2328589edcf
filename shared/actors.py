"""Who acts: a staff user, a customer or the system. Every audit event names one."""

from __future__ import annotations

from dataclasses import dataclass

from shared.enums import ActorKind


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: int | None = None

    @classmethod
    def staff(cls, staff_user_id: int) -> Actor:
        return cls(ActorKind.STAFF, staff_user_id)

    @classmethod
    def customer(cls, customer_id: int) -> Actor:
        return cls(ActorKind.CUSTOMER, customer_id)

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, None)

    @property
    def is_staff(self) -> bool:
        return self.kind is ActorKind.STAFF


SYSTEM = Actor.system()
