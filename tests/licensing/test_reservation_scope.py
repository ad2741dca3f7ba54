"""Whom a reservation reaches (RULES.md, Coverage and clearance: "a reservation of the use by a rights holder of the
work (or of an ancestor work) beats every agreement"): a reservation applies to a work it names (or an ancestor of
it names, or to every work when it names none) while its holder is a rights holder of the work or of an ancestor.
The clearance, a usage report and the works API's `reserved` flag all say the same."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction

from licensing.models import Agreement, Share, UsageEvent, Work

from .factories import RightsHolderFactory, work_with_shares
from .test_clearance import clear
from .test_usage_reports import event, ndjson, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(world):
    """An agreement for the whole catalogue: whatever is not reserved is licensed."""
    return Agreement.objects.create(
        licensee=world["licensee"], reference="AGR-ALL", currency="JPY", starts_on="2026-01-01", ends_on="2026-12-31",
        territories=["JP"], uses=["training", "generation"], status="active", scope_catalogue=True,
    )  # fmt: skip


@pytest.fixture
def own_volume(world):
    """A volume of the publisher's series with shares of its own: the artist's, 100 %."""
    return work_with_shares(
        (world["artist"], "100.00"), title="星の海 第2巻", kind="manga_volume", parent=world["series"]
    )


def reserved_flag(world, work) -> bool:
    response = world["staff"].get(f"/api/v1/works/{work.pk}")
    assert response.status_code == 200, response.content
    return response.json()["reserved"]


def set_shares(world, work, *holders_and_shares) -> None:
    shares = [{"rights_holder": str(holder.pk), "share": share} for holder, share in holders_and_shares]
    response = world["staff"].patch(f"/api/v1/works/{work.pk}", {"shares": shares}, format="json")
    assert response.status_code == 200, response.content


def set_parent(world, work, parent) -> None:
    response = world["staff"].patch(f"/api/v1/works/{work.pk}", {"parent": str(parent.pk)}, format="json")
    assert response.status_code == 200, response.content


def reserve(world, holder, work=None, uses=("training",)) -> str:
    body = {"rights_holder": str(holder.pk), "work": str(work.pk) if work else None, "uses": list(uses)}
    response = world["staff"].post("/api/v1/reservations", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


# the clearance -----------------------------------------------------------------------------------------------------
def test_a_holder_wide_reservation_reaches_children_with_shares_of_their_own(world, catalogue, own_volume):
    reserve(world, world["publisher"])  # all its works: the series, so the volumes under it too
    a = str(catalogue.pk)
    works = [world["series"].pk, world["volume"].pk, own_volume.pk, world["artist_work"].pk]
    assert clear(world, works) == [("reserved", None), ("reserved", None), ("reserved", None), ("licensed", a)]
    assert clear(world, works, use="generation") == [("licensed", a)] * 4
    assert [reserved_flag(world, w) for w in (world["series"], own_volume, world["artist_work"])] == [
        True, True, False
    ]  # fmt: skip


def test_a_work_reservation_lapses_when_its_holder_no_longer_holds_rights(world, catalogue):
    drawing, a = world["artist_work"], str(catalogue.pk)
    reserve(world, world["artist"], drawing)
    assert clear(world, [drawing.pk]) == [("reserved", None)]
    other = RightsHolderFactory()
    set_shares(world, drawing, (other, "100.00"))  # the artist's share moves to another holder
    assert clear(world, [drawing.pk]) == [("licensed", a)]
    assert reserved_flag(world, drawing) is False
    set_shares(world, drawing, (other, "50.00"), (world["artist"], "50.00"))  # the artist holds rights again
    assert clear(world, [drawing.pk]) == [("reserved", None)]
    assert reserved_flag(world, drawing) is True


def test_a_work_reservation_lapses_for_a_child_when_its_holder_leaves_the_parent(world, catalogue, own_volume):
    """The series' reservation by the publisher reaches a volume with the artist's shares only while the publisher
    holds rights in the series: a share change on the ancestor re-decides the whole subtree."""
    reserve(world, world["publisher"], world["series"])
    assert clear(world, [own_volume.pk]) == [("reserved", None)]
    assert reserved_flag(world, own_volume) is True
    set_shares(world, world["series"], (world["artist"], "100.00"))
    assert (
        clear(world, [world["series"].pk, own_volume.pk, world["volume"].pk]) == [("licensed", str(catalogue.pk))] * 3
    )
    assert [reserved_flag(world, w) for w in (world["series"], own_volume, world["volume"])] == [False] * 3


def test_moving_a_work_under_another_parent_moves_it_in_or_out_of_a_holder_wide_reservation(
    world, catalogue, own_volume
):
    reserve(world, world["publisher"])
    assert clear(world, [own_volume.pk]) == [("reserved", None)]
    set_parent(world, own_volume, world["artist_work"])  # under the artist's own work: the publisher has no say
    assert clear(world, [own_volume.pk]) == [("licensed", str(catalogue.pk))]
    assert reserved_flag(world, own_volume) is False
    set_parent(world, own_volume, world["anime"])  # under the anime the publisher co-owns: reserved again
    assert clear(world, [own_volume.pk]) == [("reserved", None)]
    assert reserved_flag(world, own_volume) is True


def test_a_lifted_reservation_no_longer_counts(world, catalogue, own_volume):
    reservation = reserve(world, world["publisher"])
    assert clear(world, [own_volume.pk]) == [("reserved", None)]
    assert world["staff"].delete(f"/api/v1/reservations/{reservation}").status_code == 204
    assert clear(world, [own_volume.pk]) == [("licensed", str(catalogue.pk))]
    assert reserved_flag(world, own_volume) is False


# a usage report ----------------------------------------------------------------------------------------------------
def test_a_usage_report_judges_reservations_as_the_clearance_does(world, catalogue, own_volume):
    """Both gaps through the ingestion: the publisher's reservation of all its works reaches the volume with the
    artist's shares; the artist's reservation of its drawing lapses once the drawing's share has moved."""
    drawing = world["artist_work"]
    reserve(world, world["publisher"], uses=["training"])
    reserve(world, world["artist"], drawing, uses=["generation"])
    set_shares(world, drawing, (RightsHolderFactory(), "100.00"))
    lines = [
        event(own_volume, use="training"),  # 1: reserved by the publisher, a rights holder of the series
        event(own_volume, use="generation"),  # 2: not reserved: licensed
        event(world["series"], use="training"),  # 3: reserved
        event(drawing, use="generation"),  # 4: the artist's reservation has lapsed: licensed
        event(drawing, use="training"),  # 5: licensed
    ]
    response = post(world["licensee_client"], ndjson(*lines), content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    assert response.json()["events_unlicensed"] == 2
    stored = UsageEvent.objects.filter(report_id=response.json()["id"]).order_by("line")
    assert [(e.line, e.agreement_id, e.reserved) for e in stored] == [
        (1, None, True), (2, catalogue.pk, False), (3, None, True), (4, catalogue.pk, False), (5, catalogue.pk, False),
    ]  # fmt: skip


def test_a_usage_report_counts_a_reservation_until_it_is_lifted(world, catalogue, own_volume):
    reservation = reserve(world, world["publisher"])

    def fate() -> tuple:
        response = post(world["licensee_client"], ndjson(event(own_volume, use="training")),
                        content_type="application/x-ndjson")  # fmt: skip
        assert response.status_code == 201, response.content
        stored = UsageEvent.objects.get(report_id=response.json()["id"])
        return stored.agreement_id, stored.reserved

    assert fate() == (None, True)
    assert world["staff"].delete(f"/api/v1/reservations/{reservation}").status_code == 204
    assert fate() == (catalogue.pk, False)


# the facts the triggers keep ---------------------------------------------------------------------------------------
# From scratch: the holders of a share of each work or of one of its ancestors (each work's effective holders are
# among them, and so are each ancestor's).
RECURSIVE_LINEAGE = """
WITH RECURSIVE line AS (
    SELECT w.id AS work_id, w.id AS at_id, w.parent_id, 0 AS depth FROM licensing_work w
    UNION ALL
    SELECT line.work_id, p.id, p.parent_id, line.depth + 1 FROM line JOIN licensing_work p ON p.id = line.parent_id
)
SELECT w.id, coalesce((SELECT array_agg(DISTINCT s.rights_holder_id ORDER BY s.rights_holder_id)
                         FROM line JOIN licensing_share s ON s.work_id = line.at_id WHERE line.work_id = w.id), '{}')
  FROM licensing_work w ORDER BY 1
"""


def lineage_table() -> list:
    with connection.cursor() as cursor:
        cursor.execute("SELECT work_id, lineage_owners FROM licensing_work_facts ORDER BY 1")
        return cursor.fetchall()


def recursive_lineage() -> list:
    with connection.cursor() as cursor:
        cursor.execute(RECURSIVE_LINEAGE)
        return cursor.fetchall()


def lineage_of(work) -> set:
    return set(dict(lineage_table())[work.pk])


def test_the_lineage_owners_follow_every_change_of_shares_and_hierarchy():
    holders = [RightsHolderFactory() for _ in range(4)]
    a, b, c, d = (holder.pk for holder in holders)
    series = work_with_shares((holders[0], "100.00"))
    volume = work_with_shares(parent=series)
    chapter = work_with_shares((holders[1], "100.00"), parent=volume)
    other = work_with_shares((holders[2], "100.00"))
    assert lineage_table() == recursive_lineage()
    assert (lineage_of(series), lineage_of(volume), lineage_of(chapter)) == ({a}, {a}, {a, b})

    with transaction.atomic():  # a share change on the ancestor: the whole subtree follows
        Share.objects.filter(work=series).delete()
        Share.objects.create(work=series, rights_holder_id=d, share=100)
    assert lineage_table() == recursive_lineage()
    assert (lineage_of(volume), lineage_of(chapter)) == ({d}, {b, d})

    with transaction.atomic():  # the volume gets shares of its own: its chapter has both
        Share.objects.create(work=volume, rights_holder_id=a, share=100)
    assert lineage_table() == recursive_lineage()
    assert lineage_of(chapter) == {a, b, d}

    Work.objects.filter(pk=volume.pk).update(parent=other)  # moved under c's work, with its chapter
    assert lineage_table() == recursive_lineage()
    assert (lineage_of(volume), lineage_of(chapter)) == ({a, c}, {a, b, c})

    with transaction.atomic():  # the chapter loses its own shares and inherits the volume's
        Share.objects.filter(work=chapter).delete()
    assert lineage_table() == recursive_lineage()
    assert lineage_of(chapter) == {a, c}

    # a parent and its child in one statement: both take their line's holders
    parent = Work(id=uuid.uuid4(), kind="manga_series", title="親", parent=chapter)
    child = Work(id=uuid.uuid4(), kind="manga_volume", title="子", parent=parent)
    with transaction.atomic():
        Work.objects.bulk_create([parent, child])
    assert lineage_table() == recursive_lineage()
    assert lineage_of(child) == {a, c}

    Work.objects.filter(pk=child.pk).delete()
    assert lineage_table() == recursive_lineage()
    assert child.pk not in dict(lineage_table())
