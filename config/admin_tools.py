"""Admin helpers shared by the apps: a paginator that never counts a large table."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator
from django.db import connection

EXACT_COUNT_LIMIT = 10_000


class EstimatedCountPaginator(Paginator):
    """Counts at most EXACT_COUNT_LIMIT + 1 rows; an unfiltered big table uses PostgreSQL's row estimate.

    `SELECT count(*)` over millions of rows costs seconds on every changelist page; people need the first pages
    and a rough size, not an exact figure.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] > EXACT_COUNT_LIMIT:
                return int(row[0])
        return queryset.order_by()[: EXACT_COUNT_LIMIT + 1].count()
