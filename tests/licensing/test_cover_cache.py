"""Covers kept across a licensee's usage reports (licensing/sql/0017_cover_cache.sql): used while nothing coverage
depends on has changed, never after; the database raises the generation itself, whatever writes the change."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest
from django.db import connection

from licensing import ingest
from licensing.models import Agreement, Reservation, UsageEvent

from .factories import RightsHolderFactory, work_with_shares
from .test_usage_reports import event, ndjson, post

pytestmark = pytest.mark.django_db


def sql(statement: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else None


def generation() -> int:
    return sql("SELECT generation FROM licensing_coverage_state")[0][0]


def covers(licensee) -> dict:
    rows = sql("SELECT work_id, generation, bits::text, reserved FROM licensing_work_cover WHERE licensee_id = %s",
               [licensee.pk])  # fmt: skip
    return {work_id: (gen, bits, reserved) for work_id, gen, bits, reserved in rows}


@pytest.fixture
def agreement(world):
    agreement = Agreement.objects.create(
        licensee=world["licensee"], reference="AGR-C", currency="JPY", starts_on="2026-01-01",
        territories=["JP"], uses=["training", "generation"], status="active",
    )  # fmt: skip
    agreement.scope_rights_holders.add(world["publisher"])
    return agreement


def report(world, *lines) -> list[tuple]:
    response = post(world["licensee_client"], ndjson(*lines), content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    stored = UsageEvent.objects.filter(report_id=response.json()["id"]).order_by("line")
    return [(e.work_id, e.agreement_id, e.reserved) for e in stored]


# --- the generation: raised by the database on every change coverage depends on ----------------------------------


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE licensing_agreement SET status = 'suspended' WHERE id = %(agreement)s",
        "UPDATE licensing_agreement SET scope_catalogue = true WHERE id = %(agreement)s",
        "DELETE FROM licensing_agreement_scope_rights_holders WHERE agreement_id = %(agreement)s",
        "INSERT INTO licensing_agreement_scope_works (agreement_id, work_id) VALUES (%(agreement)s, %(work)s)",
        "INSERT INTO licensing_reservation (id, rights_holder_id, work_id, uses, created_at)"
        " VALUES (gen_random_uuid(), %(holder)s, %(work)s, ARRAY['training'], now())",
    ],
)
def test_each_change_coverage_depends_on_raises_the_generation(world, agreement, change):
    outsider = RightsHolderFactory()
    before = generation()
    sql(change, {"agreement": agreement.pk, "work": world["artist_work"].pk, "holder": world["publisher"].pk,
                 "series": world["series"].pk, "anime": world["anime"].pk, "artist": world["artist"].pk,
                 "outsider": outsider.pk})  # fmt: skip
    assert generation() > before


def test_catalogue_changes_and_changes_of_no_row_leave_the_generation_alone(world, agreement):
    """A work added or moved, a share changed: only the works concerned get a new facts version."""
    before = generation()
    work_with_shares((world["publisher"], "100.00"), title="新しい作品")
    sql("UPDATE licensing_agreement SET status = 'suspended' WHERE id = %s", [uuid.uuid4()])
    sql("DELETE FROM licensing_reservation WHERE id = %s", [uuid.uuid4()])
    assert generation() == before


def facts_versions(*works) -> dict:
    rows = sql("SELECT work_id, version FROM licensing_work_facts WHERE work_id = ANY(%s)", [[w.pk for w in works]])
    return dict(rows)


def test_a_works_facts_get_a_new_version_only_when_its_ancestors_or_owners_change(world):
    series, volume, anime, drawing = world["series"], world["volume"], world["anime"], world["artist_work"]
    before = facts_versions(series, volume, anime, drawing)
    sql("UPDATE licensing_work SET parent_id = %s WHERE id = %s", [series.pk, drawing.pk])  # new ancestors
    sql("UPDATE licensing_share SET rights_holder_id = %s WHERE work_id = %s AND rights_holder_id = %s",
        [RightsHolderFactory().pk, anime.pk, world["artist"].pk])  # new owners  # fmt: skip
    sql("SELECT licensing_refresh_work_owners(ARRAY[%s::uuid])", [series.pk])  # refreshed, nothing changed
    after = facts_versions(series, volume, anime, drawing)
    assert after[drawing.pk] > before[drawing.pk]
    assert after[anime.pk] > before[anime.pk]
    assert (after[series.pk], after[volume.pk]) == (before[series.pk], before[volume.pk])


def test_the_generation_is_a_row_that_moves_only_forward():
    with pytest.raises(Exception, match="licensing_coverage_state_generation_check"):
        sql("UPDATE licensing_coverage_state SET generation = 0")


# --- what a report keeps, and what the next one uses ----------------------------------------------------------------


def test_a_report_keeps_the_covers_it_computed_and_the_next_report_uses_them(world, agreement):
    volume, drawing = world["volume"], world["artist_work"]
    assert report(world, event(volume), event(drawing)) == [(volume.pk, agreement.pk, False), (drawing.pk, None, False)]
    kept = covers(world["licensee"])
    assert set(kept) == {volume.pk, drawing.pk}
    assert kept[volume.pk] == (generation(), "1", [])
    assert kept[drawing.pk] == (generation(), "0", [])

    # the next report reads the kept covers: one altered by hand (no trigger fires) is what it goes by
    sql("UPDATE licensing_work_cover SET bits = B'0' WHERE licensee_id = %s AND work_id = %s",
        [world["licensee"].pk, volume.pk])  # fmt: skip
    assert report(world, event(volume)) == [(volume.pk, None, False)]

    # a work whose ancestors or owners changed has its cover computed again; the others' kept covers still serve
    share = "UPDATE licensing_share SET rights_holder_id = %s WHERE work_id = %s"
    sql(share, [world["publisher"].pk, drawing.pk])  # the drawing passes to the agreement's rights holder
    assert report(world, event(volume), event(drawing)) == [(volume.pk, None, False), (drawing.pk, agreement.pk, False)]
    sql(share, [world["artist"].pk, drawing.pk])

    # any change since: the kept covers are ignored, computed again and kept under the new generation
    Reservation.objects.create(rights_holder=world["artist"], work=drawing, uses=["generation"])
    assert report(world, event(volume), event(drawing)) == [(volume.pk, agreement.pk, False), (drawing.pk, None, True)]
    assert covers(world["licensee"])[volume.pk] == (generation(), "1", [])
    assert covers(world["licensee"])[drawing.pk] == (generation(), "0", ["generation"])


def test_changes_between_reports_are_seen_by_the_next_report(world, agreement):
    """Each input of a cover changed after a report has kept it: the next report judges by the new state."""
    volume, anime = world["volume"], world["anime"]
    first = report(world, event(volume), event(anime))
    assert first == [(volume.pk, agreement.pk, False), (anime.pk, agreement.pk, False)]

    Reservation.objects.create(rights_holder=world["publisher"], work=world["series"], uses=["generation"])
    assert report(world, event(volume), event(anime)) == [(volume.pk, None, True), (anime.pk, agreement.pk, False)]

    # the anime's publisher share passes to a holder outside the agreement's scope
    outsider = RightsHolderFactory()
    sql("UPDATE licensing_share SET rights_holder_id = %s WHERE work_id = %s AND rights_holder_id = %s",
        [outsider.pk, anime.pk, world["publisher"].pk])  # fmt: skip
    assert report(world, event(anime)) == [(anime.pk, None, False)]

    # a second, older agreement naming the anime is now preferred (the ranking of agreements changed)
    older = Agreement.objects.create(
        licensee=world["licensee"], reference="AGR-OLD", currency="JPY", starts_on="2025-01-01",
        territories=["JP"], uses=["generation"], status="active",
    )  # fmt: skip
    older.scope_works.add(anime)
    assert report(world, event(anime), event(volume, use="training")) == [
        (anime.pk, older.pk, False),
        (volume.pk, agreement.pk, False),
    ]

    Agreement.objects.filter(pk=older.pk).update(status="suspended")
    assert report(world, event(anime)) == [(anime.pk, None, False)]


def test_a_change_during_a_report_keeps_nothing(world, agreement):
    """A report whose generation moved while it ran (here in its own transaction) computes from the state it sees
    and keeps none of it: its covers may mix the states before and after."""
    stager = ingest.Stager(connection.cursor(), report_id=uuid.uuid4(), licensee_id=world["licensee"].pk,
                           period=dt.date(2026, 10, 1), late=False)  # fmt: skip
    parsed = next(ingest.parse_chunks(ndjson(event(world["volume"])), "application/x-ndjson",
                                      period=dt.date(2026, 10, 1), default_territory="JP"))  # fmt: skip
    stager.store(parsed, ingest.Result())
    Reservation.objects.create(rights_holder=world["artist"], work=world["artist_work"], uses=["training"])
    stager.close()
    assert covers(world["licensee"]) == {}


@pytest.mark.django_db(transaction=True)
def test_a_report_does_not_wait_on_another_keeping_the_same_covers(world, agreement, django_db_blocker):
    """Another transaction holds the volume's cover row (a concurrent report not yet committed): this report gives
    up keeping its covers after a moment instead of waiting for it, and is stored whole."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    other = psycopg.connect(
        dbname=connection.settings_dict["NAME"], user=database["USER"], host=database["HOST"],
        port=database["PORT"] or None, password=database["PASSWORD"] or None,
    )  # fmt: skip
    try:
        other.execute(
            "INSERT INTO licensing_work_cover (licensee_id, work_id, generation, bits, reserved, facts_version)"
            " SELECT %s, %s, generation, B'1', '{}', 1 FROM licensing_coverage_state",
            [world["licensee"].pk, world["volume"].pk],
        )  # not committed: the row's key is held until `other` ends
        assert report(world, event(world["volume"])) == [(world["volume"].pk, agreement.pk, False)]
    finally:
        other.rollback()
        other.close()
    assert covers(world["licensee"]) == {}
