"""Every mapped class, imported in one place for Alembic and for mapper configuration."""

from shared.audit.models import ClaimEvent, CustomerEvent, DeskEvent
from shared.bot_state.models import AppMeta, FsmRecord, ProcessedUpdate
from shared.catalogs.models import Department, Employee, Reason
from shared.claims.models import Claim, ClaimNumberCounter
from shared.customers.models import Customer
from shared.db import Base
from shared.interactions.models import Attachment, Interaction
from shared.outbox.models import OutboxMessage
from shared.plans.models import PlanItem
from shared.replies.models import ReplyTemplate
from shared.staff.models import ApiToken, StaffLinkCode, StaffSession, StaffUser
from shared.topics.models import ClaimTopic, StaffGroup

__all__ = [
    "ApiToken",
    "AppMeta",
    "Attachment",
    "Base",
    "Claim",
    "ClaimEvent",
    "ClaimNumberCounter",
    "ClaimTopic",
    "Customer",
    "CustomerEvent",
    "Department",
    "DeskEvent",
    "Employee",
    "FsmRecord",
    "Interaction",
    "OutboxMessage",
    "PlanItem",
    "ProcessedUpdate",
    "Reason",
    "ReplyTemplate",
    "StaffGroup",
    "StaffLinkCode",
    "StaffSession",
    "StaffUser",
]
