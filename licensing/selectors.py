"""Reads for the licensing app."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ApiKey


def api_key_list_for_user(*, user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user)
