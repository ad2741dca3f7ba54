"""Settings come from the environment, and production settings pass Django's deployment checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "DJANGO_SECRET_KEY": "k8#Qz!v2@Lr9$Wm4^Tp7&Xs1*Yb6(Nd3)Hf5-Jg0_Ec8+Ua2=Oi",
    "DJANGO_ALLOWED_HOSTS": "rights-ledger.example.jp",
}


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_an_insecure_configuration():
    """The check above can fail: turning security off must produce warnings."""
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", DJANGO_SECURE_SSL_REDIRECT="false", **PRODUCTION
    )
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check", DJANGO_ALLOWED_HOSTS="x")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_settings_refuse_a_database_that_is_not_postgresql():
    result = run_manage("check", DATABASE_URL="sqlite:///db.sqlite3", **PRODUCTION)
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr


def test_a_malformed_boolean_is_a_clear_error():
    result = run_manage("check", DJANGO_DEBUG="maybe", **PRODUCTION)
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


def test_locale_and_time_zone():
    assert settings.TIME_ZONE == "Asia/Tokyo"
    assert [code for code, _ in settings.LANGUAGES] == ["ja", "en"]
    assert "django.middleware.locale.LocaleMiddleware" in settings.MIDDLEWARE
    assert settings.USE_TZ


def test_celery_is_configured_for_safe_redelivery():
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_SERIALIZER == "json"
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    # a task still running must not be handed to a second worker by Redis
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"


def test_healthz_answers_probes_by_ip_whatever_the_allowed_hosts(client, settings, db):
    settings.ALLOWED_HOSTS = ["ledger.example.jp"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz?check=database", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["ok"] is True
    assert client.get("/api/v1/", HTTP_HOST="10.0.0.7:8000").status_code == 400
