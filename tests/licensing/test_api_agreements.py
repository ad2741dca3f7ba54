"""Licensees, their keys, and agreements with every term kind (API.md, Licensees and agreements)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from licensing.models import Agreement, ApiKey, Term

pytestmark = pytest.mark.django_db


def agreement_payload(world, **change) -> dict:
    return {
        "licensee": str(world["licensee"].pk),
        "reference": "AGR-2026-001",
        "currency": "JPY",
        "starts_on": "2026-01-01",
        "ends_on": None,
        "territories": ["JP", "US"],
        "uses": ["training", "generation"],
        "scope": {"catalogue": False, "works": [str(world["series"].pk)], "rights_holders": [str(world["artist"].pk)]},
        "commission": "10.00",
        "terms": [
            {"type": "per_unit", "use": "generation", "rate": "0.5"},
            {"type": "per_work", "use": "training", "fee": {"amount": "2000", "currency": "JPY"}},
            {"type": "revenue_share", "use": "generation", "percent": "5.00"},
            {"type": "flat_fee", "fee": {"amount": "100000", "currency": "JPY"}, "every": "month"},
            {"type": "minimum_guarantee", "amount": {"amount": "500000", "currency": "JPY"}, "every": "quarter"},
            {"type": "advance", "amount": {"amount": "1000000", "currency": "JPY"}},
        ],
        "status": "active",
    } | change


def errors_of(response) -> set:
    return {error.get("field") for error in response.json().get("errors", [])}


def test_staff_creates_a_licensee_and_a_key_shown_once(world):
    staff = world["staff"]
    response = staff.post("/api/v1/licensees", {"name": "Sora-like Video Inc.", "country": "US"}, format="json")
    assert response.status_code == 201
    licensee = response.json()
    created = staff.post(f"/api/v1/licensees/{licensee['id']}/keys", {"name": "production"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"] + ".")
    assert key.split(".")[1] not in ApiKey.objects.get(pk=created.json()["id"]).hashed_key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/").json() == {
        "kind": "licensee", "name": "Sora-like Video Inc.", "key_prefix": created.json()["prefix"]
    }  # fmt: skip
    listed = staff.get(f"/api/v1/licensees/{licensee['id']}/keys").json()["results"]
    assert [item["id"] for item in listed] == [created.json()["id"]]
    assert "key" not in listed[0]
    assert staff.delete(f"/api/v1/licensees/{licensee['id']}/keys/{created.json()['id']}").status_code == 204
    assert client.get("/api/v1/").status_code == 401


def test_only_staff_manage_licensees(world):
    for name in ("publisher_client", "licensee_client"):
        client = world[name]
        assert client.post("/api/v1/licensees", {"name": "x", "country": "US"}, format="json").status_code == 403
        response = client.post(f"/api/v1/licensees/{world['licensee'].pk}/keys", {}, format="json")
        assert response.status_code in (403, 404)
    own = world["licensee_client"].get("/api/v1/licensees").json()["results"]
    assert [item["id"] for item in own] == [str(world["licensee"].pk)]


def test_staff_create_an_agreement_with_every_term_kind(world):
    response = world["staff"].post("/api/v1/agreements", agreement_payload(world), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 1
    assert body["frozen"] is False
    assert [term["type"] for term in body["terms"]] == [
        "per_unit", "per_work", "revenue_share", "flat_fee", "minimum_guarantee", "advance"
    ]  # fmt: skip
    assert body["terms"][0]["rate"] == "0.5"
    assert body["terms"][1]["fee"] == {"amount": "2000", "currency": "JPY"}
    assert body["terms"][4]["amount"] == {"amount": "500000", "currency": "JPY"}
    assert body["scope"]["works"] == [str(world["series"].pk)]
    assert Term.objects.filter(agreement_id=body["id"]).count() == 6


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"terms": [{"type": "per_work", "use": "training", "fee": {"amount": "20", "currency": "USD"}}]},
         "terms[0].fee"),
        ({"terms": [{"type": "per_unit", "use": "retrieval", "rate": "1"}]}, "terms[0].use"),
        ({"terms": [{"type": "per_unit", "use": "generation"}]}, "terms[0].rate"),
        ({"terms": [{"type": "revenue_share", "use": "generation", "percent": "150"}]}, "terms[0].percent"),
        ({"terms": [{"type": "flat_fee", "fee": {"amount": "1", "currency": "JPY"}}]}, "terms[0].every"),
        ({"terms": [{"type": "per_work", "use": "training", "fee": {"amount": "2000.5", "currency": "JPY"}}]},
         "terms[0].fee"),
        ({"territories": ["JP", "ZZZ"]}, "territories[1]"),
        ({"territories": ["QQ"]}, "territories"),
        ({"currency": "XYZ"}, "currency"),
        ({"commission": "100.01"}, "commission"),
        ({"ends_on": "2025-12-31"}, "ends_on"),
        ({"scope": {"catalogue": False, "works": [], "rights_holders": []}}, "scope"),
        ({"scope": {"works": ["00000000-0000-0000-0000-000000000001"]}}, "scope.works"),
        ({"licensee": "00000000-0000-0000-0000-000000000001"}, "licensee"),
        ({"uses": ["painting"]}, "uses[0]"),
    ],
)  # fmt: skip
def test_invalid_agreement_is_400_and_stores_nothing(world, change, field):
    response = world["staff"].post("/api/v1/agreements", agreement_payload(world, **change), format="json")
    assert response.status_code == 400, response.content
    assert field in errors_of(response), response.json()
    assert not Agreement.objects.exists()


def test_a_reference_is_unique_per_licensee(world):
    assert world["staff"].post("/api/v1/agreements", agreement_payload(world), format="json").status_code == 201
    response = world["staff"].post("/api/v1/agreements", agreement_payload(world), format="json")
    assert response.status_code == 400
    assert "reference" in errors_of(response)


def test_who_sees_which_agreements(world):
    created = world["staff"].post("/api/v1/agreements", agreement_payload(world), format="json").json()
    other_licensee = world["staff"].post("/api/v1/licensees", {"name": "Other", "country": "JP"}, format="json").json()
    other = agreement_payload(world, licensee=other_licensee["id"], reference="AGR-OTHER",
                              scope={"catalogue": False, "works": [str(world["artist_work"].pk)]})  # fmt: skip
    other_id = world["staff"].post("/api/v1/agreements", other, format="json").json()["id"]
    licensee = world["licensee_client"]
    assert [a["id"] for a in licensee.get("/api/v1/agreements").json()["results"]] == [created["id"]]
    assert licensee.get(f"/api/v1/agreements/{other_id}").status_code == 404
    assert (
        licensee.patch(f"/api/v1/agreements/{created['id']}", {"status": "suspended"}, format="json").status_code == 403
    )
    # the publisher's series is in the first agreement's scope; the artist's work only in the other's
    assert [a["id"] for a in world["publisher_client"].get("/api/v1/agreements").json()["results"]] == [created["id"]]
    assert {a["id"] for a in world["artist_client"].get("/api/v1/agreements").json()["results"]} == {
        created["id"],
        other_id,
    }


def test_status_moves_follow_the_lifecycle(world):
    created = world["staff"].post("/api/v1/agreements", agreement_payload(world), format="json").json()
    url = f"/api/v1/agreements/{created['id']}"
    assert world["staff"].patch(url, {"status": "suspended"}, format="json").status_code == 200
    assert world["staff"].patch(url, {"status": "terminated"}, format="json").status_code == 200
    response = world["staff"].patch(url, {"status": "active"}, format="json")
    assert response.status_code == 400
    assert "status" in errors_of(response)


def test_a_frozen_agreement_changes_only_through_a_new_version(world):
    created = world["staff"].post("/api/v1/agreements", agreement_payload(world), format="json").json()
    Agreement.objects.filter(pk=created["id"]).update(frozen_at=timezone.now())
    url = f"/api/v1/agreements/{created['id']}"
    new_terms = {"terms": [{"type": "per_unit", "use": "generation", "rate": "0.75"}]}
    response = world["staff"].patch(url, new_terms, format="json")
    assert response.status_code == 400
    assert "effective_from" in errors_of(response)
    response = world["staff"].patch(url, new_terms | {"effective_from": "2026-07-01"}, format="json")
    assert response.status_code == 200, response.content
    new = response.json()
    assert (new["version"], new["supersedes"], new["starts_on"]) == (2, created["id"], "2026-07-01")
    assert new["terms"][0]["rate"] == "0.75"
    assert new["scope"]["works"] == created["scope"]["works"]
    old = world["staff"].get(url).json()
    assert old["ends_on"] == "2026-06-30"
    assert old["terms"] == created["terms"]
    # the status and end date of a frozen version may still change
    assert world["staff"].patch(url, {"status": "suspended"}, format="json").status_code == 200


def test_an_agreement_listing_a_series_covers_a_holder_of_a_grandchild(world):
    """A chapter with its own shares, two levels below the listed series: its holder sees the agreement."""
    from .factories import RightsHolderFactory, holder_user, work_with_shares

    editor = RightsHolderFactory(name="編集プロダクション")
    chapter = work_with_shares((editor, "100.00"), title="第1話", kind="other", parent=world["volume"])
    assert chapter.parent.parent == world["series"]
    created = world["staff"].post("/api/v1/agreements", agreement_payload(world), format="json").json()
    from .conftest import client_for

    editor_client = client_for(user=holder_user(editor, "editor"))
    assert [a["id"] for a in editor_client.get("/api/v1/agreements").json()["results"]] == [created["id"]]


def test_changing_currency_or_uses_rechecks_the_stored_terms(world):
    created = world["staff"].post("/api/v1/agreements", agreement_payload(world), format="json").json()
    url = f"/api/v1/agreements/{created['id']}"
    response = world["staff"].patch(url, {"currency": "USD"}, format="json")
    assert response.status_code == 400
    assert "terms[1].fee" in errors_of(response)
    response = world["staff"].patch(url, {"uses": ["generation"]}, format="json")
    assert response.status_code == 400
    assert "terms[1].use" in errors_of(response)
    body = world["staff"].get(url).json()
    assert (body["currency"], body["uses"]) == ("JPY", ["training", "generation"])
    assert body["terms"] == created["terms"]


def test_commission_defaults_to_zero(world):
    payload = agreement_payload(world)
    del payload["commission"]
    response = world["staff"].post("/api/v1/agreements", payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["commission"] == "0.00"


def test_a_licensee_key_cannot_expire_in_the_past(world):
    response = world["staff"].post(
        f"/api/v1/licensees/{world['licensee'].pk}/keys", {"expires_at": "2020-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert "expires_at" in errors_of(response)
