"""Catalogue endpoints of API.md: rights holders, works, reservations; who sees and writes what."""

from __future__ import annotations

import pytest

from licensing.models import Reservation, RightsHolder, Share, Work

pytestmark = pytest.mark.django_db

HOLDER = {
    "name": "株式会社ミライ動画",
    "name_kana": "カブシキガイシャ　ミライドウガ",
    "kind": "corporation",
    "country": "JP",
    "resident": True,
    "invoice_registration_number": "T5835678256246",
    "bank_account": {
        "bank_code": "0001",
        "branch_code": "001",
        "account_type": "ordinary",
        "account_number": "1234567",
        "holder_kana": "ｶ)ﾐﾗｲﾄﾞｳｶﾞ",
    },
    "minimum_payout": {"amount": "5000", "currency": "JPY"},
}


def errors_of(response) -> dict:
    assert response["Content-Type"].startswith("application/problem+json"), response.content
    return {error.get("field"): error["message"] for error in response.json().get("errors", [])}


# rights holders ----------------------------------------------------------------------------------------------------
def test_staff_creates_a_rights_holder_with_normalised_kana_and_checked_bank(world):
    response = world["staff"].post("/api/v1/rights-holders", HOLDER, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name_kana"] == "ｶﾌﾞｼｷｶﾞｲｼﾔ ﾐﾗｲﾄﾞｳｶﾞ"
    assert body["bank_account"]["bank_name"] == "みずほ"
    assert body["minimum_payout"] == {"amount": "5000", "currency": "JPY"}
    assert RightsHolder.objects.get(pk=body["id"]).invoice_registration_number == "T5835678256246"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"invoice_registration_number": "T5835678256247"}, "invoice_registration_number"),
        ({"invoice_registration_number": "5835678256246"}, "invoice_registration_number"),
        ({"bank_account": {**HOLDER["bank_account"], "bank_code": "9998"}}, "bank_account.bank_code"),
        ({"bank_account": {**HOLDER["bank_account"], "branch_code": "999"}}, "bank_account.branch_code"),
        ({"bank_account": {**HOLDER["bank_account"], "holder_kana": "山田"}}, "bank_account.holder_kana"),
        ({"minimum_payout": {"amount": "12.5", "currency": "JPY"}}, "minimum_payout"),
        ({"name_kana": "Ｙａｍａｄａ漢字"}, "name_kana"),
        ({"country": "XX"}, "country"),
        ({"kind": "company"}, "kind"),
    ],
)
def test_invalid_rights_holder_is_400_with_the_field_named(world, change, field):
    response = world["staff"].post("/api/v1/rights-holders", {**HOLDER, **change}, format="json")
    assert response.status_code == 400
    assert field in errors_of(response)
    assert not RightsHolder.objects.filter(name=HOLDER["name"]).exists()


def test_a_rights_holder_user_sees_and_changes_only_itself(world):
    client, publisher, artist = world["publisher_client"], world["publisher"], world["artist"]
    listed = client.get("/api/v1/rights-holders").json()["results"]
    assert [item["id"] for item in listed] == [str(publisher.pk)]
    assert client.get(f"/api/v1/rights-holders/{artist.pk}").status_code == 404
    assert client.patch(f"/api/v1/rights-holders/{artist.pk}", {"address": "x"}, format="json").status_code == 404
    response = client.patch(f"/api/v1/rights-holders/{publisher.pk}", {"address": "東京都千代田区"}, format="json")
    assert response.status_code == 200
    assert response.json()["address"] == "東京都千代田区"
    assert client.post("/api/v1/rights-holders", HOLDER, format="json").status_code == 403


def test_a_licensee_reads_rights_holders_without_their_private_details(world):
    body = world["licensee_client"].get(f"/api/v1/rights-holders/{world['artist'].pk}").json()
    assert body["name"] == "山田太郎"
    assert "bank_account" not in body
    assert "address" not in body
    assert world["licensee_client"].post("/api/v1/rights-holders", HOLDER, format="json").status_code == 403


# works -------------------------------------------------------------------------------------------------------------
def test_staff_creates_a_work_with_shares_and_identifiers(world):
    payload = {
        "title": "星の海 第2巻",
        "title_en": "Sea of Stars 2",
        "kind": "manga_volume",
        "parent": str(world["series"].pk),
        "identifiers": {
            "isbn": "4-08-851125-5",
            "iscc": "KACYPXW445FTYNJ3",
            "ext": [{"scheme": "hikari", "value": "V2"}],
        },
        "shares": [
            {"rights_holder": str(world["publisher"].pk), "share": "66.67"},
            {"rights_holder": str(world["artist"].pk), "share": "33.33"},
        ],
    }
    response = world["staff"].post("/api/v1/works", payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["identifiers"]["isbn"] == "9784088511252"
    assert body["identifiers"]["iscc"] == "ISCC:KACYPXW445FTYNJ3"
    assert body["identifiers"]["ext"] == [{"scheme": "hikari", "value": "V2"}]
    assert {(s["rights_holder"], s["share"], s["inherited"]) for s in body["shares"]} == {
        (str(world["publisher"].pk), "66.67", False),
        (str(world["artist"].pk), "33.33", False),
    }
    assert body["reserved"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"shares": [{"share": "60.00"}, {"share": "39.99"}]}, "shares"),
        ({"shares": [{"share": "100.001"}]}, "shares[0].share"),
        ({"identifiers": {"isbn": "978-4-08-851124-4"}}, "identifiers.isbn"),
        ({"identifiers": {"isbn": "9784088511245"}}, "identifiers.isbn"),  # the volume already has it
        ({"identifiers": {"iscc": "not an iscc!"}}, "identifiers.iscc"),
        ({"parent": "00000000-0000-0000-0000-000000000000", "shares": []}, "parent"),
        ({"shares": []}, "shares"),
        ({"kind": "novel"}, "kind"),
    ],
)
def test_invalid_work_is_400_and_stores_nothing(world, change, field):
    payload = {"title": "新作", "kind": "illustration", "shares": [{"share": "100.00"}]} | change
    for share in payload.get("shares", []):
        share.setdefault("rights_holder", str(world["publisher"].pk))
    before = Work.objects.count()
    response = world["staff"].post("/api/v1/works", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in errors_of(response)
    assert Work.objects.count() == before


def test_a_work_without_shares_inherits_its_parents(world):
    body = world["staff"].get(f"/api/v1/works/{world['volume'].pk}").json()
    assert body["shares"] == [{"rights_holder": str(world["publisher"].pk), "share": "100.00", "inherited": True}]


def test_works_search_identifier_and_holder_filters(world, django_assert_max_num_queries):
    staff = world["staff"]
    with django_assert_max_num_queries(12):
        titles = {w["title"] for w in staff.get("/api/v1/works?search=星の").json()["results"]}
    assert titles == {"星の海", "星の海 第1巻", "星の海 アニメ"}
    assert [w["title"] for w in staff.get("/api/v1/works?search=sea of").json()["results"]] == ["星の海"]
    assert [w["title"] for w in staff.get("/api/v1/works?identifier=isbn:4-08-851124-7").json()["results"]] == [
        "星の海 第1巻"
    ]
    artist_titles = {
        w["title"] for w in staff.get(f"/api/v1/works?rights_holder={world['artist'].pk}").json()["results"]
    }
    assert artist_titles == {"夜明けのうた", "星の海 アニメ"}
    assert staff.get("/api/v1/works?identifier=isbn:123").status_code == 400


def test_a_rights_holder_user_sees_and_writes_only_its_own_works(world):
    client = world["artist_client"]
    titles = {w["title"] for w in client.get("/api/v1/works").json()["results"]}
    assert titles == {"夜明けのうた", "星の海 アニメ"}
    assert client.get(f"/api/v1/works/{world['series'].pk}").status_code == 404
    assert client.patch(f"/api/v1/works/{world['series'].pk}", {"title": "x"}, format="json").status_code == 404
    own = {
        "title": "新しい絵",
        "kind": "illustration",
        "shares": [{"rights_holder": str(world["artist"].pk), "share": "100.00"}],
    }
    assert client.post("/api/v1/works", own, format="json").status_code == 201
    theirs = {**own, "shares": [{"rights_holder": str(world["publisher"].pk), "share": "100.00"}]}
    response = client.post("/api/v1/works", theirs, format="json")
    assert response.status_code == 400
    assert "shares" in errors_of(response)
    # giving away its whole share of a co-owned work would lock itself out: refused, nothing changes
    anime = world["anime"]
    response = client.patch(
        f"/api/v1/works/{anime.pk}",
        {"shares": [{"rights_holder": str(world["publisher"].pk), "share": "100.00"}]},
        format="json",
    )
    assert response.status_code == 400
    assert Share.objects.filter(work=anime, rights_holder=world["artist"]).exists()


def test_a_licensee_reads_the_catalogue_but_cannot_write_it(world):
    client = world["licensee_client"]
    assert len(client.get("/api/v1/works").json()["results"]) == 4
    work = {"title": "x", "kind": "other", "shares": [{"rights_holder": str(world["artist"].pk), "share": "100.00"}]}
    assert client.post("/api/v1/works", work, format="json").status_code == 403
    assert client.patch(f"/api/v1/works/{world['series'].pk}", {"title": "x"}, format="json").status_code == 403
    assert client.post("/api/v1/reservations", {"rights_holder": str(world["artist"].pk), "uses": ["training"]},
                       format="json").status_code == 403  # fmt: skip


# reservations ------------------------------------------------------------------------------------------------------
def test_a_reservation_marks_the_work_and_its_children_reserved_until_lifted(world):
    client, series, volume = world["publisher_client"], world["series"], world["volume"]
    response = client.post(
        "/api/v1/reservations",
        {"work": str(series.pk), "rights_holder": str(world["publisher"].pk), "uses": ["training", "generation"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    reservation = response.json()
    assert client.get(f"/api/v1/works/{volume.pk}").json()["reserved"] is True
    assert world["staff"].get(f"/api/v1/works/{world['artist_work'].pk}").json()["reserved"] is False
    assert world["artist_client"].delete(f"/api/v1/reservations/{reservation['id']}").status_code == 404
    assert client.delete(f"/api/v1/reservations/{reservation['id']}").status_code == 204
    assert client.get(f"/api/v1/works/{volume.pk}").json()["reserved"] is False
    assert Reservation.objects.get(pk=reservation["id"]).lifted_at is not None


def test_a_holder_wide_reservation_covers_co_owned_works(world):
    response = world["artist_client"].post(
        "/api/v1/reservations", {"rights_holder": str(world["artist"].pk), "uses": ["training"]}, format="json"
    )
    assert response.status_code == 201
    assert world["staff"].get(f"/api/v1/works/{world['anime'].pk}").json()["reserved"] is True
    assert world["staff"].get(f"/api/v1/works/{world['series'].pk}").json()["reserved"] is False


def test_reserving_a_work_one_does_not_own_is_refused(world):
    response = world["artist_client"].post(
        "/api/v1/reservations",
        {"work": f"isbn:{world['volume'].isbn}", "rights_holder": str(world["artist"].pk), "uses": ["training"]},
        format="json",
    )
    assert response.status_code == 400
    assert "work" in errors_of(response)
    # another party's rights holder is as unknown as a missing one
    response = world["artist_client"].post(
        "/api/v1/reservations", {"rights_holder": str(world["publisher"].pk), "uses": ["training"]}, format="json"
    )
    assert response.status_code == 400
    assert errors_of(response) == {"rights_holder": "Unknown rights holder."}


def test_a_cycle_through_the_api_is_a_field_error(world):
    series, volume = world["series"], world["volume"]
    response = world["staff"].patch(f"/api/v1/works/{series.pk}", {"parent": str(volume.pk)}, format="json")
    assert response.status_code == 400
    assert errors_of(response) == {"parent": "A work cannot be its own ancestor."}


def test_removing_the_parent_of_a_work_without_shares_is_refused(world):
    volume = world["volume"]
    response = world["staff"].patch(f"/api/v1/works/{volume.pk}", {"parent": None}, format="json")
    assert response.status_code == 400
    assert "shares" in errors_of(response)
    volume.refresh_from_db()
    assert volume.parent_id == world["series"].pk


def test_bad_input_never_makes_a_server_error(world):
    staff = world["staff"]
    huge = {"amount": "999999999999999999.99", "currency": "USD"}
    response = staff.post("/api/v1/rights-holders", {"name": "x", "name_kana": "ｴﾂｸｽ", "kind": "corporation",
                                                     "minimum_payout": huge}, format="json")  # fmt: skip
    assert response.status_code == 400
    assert "minimum_payout" in errors_of(response)
    for url in ("/api/v1/works?search=a%00b", "/api/v1/rights-holders?search=%00", "/api/v1/agreements?status=%00",
                "/api/v1/works?identifier=ext:a:b%00"):  # fmt: skip
        assert staff.get(url).status_code == 400, url
    assert staff.get("/api/v1/agreements?status=paused").status_code == 400
    too_many = staff.get("/api/v1/works?" + "&".join(f"f{n}=1" for n in range(1100)))  # DATA_UPLOAD_MAX_NUMBER_FIELDS
    assert too_many.status_code == 400
    assert too_many["Content-Type"] == "application/problem+json"
    iscc = {"title": "x", "kind": "other", "identifiers": {"iscc": "ISCC:" + "A" * 120},
            "shares": [{"rights_holder": str(world["artist"].pk), "share": "100.00"}]}  # fmt: skip
    assert staff.post("/api/v1/works", iscc, format="json").status_code == 400
    for scheme in ("ｉｓｂｎ", "-abc", ".x", "日本"):
        bad = {**iscc, "identifiers": {"ext": [{"scheme": scheme, "value": "1"}]}}
        response = staff.post("/api/v1/works", bad, format="json")
        assert response.status_code == 400
        assert "identifiers.ext[0]" in errors_of(response)
    assert staff.get("/api/v1").status_code == 200


def test_a_holder_cannot_declare_its_own_tax_status(world):
    client, publisher = world["publisher_client"], world["publisher"]
    response = client.patch(f"/api/v1/rights-holders/{publisher.pk}", {"kind": "individual", "resident": False},
                            format="json")  # fmt: skip
    assert response.status_code == 400
    assert set(errors_of(response)) == {"kind", "resident"}
    publisher.refresh_from_db()
    assert (publisher.kind, publisher.resident) == ("corporation", True)


def test_a_co_owner_cannot_rewrite_the_other_co_owners_share(world):
    anime, publisher = world["anime"], world["publisher"]
    response = world["publisher_client"].patch(
        f"/api/v1/works/{anime.pk}",
        {"shares": [{"rights_holder": str(publisher.pk), "share": "100.00"}]},
        format="json",
    )
    assert response.status_code == 400
    assert Share.objects.filter(work=anime).count() == 2


def test_changes_are_kept_in_the_history(world):
    body = world["staff"].post("/api/v1/works", {
        "title": "歴史", "kind": "other", "identifiers": {"ext": [{"scheme": "x", "value": "1"}]},
        "shares": [{"rights_holder": str(world["artist"].pk), "share": "100.00"}]}, format="json").json()  # fmt: skip
    assert Share.history.filter(work_id=body["id"], history_user__username="staff").count() == 1
    from licensing.models import WorkIdentifier

    assert WorkIdentifier.history.filter(work_id=body["id"]).count() == 1
