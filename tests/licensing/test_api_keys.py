"""Bearer keys: shown once, stored hashed, revocable, scoped to their owner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from licensing.models import ApiKey
from licensing.services import api_key_create, api_key_verify

pytestmark = pytest.mark.django_db


def test_key_is_never_stored_in_clear(staff_user):
    api_key, key = api_key_create(name="k", user=staff_user)
    secret = key.split(".", 1)[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM licensing_apikey k WHERE id = %s", [api_key.id])
        (row,) = cursor.fetchone()
    assert secret not in row
    assert api_key.prefix in row
    assert api_key_verify(key) == api_key


def test_key_with_right_prefix_and_wrong_secret_is_refused(staff_user):
    api_key, key = api_key_create(name="k", user=staff_user)
    assert api_key_verify(f"{api_key.prefix}.{'x' * 40}") is None
    assert api_key_verify(key + "x") is None


def test_expired_key_is_refused(staff_user, api_client):
    _, key = api_key_create(name="k", user=staff_user, expires_at=timezone.now() - timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api_client.get("/api/v1/").status_code == 401


def test_create_list_and_revoke_own_keys_over_the_api(staff_client, staff_user):
    created = staff_client.post("/api/v1/me/keys", {"name": "ci"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith(body["prefix"] + ".")
    listed = staff_client.get("/api/v1/me/keys/?page_size=1").json()
    assert len(listed["results"]) == 1
    assert "key" not in listed["results"][0]
    assert listed["next"]
    assert staff_client.get(listed["next"]).json()["results"]

    new_client = staff_client.__class__()
    new_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['key']}")
    assert new_client.get("/api/v1/").json()["key_prefix"] == body["prefix"]
    assert staff_client.delete(f"/api/v1/me/keys/{body['id']}/").status_code == 204
    assert new_client.get("/api/v1/").status_code == 401
    assert ApiKey.objects.get(pk=body["id"]).revoked_at is not None


def test_expiry_in_the_past_is_a_field_error(staff_client):
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = staff_client.post("/api/v1/me/keys", {"name": "x", "expires_at": past}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "expires_at"


def test_trailing_slash_is_optional_without_redirect(staff_client):
    assert staff_client.get("/api/v1/me/keys").status_code == 200
    assert staff_client.get("/api/v1/me/keys/").status_code == 200


def test_create_api_key_command_prints_a_working_key(staff_user, capsys):
    call_command("create_api_key", "--user", staff_user.username, "--name", "cli")
    out = capsys.readouterr().out
    key = next(line.split()[-1] for line in out.splitlines() if line.startswith("key:"))
    assert api_key_verify(key).user == staff_user


def test_key_without_owner_is_refused_by_the_database(staff_user):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO licensing_apikey (id, name, prefix, hashed_key, created_at) "
            "VALUES (gen_random_uuid(), 'x', 'abc', 'h', now())"
        )


def test_create_api_key_for_a_licensee(capsys):
    from django.core.management.base import CommandError

    from tests.licensing.factories import LicenseeFactory

    licensee = LicenseeFactory()
    call_command("create_api_key", "--licensee", str(licensee.pk))
    key = next(line.split()[-1] for line in capsys.readouterr().out.splitlines() if line.startswith("key:"))
    assert api_key_verify(key).licensee == licensee
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(CommandError):
            call_command("create_api_key", "--licensee", bad)
