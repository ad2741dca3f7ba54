from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
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


@pytest.fixture(autouse=True)
def _empty_usage_events_after_transactional_tests(request, django_db_blocker):
    """The partitioned usage table is created by SQL, not by a Django model, so Django's flush after a
    transactional test leaves it as it is: empty it too, so no test sees another's events."""
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction"))
    if transactional:
        from django.db import connection

        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE licensing_usageevent")
