"""Settings, read from the environment (12-factor). Every variable is listed in the README."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "import_export",
    "ledger",
    "licensing",
    "payouts",
]

MIDDLEWARE = [
    "config.health.HealthCheckMiddleware",
    "config.chunked.ChunkedBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "config.charset.CharsetMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "config.problems.ApiProblemMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = True

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL, e.g. postgres://user:pass@host:5432/rights_ledger or, for a Unix socket,
# postgresql://postgres:@/rights_ledger?host=/path/to/socketdir. PostgreSQL only.
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. Use `make up` / `make test` (they start an embedded PostgreSQL) "
        "or point DATABASE_URL at a PostgreSQL 15+ server."
    )
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres:// or postgresql://)")
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5))
# A usage report stages each chunk in temporary tables (about 15 MB per 50,000 events): kept in the session's memory
# rather than written out and read back (PostgreSQL's default is 8 MB; it is taken only when used).
DATABASES["default"]["OPTIONS"].setdefault("options", "-c temp_buffers=" + env_str("DATABASE_TEMP_BUFFERS", "64MB"))
DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: Japanese and English, chosen per request from the browser (LocaleMiddleware).
LANGUAGE_CODE = env_str("DJANGO_LANGUAGE_CODE", "en")
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "Asia/Tokyo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Hashed, compressed static files after `collectstatic` (production); served from the apps' folders otherwise.
STATIC_MANIFEST = env_bool("DJANGO_STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# Security. Defaults are production-safe; a TLS-terminating proxy in front sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["licensing.authentication.BearerKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.CursorPagination",
    "EXCEPTION_HANDLER": "config.problems.problem_exception_handler",
    "DEFAULT_METADATA_CLASS": "config.metadata.MinimalMetadata",
    "UNAUTHENTICATED_USER": None,
    "PAGE_SIZE": 100,
}
API_KEY_CUSTOM_HEADER = None

SPECTACULAR_SETTINGS = {
    "TITLE": "rights-ledger API",
    "DESCRIPTION": (
        "Licensing and compensation ledger for creative works used by AI. "
        "Authenticate with `Authorization: Bearer <key>`. Errors are RFC 9457 problem details."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "UseEnum": "licensing.choices.Use",
        "HolderKindEnum": "licensing.choices.HolderKind",
        "WorkKindEnum": "licensing.choices.WorkKind",
        "TermTypeEnum": "licensing.choices.TermType",
        "AgreementStatusEnum": "licensing.choices.AgreementStatus",
        "UsageReportStatusEnum": "licensing.models.usage.ReportStatus",
        "StatementRunStatusEnum": "payouts.models.RunStatus",
        "StatementStatusEnum": "payouts.models.StatementStatus",
        "BasisEnum": "payouts.models.Basis",
        "AccountTypeEnum": "licensing.choices.AccountType",
        "EveryEnum": "licensing.choices.Every",
        "PrincipalKindEnum": ["user", "licensee"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.problem_headers_hook",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "APPEND_COMPONENTS": {
        "schemas": {
            "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details.",
                "properties": {
                    "type": {"type": "string", "format": "uri-reference"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                            "required": ["message"],
                        },
                    },
                },
                "required": ["type", "title", "status"],
            }
        },
    },
}

# Celery: Redis broker, JSON only, late acks so a killed worker's task is redelivered (tasks are idempotent).
TASK_HARD_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 2 * 60 * 60)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 24 * 60 * 60
CELERY_TASK_TIME_LIMIT = TASK_HARD_TIME_LIMIT
CELERY_TASK_SOFT_TIME_LIMIT = max(TASK_HARD_TIME_LIMIT - 300, 60)
# Longer than the longest job, or Redis hands an unacknowledged task to a second worker while the first still runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": TASK_HARD_TIME_LIMIT * 2}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": TASK_HARD_TIME_LIMIT * 2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# History of every change (django-simple-history); old versions are shown, never restored over newer data.
SIMPLE_HISTORY_REVERT_DISABLED = True

# A statement run split across this many Celery workers (a chord over the agreements, then one assembles); 1: one
STATEMENT_RUN_PARTS = env_int("STATEMENT_RUN_PARTS", 1)
# a run under way that finds its period's lock held (delivered again after its worker was lost) tries again
STATEMENT_RUN_BUSY_RETRY_SECONDS = env_int("STATEMENT_RUN_BUSY_RETRY_SECONDS", 5)
STATEMENT_RUN_BUSY_RETRIES = env_int("STATEMENT_RUN_BUSY_RETRIES", 24)
# PostgreSQL work_mem and maintenance_work_mem of a statement run's transaction (its GROUP BYs, sorts and index
# builds stay in memory): per run, not per connection of the service
STATEMENT_RUN_WORK_MEM = env_str("STATEMENT_RUN_WORK_MEM", "256MB")
# how long finalizing a period waits for the usage reports being stored, in seconds (and at most half of it, before
# that, for a run of the period under way or another finalize: then a 409, rather than waiting for the run)
FINALIZE_WAIT_SECONDS = float(env_str("FINALIZE_WAIT_SECONDS", "60"))

# Licensee API limits (API.md): bodies, events, clearance batch, background threshold, rates per key.
USAGE_MAX_BODY_BYTES = env_int("USAGE_MAX_BODY_BYTES", 256 * 1024 * 1024)
USAGE_MAX_EVENTS = env_int("USAGE_MAX_EVENTS", 5_000_000)
USAGE_ASYNC_THRESHOLD_BYTES = env_int("USAGE_ASYNC_THRESHOLD_BYTES", 8 * 1024 * 1024)
CLEARANCE_MAX_REFS = env_int("CLEARANCE_MAX_REFS", 10_000)
# A report for a month whose usage partition is missing (the schedule makes the coming months' ahead) makes it,
# waiting for its locks at most this long (a PostgreSQL duration); then 503 with Retry-After (seconds)
USAGE_PARTITION_LOCK_TIMEOUT = env_str("USAGE_PARTITION_LOCK_TIMEOUT", "5s")
USAGE_PARTITION_RETRY_AFTER = env_int("USAGE_PARTITION_RETRY_AFTER", 5)
# A clearance of at least 2 × CLEARANCE_PART_MIN_REFS references runs in up to CLEARANCE_PARTS parts side by side,
# on as many PostgreSQL connections reading one snapshot (licensing/parallel.py): each web process keeps
# CLEARANCE_PARTS - 1 spare connections beside its own. 1 turns it off.
CLEARANCE_PARTS = max(1, env_int("CLEARANCE_PARTS", 2))
CLEARANCE_PART_MIN_REFS = max(1, env_int("CLEARANCE_PART_MIN_REFS", 2_000))
# 10,000 references of up to 300 characters, in JSON: about 3.1 MB at most
CLEARANCE_MAX_BODY_BYTES = env_int("CLEARANCE_MAX_BODY_BYTES", 4 * 1024 * 1024)
API_RATE_LIMITS = {
    "clearance": env_str("RATE_LIMIT_CLEARANCE", "600/min"),
    "usage_report": env_str("RATE_LIMIT_USAGE_REPORT", "120/min"),
}

# Shared by every web process: rate-limit counters.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL", REDIS_URL),
        "KEY_PREFIX": "rights-ledger",
        "TIMEOUT": 300,
    }
}

HEALTHZ_WORKER_TIMEOUT = float(env_str("HEALTHZ_WORKER_TIMEOUT", "1.0"))

# The platform's own bank account, from which Zengin transfers are made (RULES.md, Zengin transfer file: the header
# record). The requester code is the 10-digit code the bank assigned for 総合振込; names are written in half-width
# kana. Unset, a JPY batch cannot be exported (the export says which settings are missing).
ZENGIN_REQUESTER = {
    key: value
    for key, value in {
        "code": env_str("ZENGIN_REQUESTER_CODE"),
        "name": env_str("ZENGIN_REQUESTER_NAME"),
        "bank_code": env_str("ZENGIN_BANK_CODE"),
        "bank_name": env_str("ZENGIN_BANK_NAME", ""),
        "branch_code": env_str("ZENGIN_BRANCH_CODE"),
        "branch_name": env_str("ZENGIN_BRANCH_NAME", ""),
        "account_type": env_str("ZENGIN_ACCOUNT_TYPE", "ordinary"),
        "account_number": env_str("ZENGIN_ACCOUNT_NUMBER"),
    }.items()
    if value is not None
}
