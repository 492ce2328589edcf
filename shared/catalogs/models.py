"""The organisation's directories: departments, employees (culprits, plan owners), claim reasons."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, Timestamped


class Department(Timestamped, Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Employee(Timestamped, Base):
    __tablename__ = "employee"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    position: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    department: Mapped[Department | None] = relationship(lazy="raise")


class Reason(Timestamped, Base):
    __tablename__ = "reason"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("reason.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
