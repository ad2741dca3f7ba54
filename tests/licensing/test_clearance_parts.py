"""A large clearance runs in parts on several connections that read one snapshot (licensing/parallel.py).

Transactional tests: inside a test's transaction the clearance is one part (other connections cannot see the
test's rows), which `test_inside_a_callers_transaction_it_is_one_part` checks apart.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future

import psycopg
import pytest
from django.db import connections, transaction

from licensing import parallel, selectors
from licensing.models import Agreement, Reservation

pytestmark = pytest.mark.django_db(transaction=True)

ON = dt.date(2026, 10, 15)


@pytest.fixture(autouse=True)
def _parts(settings):
    settings.CLEARANCE_PARTS = 2
    settings.CLEARANCE_PART_MIN_REFS = 2  # a call of 4 references or more is split in two
    yield
    parallel.close_spare_connections()


@pytest.fixture
def agreement(world):
    agreement = Agreement.objects.create(
        licensee=world["licensee"], reference="AGR-P", currency="JPY", starts_on="2026-01-01", ends_on="2026-12-31",
        territories=["JP"], uses=["training", "generation"], status="active",
    )  # fmt: skip
    agreement.scope_works.add(world["series"])
    agreement.scope_rights_holders.add(world["artist"])
    return agreement


@pytest.fixture
def parts(monkeypatch):
    """The parts sent to spare connections, as (snapshot, query parameters) pairs."""
    sent = []
    submit = parallel.submit_part

    def spy(**kwargs):
        sent.append((kwargs["snapshot"], kwargs["query_params"]))
        return submit(**kwargs)

    monkeypatch.setattr(parallel, "submit_part", spy)
    return sent


def refs_of(world):
    """Works in both halves (the series twice), an ISBN, an unknown and a malformed reference."""
    return [
        str(world["series"].pk), "isbn:978-4-08-851124-5", str(world["artist_work"].pk), "not-a-reference",
        str(world["anime"].pk), str(world["series"].pk), "00000000-0000-4000-8000-000000000000",
        str(world["volume"].pk),
    ]  # fmt: skip


def answer(results):
    return [(r["ref"], r["work"], r["status"], r["agreement"]) for r in results]


def clear(world, refs, use="training"):
    return selectors.clearance(licensee=world["licensee"], refs=refs, use=use, on_date=ON, territory="JP")


@pytest.fixture
def no_fallback(caplog):
    """The parts ran where they were sent: none ran again on the request's connection."""
    yield
    assert "failed on a spare connection" not in caplog.text
    assert "could not be sent" not in caplog.text


def test_a_call_in_two_parts_answers_what_one_part_does(world, agreement, parts, settings, no_fallback):
    Reservation.objects.create(rights_holder=world["artist"], work=world["anime"], uses=["training"])
    refs = refs_of(world)
    split = clear(world, refs)
    assert len(parts) == 1  # the second half went to a spare connection
    assert parts[0][0]  # with the snapshot of the request's transaction
    settings.CLEARANCE_PARTS = 1
    whole = clear(world, refs)
    assert len(parts) == 1
    a = str(agreement.pk)
    assert (
        answer(split)
        == answer(whole)
        == [
            (refs[0], str(world["series"].pk), "licensed", a),
            (refs[1], str(world["volume"].pk), "licensed", a),
            (refs[2], str(world["artist_work"].pk), "licensed", a),
            (refs[3], None, "unknown", None),
            (refs[4], str(world["anime"].pk), "reserved", None),
            (refs[5], str(world["series"].pk), "licensed", a),
            (refs[6], None, "unknown", None),
            (refs[7], str(world["volume"].pk), "licensed", a),
        ]
    )


def test_every_part_reads_the_snapshot_of_the_request(world, agreement, monkeypatch, no_fallback):
    """A reservation committed by someone else after the request's transaction began, before the second part runs,
    is not seen by that part either: the whole answer is one moment's. The next call sees it."""
    submit = parallel.submit_part

    def commit_a_reservation_then_submit(**kwargs):
        with psycopg.connect(**parallel.connection_params()) as other:
            other.execute(
                "INSERT INTO licensing_reservation (id, rights_holder_id, work_id, uses, created_at) "
                "VALUES (gen_random_uuid(), %s, %s, ARRAY['training'], now())",
                [world["publisher"].pk, world["series"].pk],
            )
        return submit(**kwargs)

    monkeypatch.setattr(parallel, "submit_part", commit_a_reservation_then_submit)
    volume, other = str(world["volume"].pk), str(world["artist_work"].pk)
    refs = [volume, other, other, volume]  # the volume in both parts: the request's own and the spare one
    assert [r["status"] for r in clear(world, refs)] == ["licensed"] * 4
    monkeypatch.setattr(parallel, "submit_part", submit)
    assert [r["status"] for r in clear(world, refs)] == ["reserved", "licensed", "licensed", "reserved"]


def test_a_part_that_fails_on_its_spare_connection_runs_on_the_requests_own(world, agreement, monkeypatch, caplog):
    def broken(**kwargs):
        future = Future()
        future.set_exception(psycopg.OperationalError("the server closed the connection"))
        return future

    monkeypatch.setattr(parallel, "submit_part", broken)
    refs = refs_of(world)
    results = clear(world, refs)
    assert [r["status"] for r in results] == [
        "licensed", "licensed", "licensed", "unknown", "licensed", "licensed", "unknown", "licensed"
    ]  # fmt: skip
    assert "failed on a spare connection" in caplog.text


def test_inside_a_callers_transaction_it_is_one_part(world, agreement, parts):
    with transaction.atomic():
        results = clear(world, refs_of(world))
    assert parts == []
    assert results[0]["status"] == "licensed"


def test_spare_connections_are_kept_for_the_next_call_and_closed_when_asked(world, agreement, monkeypatch):
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    parallel.close_spare_connections()
    clear(world, refs_of(world))
    [spare] = parallel.spare_connections()
    backend = spare.info.backend_pid
    clear(world, refs_of(world))
    assert [conn.info.backend_pid for conn in parallel.spare_connections()] == [backend]  # taken and given back
    parallel.close_spare_connections()
    assert parallel.spare_connections() == []
    assert spare.closed


def test_a_spare_connection_that_died_while_idle_is_replaced(world, agreement, monkeypatch, no_fallback):
    """A server restart or an idle timeout ends an idle spare connection unseen: the next part opens a new one."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    clear(world, refs_of(world))
    [spare] = parallel.spare_connections()
    dead = spare.info.backend_pid
    with psycopg.connect(**parallel.connection_params()) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [dead]).fetchone() == (True,)
    assert [r["status"] for r in clear(world, refs_of(world))][-4:] == ["licensed", "licensed", "unknown", "licensed"]
    [fresh] = parallel.spare_connections()
    assert fresh.info.backend_pid != dead
    assert spare.closed


def test_with_conn_max_age_0_a_spare_connection_is_closed_after_its_part(world, agreement, monkeypatch):
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    parallel.close_spare_connections()
    clear(world, refs_of(world))
    assert parallel.spare_connections() == []


def test_three_parts_and_the_threshold(world, agreement, parts, settings, no_fallback):
    """A call is split only into parts of CLEARANCE_PART_MIN_REFS references or more; each part's positions are
    its own (a reference answered from the third part lands where it was asked)."""
    settings.CLEARANCE_PARTS = 3
    refs = refs_of(world)
    whole = answer(clear(world, refs[:3]))  # fewer than twice the minimum: one part
    assert parts == []
    assert answer(clear(world, refs)) == answer(clear(world, refs))  # 8 references: three parts (3, 3, 2)
    assert len(parts) == 4  # two parts sent by each of the two calls
    assert {params["id_ord"] for _snapshot, params in parts} == {"{4,5}", "{6,7}"}  # 3 is malformed: not there
    settings.CLEARANCE_PARTS = 1
    assert answer(clear(world, refs))[:3] == whole


def test_a_part_a_lock_would_hold_up_fails_at_once_and_runs_on_the_requests_own(world, agreement, caplog):
    """A part never queues for a lock (behind it, every query of the table would queue too, while the request
    waits for the part in Python where PostgreSQL cannot see it): it fails within lock_timeout and runs here."""
    refs = refs_of(world)
    with psycopg.connect(**parallel.connection_params()) as other:
        other.execute("BEGIN")
        other.execute("LOCK TABLE licensing_agreement_scope_works IN ACCESS EXCLUSIVE MODE")
        with psycopg.connect(**parallel.connection_params()) as probe:
            probe.execute("SELECT set_config('lock_timeout', %s, false)", [parallel.PART_LOCK_TIMEOUT])
            with pytest.raises(psycopg.errors.LockNotAvailable):  # as the part would
                probe.execute("SELECT 1 FROM licensing_agreement_scope_works LIMIT 1")
        other.execute("ROLLBACK")
    assert [r["status"] for r in clear(world, refs)][:3] == ["licensed"] * 3


def test_when_the_requests_own_part_fails_no_part_outlives_it(world, agreement, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    sent = []
    submit = parallel.submit_part

    def keep(**kwargs):
        sent.append(submit(**kwargs))
        return sent[-1]

    execute = CursorWrapper.execute

    def fail_the_request(self, sql, params=None):
        if sent and "WITH res AS" in sql:
            raise RuntimeError("the request's own part failed")
        return execute(self, sql, params)

    monkeypatch.setattr(parallel, "submit_part", keep)
    monkeypatch.setattr(CursorWrapper, "execute", fail_the_request)
    with pytest.raises(RuntimeError, match="own part failed"):
        clear(world, refs_of(world))
    assert len(sent) == 1
    assert sent[0]._future.done()


def test_the_api_answers_a_split_call_in_request_order(world, agreement, parts):
    refs = refs_of(world)
    response = world["licensee_client"].post(
        "/api/v1/clearances", {"use": "generation", "date": "2026-10-15", "territory": "JP", "works": refs},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert [r["ref"] for r in response.json()["results"]] == refs
    assert len(parts) == 1
