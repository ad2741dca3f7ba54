from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    """`{"next", "previous", "results"}` with `?page_size=` up to 1000 (API.md, Conventions)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "pk"

    def decode_cursor(self, request):
        """A malformed cursor is a bad request (400), not a missing resource."""
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [_("Not a cursor from this list.")]}) from None
