from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db.backends.postgresql.operations import DatabaseOperations
from django.utils import timezone
from rest_framework.test import APIClient

from licensing.services import api_key_create


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_user(db):
    from licensing.roles import STAFF, role_group

    user = get_user_model().objects.create_user("staff", "staff@example.com", "pw-staff-123", is_staff=True)
    user.groups.add(role_group(STAFF))
    return user


@pytest.fixture
def staff_key(staff_user) -> str:
    _, key = api_key_create(name="test", user=staff_user)
    return key


@pytest.fixture
def staff_client(staff_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_key}")
    return client


@pytest.fixture
def today(monkeypatch):
    """today(date): "today" (Asia/Tokyo: django.utils.timezone.localdate) is that date for the rest of the test."""
    real = timezone.localdate

    def set_today(date):
        def localdate(value=None, timezone=None):  # Django's signature
            return date if value is None else real(value, timezone)

        monkeypatch.setattr(timezone, "localdate", localdate)

    return set_today


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database may be emptied between transactional tests (TRUNCATE), which the ledger otherwise refuses."""
    from django.db import connection

    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE \"{name}\" SET ledger.allow_truncate = 'on'")
            cursor.execute("SET ledger.allow_truncate = 'on'")


def _transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool("transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction")))


@pytest.fixture(autouse=True)
def _tax_rules_in_transactional_tests(request, django_db_blocker):
    """The tax rules are data a migration writes; the flush after a transactional test empties them: write them
    again before one (the engine refuses to guess a rate)."""
    if _transactional(request):
        import importlib

        request.getfixturevalue("transactional_db")  # the test database first

        from payouts.models import TaxRule

        rules = importlib.import_module("payouts.migrations.0002_tax_rules").RULES
        with django_db_blocker.unblock():
            for kind, effective_from, rate, threshold, rate_above, note in rules:
                TaxRule.objects.get_or_create(kind=kind, effective_from=effective_from, defaults={
                    "rate": rate, "threshold": threshold, "rate_above": rate_above, "note": note})  # fmt: skip


# The partitioned usage and statement-line tables are created by SQL, not by Django models, so Django's flush after
# a transactional test would leave them as they are, and could not empty the tables the lines point at: they are
# emptied in the same TRUNCATE, so that no test sees another's events or lines.
SQL_TABLES = ("licensing_usageevent", "payouts_statementline")
_sql_flush = DatabaseOperations.sql_flush


def _sql_flush_with_sql_tables(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    tables = [*tables, *(table for table in SQL_TABLES if table not in tables)] if tables else tables
    return _sql_flush(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)


DatabaseOperations.sql_flush = _sql_flush_with_sql_tables


@pytest.fixture(autouse=True)
def _close_spare_connections():
    """A large clearance keeps a spare connection per process (licensing/parallel.py): none outlives its test (the
    test database is flushed and, at the end, dropped)."""
    yield
    from licensing.parallel import close_spare_connections

    close_spare_connections()
