"""A month's usage partition is made without holding up the usage table, ahead of the months that need it, and a
report never waits long for one (transactional tests: other connections hold the locks)."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from django.db import connection

from licensing import parallel, usage

from .test_usage_reports import agreement, event, post  # noqa: F401  (agreement: a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

FAR = dt.date(2031, 1, 1)  # a month no other test makes


@pytest.fixture
def drop_far():
    yield
    with connection.cursor() as cursor:
        for month in ("2030_12", "2031_01", "2031_02"):
            cursor.execute(f"DROP TABLE IF EXISTS licensing_usageevent_{month}")


def partition_of(period: dt.date) -> str | None:
    """The month's partition if it is attached (a table of that name that is not attached is no partition)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'licensing_usageevent'::regclass AND c.relname = %s",
            [f"licensing_usageevent_{period:%Y_%m}"],
        )
        row = cursor.fetchone()
    return row and row[0]


def test_a_partition_is_made_while_a_long_reader_holds_the_usage_table(drop_far):
    """CREATE TABLE … PARTITION OF queued for an ACCESS EXCLUSIVE lock behind a reader of the usage table (a
    statement run, an admin list), and every report and query after it queued behind it; attaching takes no lock a
    reader or a writer holds (there is no default partition to lock and scan)."""
    with psycopg.connect(**parallel.connection_params()) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM licensing_usageevent WHERE agreement_id IS NULL")  # every partition
        with psycopg.connect(**parallel.connection_params()) as maker:
            made = maker.execute("SELECT licensing_usage_partition(%s, '2s')", [FAR]).fetchone()[0]
        reader.execute("ROLLBACK")
    assert made == "licensing_usageevent_2031_01"
    assert partition_of(FAR) == made


def test_the_usage_table_has_no_default_partition():
    """A row of a month without its partition is refused, never kept where attaching a month would have to scan."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT partdefid FROM pg_partitioned_table WHERE partrelid = 'licensing_usageevent'::regclass")
        assert cursor.fetchone()[0] == 0


def test_a_table_of_the_months_name_left_detached_is_attached(drop_far):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE licensing_usageevent_2031_01 (LIKE licensing_usageevent INCLUDING DEFAULTS"
                       " INCLUDING CONSTRAINTS)")  # fmt: skip
    assert partition_of(FAR) is None
    usage.ensure_partition(FAR)
    assert partition_of(FAR) == "licensing_usageevent_2031_01"


def test_an_attached_partition_keeps_every_rule_of_the_usage_table(drop_far):
    usage.ensure_partition(FAR)
    row = ("2031-01-01", "00000000-0000-0000-0000-000000000001", 1, "00000000-0000-0000-0000-000000000002",
           "00000000-0000-0000-0000-000000000003", "training", 1, "2031-01-05", "m", "JP")  # fmt: skip
    insert = ("INSERT INTO licensing_usageevent (period, report_id, line, licensee_id, work_id, use, quantity,"
              " occurred_on, model, territory) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")  # fmt: skip
    with psycopg.connect(**parallel.connection_params()) as db:
        db.execute(insert, row)
        with pytest.raises(psycopg.errors.UniqueViolation):  # a report's line stored once
            db.execute(insert, row)
        with pytest.raises(psycopg.errors.CheckViolation):  # quantity from 1
            db.execute(insert, (*row[:2], 2, *row[3:6], 0, *row[7:]))
        with pytest.raises(psycopg.errors.CheckViolation):  # occurred_on inside the period
            db.execute(insert, (*row[:2], 3, *row[3:7], "2031-02-01", *row[8:]))
        indexes = {r[0] for r in db.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'licensing_usageevent_2031_01'").fetchall()}  # fmt: skip
        db.execute("DELETE FROM licensing_usageevent WHERE period = '2031-01-01'")
    assert len(indexes) == 6, indexes  # primary key, line once, agreement, work, report, unlicensed


def test_a_report_that_cannot_make_its_partition_soon_is_503_with_retry_after(world, agreement, settings, drop_far):  # noqa: F811
    settings.USAGE_PARTITION_LOCK_TIMEOUT = "200ms"
    with psycopg.connect(**parallel.connection_params()) as other:
        other.execute("BEGIN")
        other.execute("LOCK TABLE licensing_usageevent IN SHARE UPDATE EXCLUSIVE MODE")  # as VACUUM or DDL would
        with pytest.raises(usage.PartitionBusy):
            usage.ensure_partition(FAR)
        other.execute("ROLLBACK")
    assert partition_of(FAR) is None  # nothing half made
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"  # the wait was the function's own
    usage.ensure_partition(FAR)
    assert partition_of(FAR) == "licensing_usageevent_2031_01"


def test_the_api_answers_503_with_retry_after_when_the_partition_is_busy(world, agreement, settings, monkeypatch):  # noqa: F811
    def busy(period):
        raise usage.PartitionBusy("busy")

    monkeypatch.setattr(usage, "ensure_partition", busy)
    settings.USAGE_PARTITION_RETRY_AFTER = 7
    response = post(world["licensee_client"], {"events": [event(world["volume"])]})
    assert response.status_code == 503, response.content
    assert (response["Retry-After"], response["Content-Type"]) == ("7", "application/problem+json")


def test_the_coming_months_partitions_are_made_by_a_scheduled_task(settings, drop_far, monkeypatch):
    from django.utils import timezone

    from licensing import tasks

    monkeypatch.setattr(timezone, "localdate", lambda: dt.date(2030, 12, 17))
    made = tasks.make_usage_partitions(months_ahead=2)
    assert made == ["licensing_usageevent_2030_12", "licensing_usageevent_2031_01", "licensing_usageevent_2031_02"]
    assert [partition_of(FAR), partition_of(dt.date(2031, 2, 1))] == made[1:]
