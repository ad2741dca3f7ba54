"""POST /clearances: coverage rules one by one (RULES.md, Coverage and clearance)."""

from __future__ import annotations

import pytest

from licensing.models import Agreement, Reservation

pytestmark = pytest.mark.django_db


@pytest.fixture
def agreement(world):
    agreement = Agreement.objects.create(
        licensee=world["licensee"], reference="AGR-C", currency="JPY", starts_on="2026-01-01", ends_on="2026-12-31",
        territories=["JP"], uses=["training", "generation"], status="active",
    )  # fmt: skip
    return agreement


def clear(world, works, use="training", date="2026-10-15", territory="JP", client=None):
    body = {"use": use, "date": date, "territory": territory, "works": [str(w) for w in works]}
    response = (client or world["licensee_client"]).post("/api/v1/clearances", body, format="json")
    assert response.status_code == 200, response.content
    return [(r["status"], r["agreement"]) for r in response.json()["results"]]


def test_a_listed_work_covers_its_descendants_only(world, agreement):
    agreement.scope_works.add(world["series"])
    a = str(agreement.pk)
    assert clear(world, [world["series"].pk, world["volume"].pk, world["artist_work"].pk]) == [
        ("licensed", a), ("licensed", a), ("not_licensed", None)
    ]  # fmt: skip


def test_a_listed_rights_holder_covers_what_it_owns_even_in_part(world, agreement):
    agreement.scope_rights_holders.add(world["artist"])
    a = str(agreement.pk)
    assert clear(world, [world["artist_work"].pk, world["anime"].pk, world["series"].pk]) == [
        ("licensed", a), ("licensed", a), ("not_licensed", None)
    ]  # fmt: skip


def test_catalogue_scope_covers_everything(world, agreement):
    Agreement.objects.filter(pk=agreement.pk).update(scope_catalogue=True)
    assert {status for status, _ in clear(world, [w.pk for w in (world["series"], world["artist_work"])])} == {
        "licensed"
    }


def test_territory_date_use_and_status_must_all_match(world, agreement):
    agreement.scope_works.add(world["series"])
    work = [world["volume"].pk]
    assert clear(world, work, territory="US") == [("not_licensed", None)]
    assert clear(world, work, date="2025-12-31") == [("not_licensed", None)]
    assert clear(world, work, date="2027-01-01") == [("not_licensed", None)]
    assert clear(world, work, use="retrieval") == [("not_licensed", None)]
    Agreement.objects.filter(pk=agreement.pk).update(territories=["*"])
    assert clear(world, work, territory="US")[0][0] == "licensed"
    for status in ("suspended", "draft", "terminated"):
        Agreement.objects.filter(pk=agreement.pk).update(status=status)
        assert clear(world, work) == [("not_licensed", None)], status


def test_a_reservation_beats_every_agreement(world, agreement):
    Agreement.objects.filter(pk=agreement.pk).update(scope_catalogue=True)
    reservation = Reservation.objects.create(rights_holder=world["publisher"], work=world["series"], uses=["training"])
    assert clear(world, [world["volume"].pk]) == [("reserved", None)]
    assert clear(world, [world["volume"].pk], use="generation")[0][0] == "licensed"
    Reservation.objects.create(rights_holder=world["artist"], uses=["generation"])  # all of the artist's works
    assert clear(world, [world["anime"].pk], use="generation") == [("reserved", None)]
    reservation.lifted_at = reservation.created_at
    reservation.save()
    assert clear(world, [world["volume"].pk])[0][0] == "licensed"


def test_references_of_every_kind_in_request_order_unknown_when_not_found(world, agreement):
    from licensing.models import WorkIdentifier

    agreement.scope_works.add(world["series"])
    WorkIdentifier.objects.create(work=world["series"], scheme="hikari", value="S-1")
    refs = ["ext:hikari:S-1", "isbn:4-08-851124-7", "not a reference", "00000000-0000-0000-0000-000000000000",
            "isbn:978-4-08-851124-4", str(world["artist_work"].pk), "ext:hikari:S-1", ""]  # fmt: skip
    response = world["licensee_client"].post(
        "/api/v1/clearances", {"use": "training", "date": "2026-10-15", "territory": "JP", "works": refs}, format="json"
    )
    results = response.json()["results"]
    assert [r["ref"] for r in results] == refs
    assert [r["status"] for r in results] == [
        "licensed", "licensed", "unknown", "unknown", "unknown", "not_licensed", "licensed", "unknown"
    ]  # fmt: skip
    assert results[0]["work"] == str(world["series"].pk)


def test_identifier_values_with_array_syntax_resolve_exactly(world, agreement):
    """The references go to PostgreSQL as array literals: a value holding a comma, quotes, a backslash, braces or
    the word NULL must find its own work and no other."""
    from licensing.models import Work, WorkIdentifier

    agreement.scope_works.add(world["series"])
    values = ["A,B", 'say "hi"', "back\\slash", "{S-1}", "NULL", "two  words", '\\"', "漫画,第1巻"]
    for value in values:
        WorkIdentifier.objects.create(work=world["series"], scheme="odd", value=value)
    WorkIdentifier.objects.create(work=world["artist_work"], scheme="odd", value="A")
    Work.objects.filter(pk=world["artist_work"].pk).update(iscc="ISCC:KACYPXW445FTYNJ3")
    refs = [f"ext:odd:{value}" for value in values] + ["ext:odd:B", "ext:odd:A", "iscc:kacypxw445ftynj3", "ext:odd:"]
    response = world["licensee_client"].post(
        "/api/v1/clearances", {"use": "training", "date": "2026-10-15", "territory": "JP", "works": refs}, format="json"
    )
    results = response.json()["results"]
    series, artist_work = str(world["series"].pk), str(world["artist_work"].pk)
    assert [(r["ref"], r["work"], r["status"]) for r in results] == [
        *[(ref, series, "licensed") for ref in refs[: len(values)]],
        ("ext:odd:B", None, "unknown"),
        ("ext:odd:A", artist_work, "not_licensed"),
        ("iscc:kacypxw445ftynj3", artist_work, "not_licensed"),
        ("ext:odd:", None, "unknown"),
    ]


def test_half_a_surrogate_pair_in_a_reference_is_400(world, agreement):
    body = '{"use": "training", "works": ["ext:odd:\\ud800", "isbn:978-4-08-851124-4"]}'
    response = world["licensee_client"].generic("POST", "/api/v1/clearances", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "surrogate" in response.json()["detail"]


def test_planner_settings_hold_for_the_clearance_only(world, agreement):
    """The clearance plans with settings of its own (licensing/selectors.py): in force for its statement; inside a
    caller's transaction (this test's) it puts back what it found afterwards."""
    from django.db import connection

    read = (
        "SELECT current_setting('enable_mergejoin'), current_setting('max_parallel_workers_per_gather'),"
        " current_setting('random_page_cost')"
    )
    during = []

    def spy(execute, sql, params, many, context):
        if sql.lstrip().startswith("WITH res AS MATERIALIZED"):  # the clearance's statement
            context["cursor"].execute(read)
            during.append(context["cursor"].fetchone())
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL random_page_cost = 2.5")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 3")
        cursor.execute(read)
        before = cursor.fetchone()
    with connection.execute_wrapper(spy):
        assert clear(world, [world["series"].pk]) == [("not_licensed", None)]
    with connection.cursor() as cursor:
        cursor.execute(read)
        after = cursor.fetchone()
    assert during == [("off", "0", "1.1")]
    assert after == before == ("on", "3", "2.5")


def test_uuids_in_any_form_name_their_work(world, agreement):
    agreement.scope_works.add(world["series"])
    canonical = str(world["series"].pk)
    forms = [canonical, canonical.upper(), f"{{{canonical}}}", f"urn:uuid:{canonical}", canonical.replace("-", ""),
             f"  {canonical.upper()} "]  # fmt: skip
    body = {"use": "training", "date": "2026-10-15", "territory": "JP", "works": forms}
    response = world["licensee_client"].post("/api/v1/clearances", body, format="json")
    assert [(r["ref"], r["work"], r["status"]) for r in response.json()["results"]] == [
        (form, canonical, "licensed") for form in forms
    ]


def test_batches_are_resolved_in_a_fixed_number_of_queries(world, agreement, django_assert_max_num_queries):
    agreement.scope_works.add(world["series"])
    Agreement.objects.filter(pk=agreement.pk).update(territories=["*"])
    refs = [str(world["volume"].pk)] * 5000 + ["isbn:4-08-851124-7"] * 5000
    with django_assert_max_num_queries(6):
        response = world["licensee_client"].post("/api/v1/clearances", {"use": "training", "works": refs},
                                                 format="json")  # fmt: skip
    assert response.status_code == 200
    assert len(response.json()["results"]) == 10_000


def test_more_than_10000_references_is_400(world):
    response = world["licensee_client"].post(
        "/api/v1/clearances", {"use": "training", "works": ["x"] * 10_001}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "works"


def test_a_body_over_the_limit_is_413_before_it_is_read(world, settings):
    settings.CLEARANCE_MAX_BODY_BYTES = 1000
    refs = [str(world["volume"].pk)] * 40
    response = world["licensee_client"].post("/api/v1/clearances", {"use": "training", "works": refs}, format="json")
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/problem+json")
    small = world["licensee_client"].post("/api/v1/clearances", {"use": "training", "works": refs[:5]}, format="json")
    assert small.status_code == 200


def test_rate_limit_answers_429_with_retry_after(world, settings):
    from django.core.cache import cache

    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "clearance": "2/min"}
    cache.clear()
    body = {"use": "training", "works": [str(world["volume"].pk)]}
    try:
        for _ in range(2):
            assert world["licensee_client"].post("/api/v1/clearances", body, format="json").status_code == 200
        response = world["licensee_client"].post("/api/v1/clearances", body, format="json")
        assert response.status_code == 429
        assert int(response["Retry-After"]) >= 1
    finally:
        cache.clear()


def test_defaults_and_validation(world, agreement):
    agreement.scope_works.add(world["series"])
    Agreement.objects.filter(pk=agreement.pk).update(territories=["US"], ends_on=None)  # the licensee's country
    body = {"use": "training", "works": [str(world["volume"].pk)]}
    response = world["licensee_client"].post("/api/v1/clearances", body, format="json")
    assert response.json()["results"][0]["status"] == "licensed"
    for bad in ({"use": "painting", "works": ["x"]}, {"use": "training", "works": []},
                {"use": "training", "works": "x"}, {"use": "training", "works": [None]},
                {"use": "training", "territory": "ZZ", "works": ["x"]},
                {"use": "training", "date": "2026-13-01", "works": ["x"]}):  # fmt: skip
        assert world["licensee_client"].post("/api/v1/clearances", bad, format="json").status_code == 400, bad


def test_only_licensees_ask_for_clearance(world):
    body = {"use": "training", "works": ["x"]}
    assert world["staff"].post("/api/v1/clearances", body, format="json").status_code == 403
    assert world["publisher_client"].post("/api/v1/clearances", body, format="json").status_code == 403


def make_agreement(world, reference, starts_on, uses=("training",), territories=("JP",), **scope):
    agreement = Agreement.objects.create(
        licensee=world["licensee"], reference=reference, currency="JPY", starts_on=starts_on, ends_on=None,
        territories=list(territories), uses=list(uses), status="active", **scope,
    )  # fmt: skip
    return agreement


def test_the_earliest_starting_matching_agreement_wins_then_the_lowest_id(world):
    later = make_agreement(world, "LATER", "2026-01-01", scope_catalogue=True)
    generation_only = make_agreement(world, "GEN", "2025-01-01", uses=("generation",), scope_catalogue=True)
    first = make_agreement(world, "FIRST", "2025-06-01")
    twin = make_agreement(world, "TWIN", "2025-06-01")
    first.scope_works.add(world["series"])
    twin.scope_rights_holders.add(world["publisher"])
    work = [world["volume"].pk]
    assert clear(world, work) == [("licensed", str(min(first.pk, twin.pk)))]
    assert clear(world, work, use="generation") == [("licensed", str(generation_only.pk))]
    assert clear(world, work, date="2025-12-31") == [("licensed", str(min(first.pk, twin.pk)))]
    assert clear(world, [world["artist_work"].pk]) == [("licensed", str(later.pk))]  # the others do not hold it
    assert clear(world, [world["artist_work"].pk], date="2025-12-31") == [("not_licensed", None)]


def test_the_preferred_agreement_is_found_among_many(world):
    """Dozens of active agreements (more than a machine word has bits): only the last-starting one fits."""
    for n in range(70):
        make_agreement(world, f"MANY-{n}", f"2024-01-{1 + n % 28:02d}", territories=("US",), scope_catalogue=True)
    last = make_agreement(world, "LAST", "2026-06-01", territories=("JP",), scope_catalogue=True)
    assert clear(world, [world["volume"].pk, world["artist_work"].pk]) == [("licensed", str(last.pk))] * 2
    assert clear(world, [world["volume"].pk], territory="US")[0][1] != str(last.pk)
