"""Delivery's named queries, in this package's `sql/queries.sql`."""

from __future__ import annotations

from service.log.queries import NamedQueries

query = NamedQueries("service.delivery")
