"""POST /usage-reports: exact, idempotent, partial rejection with line numbers (API.md, Usage reports)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
import uuid

import orjson
import pytest
from django.core.cache import cache
from django.db import connections

from licensing.models import Agreement, ReportingPeriod, UsageEvent, UsageReport

pytestmark = pytest.mark.django_db


@pytest.fixture
def agreement(world):
    agreement = Agreement.objects.create(
        licensee=world["licensee"], reference="AGR-U", currency="JPY", starts_on="2026-01-01",
        territories=["JP", "US"], uses=["training", "generation"], status="active",
    )  # fmt: skip
    agreement.scope_works.add(world["series"])
    return agreement


def event(work, **change) -> dict:
    ref = work if isinstance(work, str) else str(work.pk)
    return {"work": ref, "use": "generation", "quantity": 3, "occurred_on": "2026-10-03", "model": "video-model-2",
            "territory": "JP", "revenue": {"amount": "1200", "currency": "JPY"}} | change  # fmt: skip


def post(client, body, *, key=None, period="2026-10", content_type="application/json", **headers):
    if not isinstance(body, bytes):
        body = orjson.dumps(body)
    return client.generic(
        "POST", f"/api/v1/usage-reports?period={period}", body, content_type=content_type,
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()), **headers,
    )  # fmt: skip


def ndjson(*lines) -> bytes:
    return b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines) + b"\n"


def test_a_json_report_stores_each_event_with_its_agreement(world, agreement):
    volume, drawing = world["volume"], world["artist_work"]
    body = {"events": [event(volume), event(f"isbn:{volume.isbn}", use="training", quantity=1, revenue=None),
                       event(drawing, quantity=7)]}  # fmt: skip
    response = post(world["licensee_client"], body)
    assert response.status_code == 201, response.content
    report = response.json()
    assert (report["status"], report["events_received"], report["events_accepted"], report["events_rejected"],
            report["events_unlicensed"]) == ("accepted", 3, 3, 0, 1)  # fmt: skip
    events = UsageEvent.objects.filter(report_id=report["id"]).order_by("line")
    assert [(e.line, e.work_id, e.agreement_id, e.quantity, e.revenue_amount) for e in events] == [
        (1, volume.pk, agreement.pk, 3, 1200),
        (2, volume.pk, agreement.pk, 1, None),
        (3, drawing.pk, None, 7, 1200),
    ]
    assert {e.licensee_id for e in events} == {world["licensee"].pk}
    assert {str(e.period) for e in events} == {"2026-10-01"}


def test_malformed_ndjson_lines_are_rejected_one_by_one_and_the_rest_kept(world, agreement):
    volume = world["volume"]
    body = ndjson(
        event(volume),
        b"{not json",
        event(volume, quantity=0),
        event(volume, occurred_on="2026-11-01"),
        b"",
        event(volume, use="painting"),
        event("isbn:978-4-08-999999-9"),
        event(volume, revenue={"amount": "12.5", "currency": "JPY"}),
        event(volume, territory="ZZ"),
        event(volume, quantity=2),
    )
    response = post(world["licensee_client"], body, content_type="application/x-ndjson")
    assert response.status_code == 201
    report = response.json()
    assert (report["events_received"], report["events_accepted"], report["events_rejected"]) == (9, 2, 7)
    assert [error["line"] for error in report["errors"]] == [2, 3, 4, 6, 7, 8, 9]
    messages = {error["line"]: error["message"] for error in report["errors"]}
    assert "JSON" in messages[2]
    assert messages[3].startswith("quantity")
    assert messages[4].startswith("occurred_on")
    assert messages[7].startswith("isbn") or messages[7].startswith("work")
    assert sorted(UsageEvent.objects.filter(report_id=report["id"]).values_list("line", flat=True)) == [1, 10]


def test_wrongly_typed_fields_are_named_in_the_rejection(world, agreement):
    volume = world["volume"]
    wrong = [
        ({"quantity": "3"}, "quantity"), ({"quantity": 1.5}, "quantity"), ({"quantity": True}, "quantity"),
        ({"use": 3}, "use"), ({"occurred_on": 20261003}, "occurred_on"), ({"model": None}, "model"),
        ({"territory": 81}, "territory"), ({"revenue": "1200"}, "revenue"),
        ({"revenue": {"amount": 1200, "currency": "JPY"}}, "revenue"),
    ]  # fmt: skip
    lines = [event(volume, **fields) for fields, _ in wrong]
    lines.append({k: v for k, v in event(volume).items() if k != "work"})
    lines.append(b'["not", "an", "object"]')
    response = post(world["licensee_client"], ndjson(*lines), content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    messages = [error["message"] for error in response.json()["errors"]]
    assert [m.split(":")[0] for m in messages] == [field for _, field in wrong] + ["work", "An event is a JSON object."]


def test_a_clean_body_and_one_with_blank_lines_store_the_same_events(world, agreement):
    """A clean NDJSON body is decoded in one call, one with blank lines line by line: the same events, each with
    the number of the line it came on."""
    volume = world["volume"]
    clean = post(world["licensee_client"], ndjson(event(volume, quantity=1), event(volume, quantity=2)),
                 content_type="application/x-ndjson")  # fmt: skip
    spaced = post(world["licensee_client"], b"\n" + ndjson(event(volume, quantity=1), b"", event(volume, quantity=2)),
                  content_type="application/x-ndjson")  # fmt: skip
    stored = {}
    for response in (clean, spaced):
        assert response.status_code == 201, response.content
        rows = UsageEvent.objects.filter(report_id=response.json()["id"]).order_by("line")
        stored[response] = [(e.line, e.quantity) for e in rows]
    assert stored[clean] == [(1, 1), (2, 2)]
    assert stored[spaced] == [(2, 1), (4, 2)]


def test_gzip_ndjson_is_accepted(world, agreement):
    body = gzip.compress(ndjson(event(world["volume"]), event(world["volume"], quantity=5)))
    response = post(world["licensee_client"], body, content_type="application/x-ndjson", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 201
    assert response.json()["events_accepted"] == 2
    response = post(world["licensee_client"], b"not gzip", content_type="application/x-ndjson",
                    HTTP_CONTENT_ENCODING="gzip")  # fmt: skip
    assert response.status_code == 400


def test_revenue_in_another_currency_than_the_agreement_is_rejected(world, agreement):
    body = {"events": [event(world["volume"], revenue={"amount": "12.50", "currency": "USD"}),
                       event(world["artist_work"], revenue={"amount": "12.50", "currency": "USD"})]}  # fmt: skip
    report = post(world["licensee_client"], body).json()
    assert report["events_accepted"] == 1  # the unlicensed one keeps what it reported
    assert report["errors"] == [{"line": 1, "message": "revenue: reported in USD, but the agreement is in JPY."}]


def test_the_same_key_and_body_return_the_original_and_store_nothing_twice(world, agreement):
    body = {"events": [event(world["volume"])]}
    first = post(world["licensee_client"], body, key="report-2026-10-a")
    again = post(world["licensee_client"], body, key="report-2026-10-a")
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert UsageEvent.objects.count() == 1
    assert UsageReport.objects.count() == 1


def test_the_same_key_with_another_body_is_409(world, agreement):
    post(world["licensee_client"], {"events": [event(world["volume"])]}, key="k-409")
    response = post(world["licensee_client"], {"events": [event(world["volume"], quantity=4)]}, key="k-409")
    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/problem+json")
    assert UsageEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_identical_requests_store_the_report_once(world, agreement):
    body = orjson.dumps({"events": [event(world["volume"], quantity=n) for n in range(1, 21)]})
    key = world["licensee_client"]._credentials["HTTP_AUTHORIZATION"]
    answers: list = []
    barrier = threading.Barrier(50)

    def send():
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=key)
        barrier.wait()
        try:
            answers.append(post(client, body, key="concurrent"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {answer.status_code for answer in answers} == {201}
    (report_id,) = {answer.json()["id"] for answer in answers}
    assert UsageReport.objects.filter(idempotency_key="concurrent").count() == 1
    # (the partitioned event table is not Django's to flush between transactional tests: count this report's)
    assert UsageEvent.objects.filter(report_id=report_id).count() == 20


def test_a_report_for_a_final_period_is_accepted_and_flagged_late(world, agreement):
    ReportingPeriod.objects.create(period="2026-10-01", status="final")
    response = post(world["licensee_client"], {"events": [event(world["volume"])]})
    assert response.status_code == 201
    assert response.json()["late"] is True
    assert UsageEvent.objects.get().late is True


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"key": ""}, 400),
        ({"period": "2026-13"}, 400),
        ({"period": "1999-12"}, 400),
        ({"period": "9999-12"}, 400),
        ({"period": "October"}, 400),
        ({"content_type": "text/csv"}, 415),
    ],
)
def test_bad_requests(world, agreement, kwargs, status):
    body = {"events": [event(world["volume"])]}
    if kwargs.get("key") == "":
        response = world["licensee_client"].generic(
            "POST", "/api/v1/usage-reports?period=2026-10", orjson.dumps(body), content_type="application/json"
        )
    else:
        response = post(world["licensee_client"], body, **kwargs)
    assert response.status_code == status
    assert UsageReport.objects.count() == 0


def test_a_period_that_has_not_begun_is_refused(world, agreement):
    from django.utils import timezone

    this_month = timezone.localdate().replace(day=1)
    next_month = (this_month + dt.timedelta(days=31)).replace(day=1)
    body = {"events": [event(world["volume"], occurred_on=str(this_month))]}
    response = post(world["licensee_client"], body, period=next_month.strftime("%Y-%m"))
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "period"
    assert post(world["licensee_client"], body, period=this_month.strftime("%Y-%m")).status_code == 201


def test_a_nul_character_in_a_reference_rejects_its_line_only(world, agreement):
    """PostgreSQL's text cannot hold NUL: such a reference is not one (its line rejected), never a server error."""
    body = ndjson(event(world["volume"]), event("ext:hikari:A\u0000B"), event("isbn:97840885\u000011245"))
    assert b"\\u0000" in body
    response = post(world["licensee_client"], body, content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    report = response.json()
    assert (report["events_accepted"], [error["line"] for error in report["errors"]]) == (1, [2, 3])


def test_a_body_that_is_not_a_report_stores_nothing(world, agreement):
    for body in (b"[1, 2]", b'{"events": 3}', b"\xff\xfe"):
        assert post(world["licensee_client"], body).status_code == 400
    assert UsageReport.objects.count() == 0


def test_a_body_over_the_limit_is_413(world, agreement, settings):
    settings.USAGE_MAX_BODY_BYTES = 1000
    response = post(world["licensee_client"], {"events": [event(world["volume"])] * 20})
    assert response.status_code == 413
    assert UsageReport.objects.count() == 0


def test_rate_limit_answers_429_with_retry_after(world, agreement, settings):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "usage_report": "2/min"}
    cache.clear()
    body = {"events": [event(world["volume"])]}
    assert post(world["licensee_client"], body).status_code == 201
    assert post(world["licensee_client"], body).status_code == 201
    response = post(world["licensee_client"], body)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    cache.clear()


def test_a_large_report_is_processed_in_the_background(world, agreement, settings):
    from licensing.usage import usage_report_process

    settings.USAGE_ASYNC_THRESHOLD_BYTES = 100
    response = post(world["licensee_client"], {"events": [event(world["volume"], quantity=n) for n in range(1, 6)]})
    assert response.status_code == 202
    report = response.json()
    assert report["status"] == "processing"
    usage_report_process(report_id=report["id"])  # what the Celery task runs (tests/e2e runs it on a real worker)
    usage_report_process(report_id=report["id"])  # a second delivery changes nothing
    done = world["licensee_client"].get(f"/api/v1/usage-reports/{report['id']}").json()
    assert (done["status"], done["events_accepted"]) == ("accepted", 5)
    assert UsageEvent.objects.count() == 5


def test_reports_are_visible_to_their_licensee_and_staff_only(world, agreement):
    report = post(world["licensee_client"], {"events": [event(world["volume"])]}).json()
    assert world["staff"].get(f"/api/v1/usage-reports/{report['id']}").status_code == 200
    assert world["publisher_client"].get("/api/v1/usage-reports").status_code == 403
    from tests.licensing.conftest import client_for
    from tests.licensing.factories import LicenseeFactory

    other = client_for(licensee=LicenseeFactory())
    assert other.get(f"/api/v1/usage-reports/{report['id']}").status_code == 404
    assert other.get("/api/v1/usage-reports").json()["results"] == []
    assert json.loads(world["licensee_client"].get("/api/v1/usage-reports").content)["results"][0]["id"] == report["id"]


def test_unlicensed_use_is_visible_to_staff_and_to_the_holders_concerned(world, agreement, client):
    from django.contrib.auth import get_user_model

    from .factories import holder_user

    post(world["licensee_client"], {"events": [event(world["artist_work"], model="sora-like-9"),
                                               event(world["volume"], model="licensed-model")]})  # fmt: skip
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-123"))
    html = client.get("/admin/licensing/usageevent/?licensed=no").content.decode()
    assert "sora-like-9" in html
    assert "licensed-model" not in html
    assert "Example AI Video" in html
    client.force_login(holder_user(world["artist"], "artist-admin"))
    html = client.get("/admin/licensing/usageevent/?licensed=no").content.decode()
    assert "sora-like-9" in html
    client.force_login(holder_user(world["publisher"], "publisher-admin"))
    html = client.get("/admin/licensing/usageevent/").content.decode()
    assert "sora-like-9" not in html
    assert "licensed-model" in html


@pytest.mark.parametrize("slice_bytes", [None, 1, 150], ids=["one-slice", "line-by-line", "a-few-lines"])
def test_a_report_in_many_chunks_stores_every_event_once_with_its_line(world, agreement, monkeypatch, slice_bytes):
    """Chunks are parsed in a helper thread while the previous ones are stored, the body decoded a slice of lines
    at a time: the same result, the same line numbers (blank lines counted, not events) as one piece."""
    from licensing import ingest

    monkeypatch.setattr(ingest, "CHUNK_EVENTS", 2)
    if slice_bytes:
        monkeypatch.setattr(ingest, "FIRST_SLICE_BYTES", slice_bytes)
        monkeypatch.setattr(ingest, "SLICE_BYTES", slice_bytes)
    volume = world["volume"]
    lines = [event(volume, quantity=n) if n % 3 else event("isbn:978-4-08-999999-9", quantity=n) for n in range(1, 12)]
    lines.insert(4, b"{not json")
    lines.insert(8, b"")
    response = post(world["licensee_client"], ndjson(*lines), content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    report = response.json()
    assert (report["events_received"], report["events_accepted"], report["events_rejected"]) == (12, 8, 4)
    assert [error["line"] for error in report["errors"]] == [3, 5, 7, 11]
    stored = UsageEvent.objects.filter(report_id=report["id"]).order_by("line").values_list("line", "quantity")
    assert list(stored) == [(1, 1), (2, 2), (4, 4), (6, 5), (8, 7), (10, 8), (12, 10), (13, 11)]


def test_what_a_report_has_met_in_one_chunk_covers_the_next_ones_alike(world, agreement, monkeypatch):
    """Each work's cover and each (use, date, territory)'s agreements are computed once per report and kept across
    chunks: a work met again under another reference, a key met again, a reservation, an unknown work and a work
    outside the agreement's scope are judged in later chunks exactly as in the first."""
    from licensing import ingest
    from licensing.models import Reservation

    monkeypatch.setattr(ingest, "CHUNK_EVENTS", 2)
    Reservation.objects.create(rights_holder=world["publisher"], work=world["series"], uses=["training"])
    volume, series, outside = world["volume"], world["series"], world["artist_work"]
    lines = [
        event(volume),  # 1: licensed (generation; the series is in scope)
        event(outside),  # 2: unlicensed: not in the scope
        event(f"isbn:{volume.isbn}"),  # 3: the same work by its ISBN, in the second chunk: licensed
        event(volume, use="training"),  # 4: reserved on the series
        event(f"isbn:{volume.isbn}", use="training"),  # 5: reserved, the cover reused under another reference
        event(series, territory="FR"),  # 6: outside the agreement's territories: unlicensed
        event(volume, territory="FR"),  # 7: a key met before, with a work met before: unlicensed
        event("isbn:978-4-08-999999-9"),  # 8: no such work
        event(str(series.pk).upper()),  # 9: the series again, a reference written otherwise: licensed
    ]
    response = post(world["licensee_client"], ndjson(*lines), content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    assert [error["line"] for error in response.json()["errors"]] == [8]
    stored = UsageEvent.objects.filter(report_id=response.json()["id"]).order_by("line")
    fates = [(e.line, e.work_id, e.agreement_id, e.reserved) for e in stored]
    assert fates == [
        (1, volume.pk, agreement.pk, False),
        (2, outside.pk, None, False),
        (3, volume.pk, agreement.pk, False),
        (4, volume.pk, None, True),
        (5, volume.pk, None, True),
        (6, series.pk, None, False),
        (7, volume.pk, None, False),
        (9, series.pk, agreement.pk, False),
    ]


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json"])
def test_a_report_of_too_many_events_is_413_and_spends_no_key(world, agreement, settings, content_type):
    settings.USAGE_MAX_EVENTS = 5
    events = [event(world["volume"], quantity=n) for n in range(1, 7)]
    body = ndjson(*events) if content_type == "application/x-ndjson" else orjson.dumps({"events": events})
    response = post(world["licensee_client"], body, key="too-many", content_type=content_type)
    assert response.status_code == 413, response.content
    assert "at most 5 events" in response.json()["detail"]
    assert not UsageReport.objects.exists()
    # blank lines are not events; and the key was not spent: the same key with five events is a new report
    fitting = ndjson(*events[:3], b"", b"", *events[3:5], b"")
    response = post(world["licensee_client"], fitting, key="too-many", content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    assert response.json()["events_accepted"] == 5


def test_a_body_found_too_large_half_way_stores_none_of_its_chunks(world, agreement, monkeypatch, settings):
    """The count checked while parsing too (a defence behind check_body): chunks already stored are rolled back."""
    from licensing import ingest

    monkeypatch.setattr(ingest, "CHUNK_EVENTS", 2)
    monkeypatch.setattr(ingest, "check_body", lambda body, content_type: None)
    settings.USAGE_MAX_EVENTS = 5
    body = ndjson(*[event(world["volume"], quantity=n) for n in range(1, 8)])
    response = post(world["licensee_client"], body, content_type="application/x-ndjson")
    report = response.json()
    assert (report["status"], report["events_accepted"], report["errors"]) == ("failed", 0, [])
    assert "at most 5 events" in report["failure"]
    assert not UsageEvent.objects.filter(report_id=report["id"]).exists()


def test_rejections_are_in_the_language_of_the_request(world, agreement):
    body = ndjson(event(world["volume"]), event(world["volume"], quantity=0))
    response = post(world["licensee_client"], body, content_type="application/x-ndjson", HTTP_ACCEPT_LANGUAGE="ja")
    message = response.json()["errors"][0]["message"]
    assert message.startswith("quantity"), message
    assert not message.isascii(), message


def test_text_is_stored_exactly_whatever_its_characters(world, agreement):
    """Events reach PostgreSQL as COPY text: tabs, newlines and backslashes in a model's name or an external id
    are escaped, not read as separators."""
    from licensing.models import WorkIdentifier

    WorkIdentifier.objects.create(work=world["volume"], scheme="odd", value="a\\b\tc")
    model = "video\tmodel\\2\nbeta \\N"
    body = ndjson(event("ext:odd:a\\b\tc", model=model), event(world["volume"], model="  \\N  "))
    response = post(world["licensee_client"], body, content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    assert response.json()["events_accepted"] == 2, response.json()
    stored = UsageEvent.objects.filter(report_id=response.json()["id"]).order_by("line")
    assert [(e.work_id, e.model) for e in stored] == [(world["volume"].pk, model), (world["volume"].pk, "\\N")]


def test_the_coverage_rules_one_by_one_through_a_usage_report(world):
    """The ingestion covers with all the licensee's active agreements (not only those a clearance would ask about):
    holder scope (a co-owner suffices), catalogue scope, hierarchy, start date, and status, each event alike."""
    licensee, artist, series = world["licensee"], world["artist"], world["series"]

    def agreement(reference, uses, **fields):
        fields = {"starts_on": "2026-01-01", "status": "active", "territories": ["JP"]} | fields
        return Agreement.objects.create(licensee=licensee, reference=reference, currency="JPY", uses=uses, **fields)

    by_holder = agreement("AGR-HOLDER", ["training"])
    by_holder.scope_rights_holders.add(artist)
    catalogue = agreement("AGR-CATALOGUE", ["retrieval"], scope_catalogue=True)
    later = agreement("AGR-LATER", ["fine_tuning"], starts_on="2026-10-10")
    later.scope_works.add(series)
    agreement("AGR-SUSPENDED", ["generation"], scope_catalogue=True, status="suspended")
    volume, drawing, anime = world["volume"], world["artist_work"], world["anime"]
    lines = [
        event(drawing, use="training"),  # 1: the artist's work: by holder
        event(anime, use="training"),  # 2: co-owned by the artist: by holder
        event(volume, use="training"),  # 3: the publisher's: no agreement
        event(volume, use="retrieval"),  # 4: catalogue
        event(volume, use="retrieval", territory="US"),  # 5: catalogue, but JP only
        event(volume, use="fine_tuning", occurred_on="2026-10-03"),  # 6: before the series agreement starts
        event(volume, use="fine_tuning", occurred_on="2026-10-15"),  # 7: the series' volume, once it has started
        event(drawing, use="generation"),  # 8: only a suspended agreement
    ]
    response = post(world["licensee_client"], ndjson(*lines), content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    assert response.json()["events_unlicensed"] == 4
    stored = UsageEvent.objects.filter(report_id=response.json()["id"]).order_by("line")
    assert [(e.line, e.agreement_id) for e in stored] == [
        (1, by_holder.pk), (2, by_holder.pk), (3, None), (4, catalogue.pk), (5, None), (6, None), (7, later.pk),
        (8, None),
    ]  # fmt: skip
