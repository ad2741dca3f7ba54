"""Every API error is RFC 9457 problem+json (API.md, Conventions)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from licensing.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:rights-ledger:problem:")
    assert isinstance(body["title"], str)
    assert body["title"]
    return body


def test_missing_key_is_401_problem_with_bearer_challenge(api_client):
    response = api_client.get("/api/v1/")
    body = assert_problem(response, 401)
    assert body["type"].endswith(":unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer nope", "Bearer abc.def", "Bearer", "Bearer a b", "Bearer \u00e9\u00e9.x", "Bearer " + "x" * 5000],
)
def test_invalid_key_is_401_problem(api_client, header):
    response = api_client.get("/api/v1/", HTTP_AUTHORIZATION=header)
    assert_problem(response, 401)


def test_revoked_key_is_401(api_client, staff_user):
    api_key, key = api_key_create(name="to revoke", user=staff_user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api_client.get("/api/v1/").status_code == 200
    api_key_revoke(api_key=api_key)
    assert_problem(api_client.get("/api/v1/"), 401)


def test_key_of_an_inactive_user_is_401(api_client, staff_user, staff_key):
    staff_user.is_active = False
    staff_user.save()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_key}")
    assert_problem(api_client.get("/api/v1/"), 401)


def test_unknown_api_path_is_404_problem(staff_client, api_client):
    body = assert_problem(staff_client.get("/api/v1/no-such-thing"), 404)
    assert body["type"].endswith(":not-found")
    # also without credentials: an unknown address never becomes an HTML page
    assert_problem(api_client.get("/api/v1/no/such/thing/"), 404)


def test_another_users_object_is_404_not_403(staff_client):
    other = get_user_model().objects.create_user("other", "o@example.com", "pw-other-123")
    other_key, _ = api_key_create(name="theirs", user=other)
    assert_problem(staff_client.get(f"/api/v1/me/keys/{other_key.id}"), 404)
    assert_problem(staff_client.delete(f"/api/v1/me/keys/{other_key.id}"), 404)
    other_key.refresh_from_db()
    assert other_key.revoked_at is None


def test_malformed_json_is_400_problem(staff_client):
    response = staff_client.generic("POST", "/api/v1/me/keys", "{not json", content_type="application/json")
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]


def test_half_a_surrogate_pair_is_400_problem_and_stores_nothing(staff_client):
    """JSON may escape half of a UTF-16 surrogate pair; Python decodes it, UTF-8 and PostgreSQL cannot hold it."""
    from licensing.models import ApiKey

    keys = ApiKey.objects.count()
    for body in ('{"name": "x\\ud800"}', '{"name": "\\uDFFF y"}'):
        response = staff_client.generic("POST", "/api/v1/me/keys", body, content_type="application/json")
        assert "surrogate" in assert_problem(response, 400)["detail"]
    assert ApiKey.objects.count() == keys
    # a whole pair is one character (an emoji), and an escaped backslash before "u" is no escape at all
    for body, name in (('{"name": "\\ud83d\\ude00"}', "\U0001f600"), ('{"name": "a\\\\ud800"}', "a\\ud800")):
        response = staff_client.generic("POST", "/api/v1/me/keys", body, content_type="application/json")
        assert response.status_code == 201, response.content
        assert response.json()["name"] == name


def test_validation_error_is_400_problem_with_field_errors(staff_client):
    response = staff_client.post("/api/v1/me/keys", {"name": "", "expires_at": "yesterday"}, format="json")
    body = assert_problem(response, 400)
    assert body["type"].endswith(":validation-error")
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"name", "expires_at"}
    assert all(error["message"] for error in body["errors"])


def test_wrong_media_type_is_415_problem(staff_client):
    response = staff_client.generic("POST", "/api/v1/me/keys", "name=x", content_type="text/plain")
    assert_problem(response, 415)


def test_wrong_method_is_405_problem(staff_client):
    assert_problem(staff_client.put("/api/v1/me/keys", {}, format="json"), 405)


def test_error_titles_follow_accept_language(api_client):
    response = api_client.get("/api/v1/", HTTP_ACCEPT_LANGUAGE="ja")
    body = assert_problem(response, 401)
    assert body["title"] == "認証が必要です"


def test_nested_errors_are_flattened_to_field_paths():
    from config.problems import flatten_errors

    detail = {
        "events": [{}, {}, {}, {"quantity": ["Ensure this value is greater than or equal to 1."]}],
        "non_field_errors": ["Something about the whole body."],
        "scope": {"works": {"0": ["Unknown work."]}},
    }
    assert list(flatten_errors(detail)) == [
        {"field": "events[3].quantity", "message": "Ensure this value is greater than or equal to 1."},
        {"message": "Something about the whole body."},
        {"field": "scope.works[0]", "message": "Unknown work."},
    ]


def test_unexpected_exception_in_an_api_view_is_a_500_problem_not_html(staff_client, monkeypatch):
    import config.api

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(config.api.ApiRootView, "get", boom)
    staff_client.raise_request_exception = False
    body = assert_problem(staff_client.get("/api/v1/"), 500)
    assert "secret internals" not in str(body)


@pytest.mark.parametrize("path", ["/api/v1/works", "/api/v1/me/keys", "/api/v1/clearances", "/api/v1/usage-reports"])
def test_options_answers_without_a_server_error(staff_client, path):
    response = staff_client.options(path)
    assert response.status_code == 200
    assert response.json()["schema"] == "/api/schema/"
