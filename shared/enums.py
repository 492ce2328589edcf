"""String enums stored as text with CHECK constraints (no PostgreSQL enum types to migrate)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint


class Channel(StrEnum):
    """Where a claim came from."""

    TELEGRAM = "telegram"
    PHONE = "phone"
    EMAIL = "email"
    WEB = "web"
    IMPORT = "import"


class Remedy(StrEnum):
    """What the customer asks for."""

    REFUND = "refund"
    REPLACEMENT = "replacement"
    REPAIR = "repair"
    COMPENSATION = "compensation"
    APOLOGY = "apology"
    OTHER = "other"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class InteractionChannel(StrEnum):
    TELEGRAM = "telegram"
    PHONE = "phone"
    EMAIL = "email"
    MEETING = "meeting"
    NOTE = "note"


class DeliveryState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VIDEO = "video"
    VOICE = "voice"
    AUDIO = "audio"


class FileRemoval(StrEnum):
    """Why an attachment's file is gone while its row stays: the retention period ended, or the
    customer's personal data was erased."""

    EXPIRED = "expired"
    ERASED = "erased"


class Role(StrEnum):
    """Staff roles, each with every power of the ones before it: operators work on claims;
    managers also edit catalogs, reassign claims, see reports and import; admins also manage users."""

    OPERATOR = "operator"
    MANAGER = "manager"
    ADMIN = "admin"

    def at_least(self, needed: Role | str) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(Role(needed))


class ActorKind(StrEnum):
    STAFF = "staff"
    CUSTOMER = "customer"
    SYSTEM = "system"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def check_in(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or f"{column}_allowed")
