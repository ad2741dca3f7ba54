"""Writes for the licensing app."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from rest_framework_api_key.crypto import KeyGenerator

from .models import ApiKey

_key_generator = KeyGenerator(prefix_length=12, secret_key_length=40)


@transaction.atomic
def api_key_create(*, name: str, user: AbstractBaseUser, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """Create a key and return it with its clear text, which is never stored and cannot be shown again."""
    key, prefix, hashed_key = _key_generator.generate()
    api_key = ApiKey.objects.create(name=name, prefix=prefix, hashed_key=hashed_key, user=user, expires_at=expires_at)
    return api_key, key


def api_key_verify(key: str) -> ApiKey | None:
    """The usable key matching `key`, or None. Constant-time hash comparison."""
    prefix, dot, secret = key.partition(".")
    if not dot or not prefix or not secret or len(prefix) > 16:
        return None
    api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    if api_key is None or not api_key.is_usable:
        return None
    if not _key_generator.verify(key, api_key.hashed_key):
        return None
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key
