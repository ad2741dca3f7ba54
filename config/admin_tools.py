"""Admin helpers shared by the apps: a paginator that never counts a large table, a filter typed in."""

from __future__ import annotations

from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q

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


class TextFilter(admin.SimpleListFilter):
    """A list filter typed in (a rights holder or a work among thousands): the rows where any of `lookups` matches
    the text. Subclassed by text_filter()."""

    template = "admin/text_filter.html"
    lookups_: tuple[str, ...] = ()
    many = False  # a lookup through a one-to-many relation: a row once, however many of its related rows match

    def lookups(self, request, model_admin):
        return [("", "")]  # one, so that the filter is shown; the value is free text

    def choices(self, changelist):
        params = {key: value for key, value in changelist.get_filters_params().items() if key != self.parameter_name}
        hidden = [
            (key, item) for key, value in params.items() for item in (value if isinstance(value, list) else [value])
        ]
        yield {"hidden": hidden, "value": self.value() or "", "parameter_name": self.parameter_name}

    def queryset(self, request, queryset):
        text = (self.value() or "").strip()
        if not text:
            return queryset
        condition = Q()
        for lookup in self.lookups_:
            condition |= Q(**{lookup: text})
        queryset = queryset.filter(condition)
        return queryset.distinct() if self.many else queryset


def text_filter(parameter: str, title, lookups: tuple[str, ...], *, many: bool = False) -> type[TextFilter]:
    return type(f"{parameter.title()}TextFilter", (TextFilter,),
                {"parameter_name": parameter, "title": title, "lookups_": lookups, "many": many})  # fmt: skip
