"""The catalogue's invariants hold in PostgreSQL itself: raw SQL that breaks them fails."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from licensing.models import Agreement, Share, Work

from .factories import LicenseeFactory, RightsHolderFactory, work_with_shares


def sql(statement: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


@pytest.fixture
def holders(db):
    return RightsHolderFactory(), RightsHolderFactory()


@pytest.mark.django_db(transaction=True)
def test_shares_not_summing_to_100_fail_at_commit(holders):
    a, b = holders
    work = work_with_shares((a, "50.00"), (b, "50.00"))
    with pytest.raises(IntegrityError, match=r"sum to 99\.99"), transaction.atomic():  # noqa: PT012
        sql("UPDATE licensing_share SET share = 49.99 WHERE work_id = %s AND rights_holder_id = %s", [work.pk, b.pk])
        statements_ran = True
    assert statements_ran
    assert sorted(Share.objects.filter(work=work).values_list("share", flat=True)) == [50, 50]


@pytest.mark.django_db(transaction=True)
def test_shares_may_be_rewritten_row_by_row_inside_one_transaction(holders):
    a, b = holders
    work = work_with_shares((a, "100.00"))
    with transaction.atomic():
        sql("UPDATE licensing_share SET share = 70 WHERE work_id = %s", [work.pk])
        sql("INSERT INTO licensing_share (work_id, rights_holder_id, share) VALUES (%s, %s, 30)", [work.pk, b.pk])
    assert Share.objects.filter(work=work).count() == 2


@pytest.mark.django_db(transaction=True)
def test_deleting_one_share_of_two_fails_at_commit(holders):
    a, b = holders
    work = work_with_shares((a, "60.00"), (b, "40.00"))
    with pytest.raises(IntegrityError, match=r"licensing_share_sum_100|sum to 60"), transaction.atomic():
        sql("DELETE FROM licensing_share WHERE work_id = %s AND rights_holder_id = %s", [work.pk, b.pk])


@pytest.mark.django_db
def test_a_share_out_of_range_is_refused(holders):
    a, _ = holders
    work = work_with_shares((a, "100.00"))
    with pytest.raises(IntegrityError, match="share_range"):
        sql("UPDATE licensing_share SET share = 0 WHERE work_id = %s", [work.pk])


@pytest.mark.django_db
def test_the_work_hierarchy_has_no_cycles(holders):
    a, _ = holders
    series = work_with_shares((a, "100.00"))
    volume = work_with_shares(parent=series)
    chapter = work_with_shares(parent=volume)
    with pytest.raises(IntegrityError, match="own ancestor"):
        sql("UPDATE licensing_work SET parent_id = %s WHERE id = %s", [chapter.pk, series.pk])


@pytest.mark.django_db
def test_identifiers_are_unique(holders):
    a, _ = holders
    work_with_shares((a, "100.00"), isbn="9784088511245")
    with pytest.raises(IntegrityError):
        sql(
            "INSERT INTO licensing_work (id, kind, title, title_en, isbn, created_at, updated_at) "
            "VALUES (%s, 'other', 'x', '', '9784088511245', now(), now())",
            [uuid.uuid4()],
        )


@pytest.fixture
def agreement(db):
    return Agreement.objects.create(
        licensee=LicenseeFactory(), reference="AGR-1", currency="JPY", starts_on="2026-01-01",
        territories=["JP"], uses=["training"], scope_catalogue=True, status="active",
    )  # fmt: skip


@pytest.mark.django_db
def test_versions_of_an_agreement_never_overlap(agreement):
    with pytest.raises(IntegrityError, match="overlaps"):
        Agreement.objects.create(
            licensee=agreement.licensee, reference="AGR-1", version=2, currency="JPY", starts_on="2026-06-01",
            territories=["JP"], uses=["training"], scope_catalogue=True,
        )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE licensing_agreement SET commission = 50 WHERE id = %s",
        "UPDATE licensing_agreement SET uses = ARRAY['generation'] WHERE id = %s",
        "DELETE FROM licensing_agreement WHERE id = %s",
        "INSERT INTO licensing_term (id, agreement_id, type, use, rate, position) "
        "VALUES (gen_random_uuid(), %s, 'per_unit', 'training', 1, 0)",
    ],
)
def test_a_frozen_agreement_cannot_be_rewritten(agreement, statement):
    Agreement.objects.filter(pk=agreement.pk).update(frozen_at=timezone.now())
    with pytest.raises(IntegrityError, match="frozen"):
        sql(statement, [agreement.pk])


@pytest.mark.django_db
def test_a_frozen_agreement_may_still_end(agreement):
    Agreement.objects.filter(pk=agreement.pk).update(frozen_at=timezone.now())
    sql("UPDATE licensing_agreement SET ends_on = '2026-12-31', status = 'terminated' WHERE id = %s", [agreement.pk])


@pytest.mark.django_db
def test_a_term_must_carry_the_fields_of_its_type(agreement):
    with pytest.raises(IntegrityError, match="fields_of_type"):
        sql(
            "INSERT INTO licensing_term (id, agreement_id, type, use, amount, position) "
            "VALUES (gen_random_uuid(), %s, 'per_unit', 'training', 100, 0)",
            [agreement.pk],
        )


RECURSIVE_OWNERS = """
WITH RECURSIVE owned AS (
    SELECT s.rights_holder_id, s.work_id FROM licensing_share s
    UNION
    SELECT owned.rights_holder_id, c.id FROM owned JOIN licensing_work c ON c.parent_id = owned.work_id
     WHERE NOT EXISTS (SELECT 1 FROM licensing_share s WHERE s.work_id = c.id)
)
SELECT rights_holder_id, work_id FROM owned ORDER BY 1, 2
"""


def owner_table() -> list:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rights_holder_id, work_id FROM licensing_work_owner ORDER BY 1, 2")
        return cursor.fetchall()


def recursive_owners() -> list:
    with connection.cursor() as cursor:
        cursor.execute(RECURSIVE_OWNERS)
        return cursor.fetchall()


RECURSIVE_FACTS = f"""
WITH RECURSIVE up AS (
    SELECT w.id AS work_id, w.parent_id AS at_id, 1 AS depth FROM licensing_work w
    UNION ALL
    SELECT up.work_id, p.parent_id, up.depth + 1 FROM up JOIN licensing_work p ON p.id = up.at_id
), owned AS ({RECURSIVE_OWNERS.replace("ORDER BY 1, 2", "")})
SELECT w.id,
       coalesce((SELECT array_agg(up.at_id ORDER BY up.depth) FROM up WHERE up.work_id = w.id AND up.at_id IS NOT NULL),
                '{{}}'),
       coalesce((SELECT array_agg(o.rights_holder_id ORDER BY o.rights_holder_id) FROM owned o WHERE o.work_id = w.id),
                '{{}}')
  FROM licensing_work w ORDER BY 1
"""  # noqa: S608 (constant fragments)


def facts_table() -> list:
    with connection.cursor() as cursor:
        cursor.execute("SELECT work_id, ancestors, owners FROM licensing_work_facts ORDER BY 1")
        return cursor.fetchall()


def recursive_facts() -> list:
    with connection.cursor() as cursor:
        cursor.execute(RECURSIVE_FACTS)
        return cursor.fetchall()


@pytest.mark.django_db
def test_the_ownership_table_follows_every_change_of_shares_and_hierarchy(holders):
    a, b = holders
    series = work_with_shares((a, "100.00"))
    volume = work_with_shares(parent=series)
    chapter = work_with_shares(parent=volume)
    other = work_with_shares((b, "100.00"))
    assert owner_table() == recursive_owners()
    assert facts_table() == recursive_facts()
    assert len(owner_table()) == 4
    with transaction.atomic():  # the volume gets shares of its own: the chapter follows
        Share.objects.create(work=volume, rights_holder=b, share=100)
    assert owner_table() == recursive_owners()
    assert facts_table() == recursive_facts()
    sql("UPDATE licensing_work SET parent_id = %s WHERE id = %s", [other.pk, volume.pk])  # moved under b's work
    assert owner_table() == recursive_owners()
    assert facts_table() == recursive_facts()
    with transaction.atomic():
        Share.objects.filter(work=volume).delete()  # inherits from its new parent again
    assert owner_table() == recursive_owners()
    assert facts_table() == recursive_facts()
    sql("DELETE FROM licensing_work WHERE id = %s", [chapter.pk])
    assert owner_table() == recursive_owners()
    assert facts_table() == recursive_facts()
    # a parent and its child in one statement, under an existing work: both take their ancestors and owners
    parent = Work(id=uuid.uuid4(), kind="manga_series", title="親", parent=series)
    child = Work(id=uuid.uuid4(), kind="manga_volume", title="子", parent=parent)
    with transaction.atomic():
        Work.objects.bulk_create([parent, child])
    assert owner_table() == recursive_owners()
    assert facts_table() == recursive_facts()
    assert {w: a for w, a, _ in facts_table()}[child.pk] == [parent.pk, series.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("finals", "then", "refused"),
    [
        (["2026-10-01"], "2026-11-01", None),  # the month after
        (["2026-10-01"], "2026-12-01", "the month before is not final"),  # November skipped
        (["2026-10-01"], "2026-09-01", "a later period is final"),  # an earlier one after a later one
        ([], "2026-12-01", None),  # the first month ever made final
    ],
)
def test_months_become_final_in_order_in_the_database(finals, then, refused):
    for period in finals:
        sql(
            "INSERT INTO licensing_reportingperiod (period, status, finalized_at) VALUES (%s, 'final', now())", [period]
        )
    statement = "INSERT INTO licensing_reportingperiod (period, status, finalized_at) VALUES (%s, 'final', now())"
    if refused is None:
        sql(statement, [then])
        return
    with pytest.raises(IntegrityError, match=refused), transaction.atomic():
        sql(statement, [then])
    sql("INSERT INTO licensing_reportingperiod (period, status) VALUES (%s, 'open')", [then])  # open: allowed
    with pytest.raises(IntegrityError, match=refused), transaction.atomic():
        sql("UPDATE licensing_reportingperiod SET status = 'final' WHERE period = %s", [then])


@pytest.mark.django_db
def test_a_final_month_never_opens_again_in_the_database():
    sql("INSERT INTO licensing_reportingperiod (period, status, finalized_at) VALUES ('2026-10-01', 'final', now())")
    with pytest.raises(IntegrityError, match="never opens again"), transaction.atomic():
        sql("UPDATE licensing_reportingperiod SET status = 'open' WHERE period = '2026-10-01'")
