"""Rate limits per API key (429 with Retry-After), with rates read from settings on every request."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class KeyRateThrottle(SimpleRateThrottle):
    """`API_RATE_LIMITS[scope]`, e.g. "600/min", counted per API key in the shared cache (Redis)."""

    scope = "default"

    def __init__(self):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self):
        return settings.API_RATE_LIMITS.get(self.scope)

    def get_cache_key(self, request, view):
        key = getattr(request, "auth", None)
        ident = getattr(key, "prefix", None) or self.get_ident(request)
        return f"throttle:{self.scope}:{ident}"


class ClearanceThrottle(KeyRateThrottle):
    scope = "clearance"


class UsageReportThrottle(KeyRateThrottle):
    scope = "usage_report"
