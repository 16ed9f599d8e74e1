"""ORM models of what customers bought (M5)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from closedloop.contacts.models import Lineage
from closedloop.db.base import Base, BigId, created_at, int_pk
from closedloop.db.types import JsonDoc, Money


class ProductCategory(Base):
    """A node of the category tree (``parent_id`` is empty at the top)."""

    __tablename__ = "product_categories"
    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JsonDoc, default=dict)
    parent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("product_categories.id", ondelete="RESTRICT"), index=True
    )


class Product(Lineage, Base):
    """A product or service the company (or a competitor) sells."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)
    id: Mapped[int_pk]
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    category_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("product_categories.id", ondelete="SET NULL"), index=True
    )
    unit_price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created_at]


class Order(Lineage, Base):
    """A purchase. ``supplier`` is empty for our own sales and names a competitor otherwise."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        Index("ix_orders_person_ordered", "person_id", "ordered_at"),
    )
    id: Mapped[int_pk]
    person_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("persons.id", ondelete="RESTRICT")
    )
    organisation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    ordered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    channel: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    total_amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default="completed")
    supplier: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[created_at]
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.line_no"
    )


class OrderLine(Base):
    """One line of an order: product, quantity, unit price and amount (negative for returns)."""

    __tablename__ = "order_lines"
    id: Mapped[int_pk]
    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    line_no: Mapped[int] = mapped_column(Integer, default=1)
    product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=1)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship()
