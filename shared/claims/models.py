from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.catalogs.models import Department, Employee, Reason
from shared.claims.workflow import OPEN_STATUSES, ClaimResult, ClaimStatus
from shared.customers.models import Customer
from shared.db import Base
from shared.enums import Channel, Priority, Remedy, check_in
from shared.staff.models import StaffUser

# Russian and English stemming side by side: customers write in either, often mixed.
CLAIM_SEARCH_SQL = (
    "to_tsvector('russian'::regconfig, coalesce(subject, '') || ' ' || coalesce(description, '') "
    "|| ' ' || coalesce(number, '') || ' ' || coalesce(order_ref, '')) || "
    "to_tsvector('english'::regconfig, coalesce(subject, '') || ' ' || coalesce(description, ''))"
)

# Hours from registration to the first response and to the decision, exactly as the response-times
# report has always computed them (double precision: date_part, not extract's numeric). Stored, so
# that its percentile sorts over a year of claims read two numbers per claim instead of evaluating
# two interval extractions per claim in every scan (about a third of the report's time).
FIRST_RESPONSE_HOURS_SQL = "date_part('epoch', first_response_at - registered_at) / 3600"
RESOLUTION_HOURS_SQL = "date_part('epoch', resolved_at - registered_at) / 3600"

# What the response-times report reads of a claim besides its group and registration time: the
# per-group indexes (department, responsible) carry them, so its groups are read in group order
# by an index-only scan, with no sort of the year's claims by group.
RESPONSE_TIME_COLUMNS = (
    "status",
    "first_response_at",
    "due_at",
    "resolved_at",
    "first_response_hours",
    "resolution_hours",
)

# An open claim, as SQL text; the claims list's "overdue" filter says it the same way (a partial
# index is used only by a query whose condition implies the index's).
OPEN_CLAIM_SQL = "status IN (" + ", ".join(f"'{status.value}'" for status in OPEN_STATUSES) + ")"

# What the reports (shared/reports/) and the claims-list filters read of a claim, besides its
# registration time: carried by ix_claim_registered_at for index-only scans.
REPORT_COLUMNS = (
    "status",
    "result",
    "channel",
    "reason_id",
    "culprit_department_id",
    "culprit_employee_id",
    "responsible_id",
    "first_response_at",
    "due_at",
    "resolved_at",
    "satisfaction_score",
    "first_response_hours",
    "resolution_hours",
)


class Claim(Base):
    __tablename__ = "claim"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    channel: Mapped[str] = mapped_column(String(16), default=Channel.TELEGRAM)
    subject: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    remedy: Mapped[str | None] = mapped_column(String(16))
    remedy_text: Mapped[str | None] = mapped_column(Text)
    order_ref: Mapped[str | None] = mapped_column(String(100))
    amount_claimed: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    amount_granted: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="RUB")

    reason_id: Mapped[int | None] = mapped_column(ForeignKey("reason.id"))
    culprit_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    culprit_employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    priority: Mapped[str] = mapped_column(String(8), default=Priority.NORMAL)

    status: Mapped[str] = mapped_column(String(16), default=ClaimStatus.NEW)
    result: Mapped[str | None] = mapped_column(String(24))
    resolution: Mapped[str | None] = mapped_column(Text)

    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    satisfaction_score: Mapped[int | None] = mapped_column(SmallInteger)
    satisfaction_comment: Mapped[str | None] = mapped_column(Text)
    satisfaction_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Derived by PostgreSQL from the times above (never written by the application); deferred: only
    # the reports read them.
    first_response_hours: Mapped[float | None] = mapped_column(
        Double, Computed(FIRST_RESPONSE_HOURS_SQL, persisted=True), deferred=True
    )
    resolution_hours: Mapped[float | None] = mapped_column(
        Double, Computed(RESOLUTION_HOURS_SQL, persisted=True), deferred=True
    )

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR, Computed(CLAIM_SEARCH_SQL, persisted=True), deferred=True
    )

    customer: Mapped[Customer] = relationship(lazy="raise")
    reason: Mapped[Reason | None] = relationship(lazy="raise")
    culprit_department: Mapped[Department | None] = relationship(lazy="raise")
    culprit_employee: Mapped[Employee | None] = relationship(lazy="raise")
    responsible: Mapped[StaffUser | None] = relationship(lazy="raise")

    # Every UPDATE checks and bumps `version`: two writers on one claim cannot overwrite each other.
    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        check_in("status", ClaimStatus),
        check_in("channel", Channel),
        check_in("priority", Priority),
        CheckConstraint(
            "remedy IS NULL OR remedy IN (" + ", ".join(f"'{r.value}'" for r in Remedy) + ")",
            name="remedy_allowed",
        ),
        CheckConstraint(
            "result IS NULL OR result IN (" + ", ".join(f"'{r.value}'" for r in ClaimResult) + ")",
            name="result_allowed",
        ),
        CheckConstraint("satisfaction_score IS NULL OR satisfaction_score BETWEEN 1 AND 5", name="satisfaction_range"),
        # A resolved or closed claim always says what was decided.
        CheckConstraint(
            "status NOT IN ('resolved', 'closed') OR (result IS NOT NULL AND resolved_at IS NOT NULL)",
            name="resolved_has_result",
        ),
        # The claims list reads a page in index order: (filter column, sort key, id) is the keyset
        # `(registered_at, id) < (...)` with the filter as the index's prefix, and `status` included
        # lets the total of "filter + status" be an index-only count. These also serve the foreign
        # keys (their column leads), so the single-column indexes are gone.
        Index("ix_claim_status_registered", "status", "registered_at", "id", postgresql_include=["channel", "due_at"]),
        *(
            Index(f"ix_claim_{name}_registered", column, "registered_at", "id", postgresql_include=["status"])
            for name, column in (
                ("customer", "customer_id"),
                ("reason", "reason_id"),
                ("employee", "culprit_employee_id"),
            )
        ),
        # The groups of the response-times report (shared/reports/response_times.py) come from these
        # two in group order, as index-only scans: no sort of a year of claims by group.
        *(
            Index(
                f"ix_claim_{name}_registered",
                column,
                "registered_at",
                "id",
                postgresql_include=list(RESPONSE_TIME_COLUMNS),
            )
            for name, column in (("department", "culprit_department_id"), ("responsible", "responsible_id"))
        ),
        Index("ix_claim_updated_at", "updated_at", "id"),
        # The default order of the list, and the reports: every report reads the claims registered
        # in a range; with the columns they aggregate included, a year of claims is an index-only
        # scan instead of a walk over the wide heap rows (subject, description, search vector).
        Index("ix_claim_registered_at", "registered_at", "id", postgresql_include=list(REPORT_COLUMNS)),
        Index("ix_claim_search_vector", "search_vector", postgresql_using="gin"),
        # The open claims by channel and due date: the total of "overdue" (with or without a channel)
        # is an index-only count of the late open claims, not a walk over every open claim.
        Index("ix_claim_open_channel_due", "channel", "due_at", postgresql_where=text(OPEN_CLAIM_SQL)),
        # The unassigned queue by status, in list order: its page and its total come from one small index.
        Index("ix_claim_unassigned", "status", "registered_at", "id", postgresql_where=text("responsible_id IS NULL")),
    )


class ClaimNumberCounter(Base):
    """One row per year; incremented inside the registering transaction.

    The row lock serialises concurrent registrations of a year, and a rolled-back registration
    rolls its increment back too: numbers have neither duplicates nor gaps.
    """

    __tablename__ = "claim_number_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer, nullable=False)
