"""`Authorization: Bearer <key>` (API.md, Conventions)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from .principals import LicenseePrincipal
from .services import api_key_verify


class BearerKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("The Authorization header must be `Bearer <key>`."))
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("The API key is not valid.")) from None
        api_key = api_key_verify(key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("The API key is not valid, expired or revoked."))
        if api_key.licensee is not None:
            return LicenseePrincipal(api_key.licensee), api_key
        user = api_key.user
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(_("The API key is not valid, expired or revoked."))
        return user, api_key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
