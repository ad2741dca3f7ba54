"""`GET /healthz`: is the service able to do its work? Database, Redis (the broker) and a Celery worker."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import app as celery_app

CHECKS = ("database", "redis", "worker")


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def check_redis() -> dict:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return {}


def check_worker() -> dict:
    replies = celery_app.control.ping(timeout=settings.HEALTHZ_WORKER_TIMEOUT, limit=1)
    if not replies:
        raise RuntimeError("no Celery worker answered")
    return {"workers": sorted(name for reply in replies for name in reply)}


_RUNNERS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "redis": check_redis,
    "worker": check_worker,
}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every requested check passes, 503 otherwise. `?check=database,redis` limits the checks."""
    requested = request.GET.get("check")
    names = [name for name in (requested.split(",") if requested else CHECKS) if name]
    unknown = [name for name in names if name not in _RUNNERS]
    if unknown:
        return JsonResponse(
            {"status": "error", "detail": f"unknown check(s): {', '.join(unknown)}; known: {', '.join(CHECKS)}"},
            status=400,
        )
    results: dict[str, dict] = {}
    healthy = True
    for name in names:
        started = time.perf_counter()
        try:
            result = {"ok": True, **_RUNNERS[name]()}
        except Exception as exc:  # a health check reports failures, it never raises them
            healthy = False
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results}, status=200 if healthy else 503
    )


class HealthCheckMiddleware:
    """Answers `/healthz` before host validation and the HTTPS redirect: probes (a container's health check, a
    load balancer) call it by IP address over plain HTTP, which DJANGO_ALLOWED_HOSTS rightly refuses elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path_info in ("/healthz", "/healthz/"):
            return healthz(request)
        return self.get_response(request)
