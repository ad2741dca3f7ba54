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

from .factories import LicenseeFactory, RightsHolderFactory, work_with_shares
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
    """A work added, moved, its shares changed: only the kept covers of the works concerned fall (below)."""
    before = generation()
    work_with_shares((world["publisher"], "100.00"), title="新しい作品")
    sql("UPDATE licensing_agreement SET status = 'suspended' WHERE id = %s", [uuid.uuid4()])
    sql("DELETE FROM licensing_reservation WHERE id = %s", [uuid.uuid4()])
    sql("UPDATE licensing_work SET parent_id = %s WHERE id = %s", [world["series"].pk, world["artist_work"].pk])
    assert generation() == before


def keep(licensee, *works) -> None:
    sql("INSERT INTO licensing_work_cover (licensee_id, work_id, generation, bits, reserved)"
        " SELECT %s, w, generation, B'1', '{}' FROM licensing_coverage_state, unnest(%s::uuid[]) AS w",
        [licensee.pk, [w.pk for w in works]])  # fmt: skip


def test_a_change_of_a_works_ancestors_or_owners_deletes_its_kept_covers_and_only_its(world):
    series, volume, anime, drawing = world["series"], world["volume"], world["anime"], world["artist_work"]
    other = LicenseeFactory()
    keep(world["licensee"], series, volume, anime, drawing)
    keep(other, anime, drawing)
    sql("SELECT licensing_refresh_work_owners(ARRAY[%s::uuid])", [series.pk])  # refreshed, nothing changed
    assert set(covers(world["licensee"])) == {series.pk, volume.pk, anime.pk, drawing.pk}

    sql("UPDATE licensing_work SET parent_id = %s WHERE id = %s", [series.pk, drawing.pk])  # new ancestors
    sql("UPDATE licensing_share SET rights_holder_id = %s WHERE work_id = %s AND rights_holder_id = %s",
        [RightsHolderFactory().pk, anime.pk, world["artist"].pk])  # new owners  # fmt: skip
    assert set(covers(world["licensee"])) == {series.pk, volume.pk}
    assert covers(other) == {}


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
    other = other_connection()
    try:
        other.execute(
            "INSERT INTO licensing_work_cover (licensee_id, work_id, generation, bits, reserved)"
            " SELECT %s, %s, generation, B'1', '{}' FROM licensing_coverage_state",
            [world["licensee"].pk, world["volume"].pk],
        )  # not committed: the row's key is held until `other` ends
        assert report(world, event(world["volume"])) == [(world["volume"].pk, agreement.pk, False)]
    finally:
        other.rollback()
        other.close()
    assert covers(world["licensee"]) == {}


def other_connection() -> psycopg.Connection:
    from django.conf import settings

    database = settings.DATABASES["default"]
    return psycopg.connect(
        dbname=connection.settings_dict["NAME"], user=database["USER"], host=database["HOST"],
        port=database["PORT"] or None, password=database["PASSWORD"] or None,
    )  # fmt: skip


def wait_until_blocked(conn: psycopg.Connection) -> None:
    """Until the other connection's backend waits for a lock (a row lock, or a transaction's end)."""
    import time

    pid = conn.info.backend_pid
    for _ in range(200):
        if sql("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]) == [("Lock",)]:
            return
        time.sleep(0.02)
    raise AssertionError("the other connection never waited for a lock")


@pytest.mark.django_db(transaction=True)
def test_a_change_of_facts_waits_for_a_report_keeping_covers_then_deletes_them(world, agreement):
    """The race the counters' lock closes: a report keeps the volume's cover computed from its facts as they were; a
    transaction changing those facts meanwhile waits for the report to commit, then deletes what it kept."""
    import threading

    from django.db import transaction

    volume = world["volume"]
    other = other_connection()
    try:
        with transaction.atomic():
            assert report(world, event(volume)) == [(volume.pk, agreement.pk, False)]
            assert set(covers(world["licensee"])) == {volume.pk}  # kept, not yet committed; the lock held

            def move_the_volume_out_of_its_series():
                with other.transaction():
                    other.execute("UPDATE licensing_work SET parent_id = NULL WHERE id = %s", [volume.pk])

            mover = threading.Thread(target=move_the_volume_out_of_its_series)
            mover.start()
            wait_until_blocked(other)
        mover.join(timeout=10)
        assert not mover.is_alive()
    finally:
        other.close()
    assert covers(world["licensee"]) == {}
    assert report(world, event(volume)) == [(volume.pk, None, False)]  # computed from the new facts: no owner


@pytest.mark.django_db(transaction=True)
def test_a_report_keeps_nothing_while_a_change_of_facts_is_not_committed(world, agreement):
    """The other order: the facts change holds the counters' row first; the report, which computed from the facts as
    they were (the change not committed), is stored, and keeps nothing."""
    volume = world["volume"]
    other = other_connection()
    try:
        other.execute("UPDATE licensing_work SET parent_id = NULL WHERE id = %s", [volume.pk])  # not committed
        assert report(world, event(volume)) == [(volume.pk, agreement.pk, False)]
        assert covers(world["licensee"]) == {}
        other.commit()
    finally:
        other.close()
    assert report(world, event(volume)) == [(volume.pk, None, False)]
