"""Edges of the licensee API found in review: charsets, bodies of bad lines only, large clearances, the idempotency
key in every combination, and where to poll a report processed in the background."""

from __future__ import annotations

import datetime as dt
import io

import orjson
import pytest

from licensing import ingest
from licensing.models import UsageEvent, UsageReport
from licensing.usage import usage_report_process

from .conftest import client_for
from .factories import LicenseeFactory
from .test_usage_reports import agreement, event, ndjson, post  # noqa: F401  (agreement: a fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "utf-7", "no-such-charset"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_a_usage_report_in_a_charset_other_than_utf8_is_415_and_spends_no_key(world, agreement, charset, content_type):  # noqa: F811
    body = ndjson(event(world["volume"])) if content_type.endswith("ndjson") else orjson.dumps({"events": []})
    response = post(world["licensee_client"], body, content_type=f"{content_type}; charset={charset}", key="k-1")
    assert response.status_code == 415, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert charset in response.json()["detail"]
    assert UsageReport.objects.count() == 0
    ok = post(world["licensee_client"], body, content_type=f"{content_type}; charset=UTF-8", key="k-1")
    assert ok.status_code == 201, ok.content


def wsgi(method: str, path: str, query: str = "", *, content_type: str, body: bytes = b"", key: str = "",
         idempotency_key: str = "", extra: dict | None = None) -> tuple[str, dict, bytes]:  # fmt: skip
    """A request through the application gunicorn serves (config/wsgi.py), as a server hands it over: the test
    client builds Django's request itself, where a charset that is no text encoding already fails."""
    from wsgiref.util import setup_testing_defaults

    from config.wsgi import application

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "CONTENT_TYPE": content_type,
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "SERVER_NAME": "localhost",
               "HTTP_AUTHORIZATION": f"Bearer {key}", "HTTP_IDEMPOTENCY_KEY": idempotency_key,
               **(extra or {})}  # fmt: skip
    setup_testing_defaults(environ)
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    # as Django's test client does: the test's transaction lives on the connection a request would close
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, start_response)
        content = b"".join(response)
        getattr(response, "close", lambda: None)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], content


@pytest.mark.parametrize(
    "content_type",
    [f"application/json; charset={c}" for c in ("rot13", "base64", "zlib", "hex", "undefined", "punycode", "idna")]
    + [
        "application/json; charset*=utf-8''rot13",
        "application/json; charset*=nope''x",
        'application/json; CHARSET="rot13"',
    ],
)
def test_a_charset_django_cannot_decode_with_is_415_on_an_api_body_and_ignored_elsewhere(
    world,
    agreement,  # noqa: F811
    content_type,
):
    from licensing.services import api_key_create

    _, key = api_key_create(name="wsgi", licensee=world["licensee"])
    status, headers, content = wsgi("POST", "/api/v1/usage-reports", "period=2026-10", body=b'{"events": []}',
                                    content_type=content_type, key=key, idempotency_key="k-wsgi")  # fmt: skip
    assert status.startswith("415"), content
    assert headers["Content-Type"] == "application/problem+json"
    assert orjson.loads(content)["status"] == 415
    assert UsageReport.objects.count() == 0
    status, _headers, content = wsgi("GET", "/api/v1/usage-reports", "page_size=2", key=key,
                                     content_type=content_type)  # fmt: skip
    assert status.startswith("200"), content
    status, _headers, content = wsgi("GET", "/admin/login/", "next=%2Fadmin%2F%E4%BD%9C%E5%93%81",
                                     content_type=content_type.replace("application/json", "text/plain"))  # fmt: skip
    assert status.startswith("200"), content
    assert "/admin/作品".encode() in content  # the query string read as UTF-8


def test_a_report_of_bad_lines_only_keeps_a_hundred_messages_and_counts_every_line(world, agreement):  # noqa: F811
    lines = 3_000
    response = post(world["licensee_client"], b"{}\n" * lines, content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    report = response.json()
    assert (report["events_received"], report["events_rejected"], report["events_accepted"]) == (lines, lines, 0)
    assert [e["line"] for e in report["errors"]] == list(range(1, ingest.MAX_ERRORS + 1))
    assert {e["message"] for e in report["errors"]} == {"work: not a work reference (uuid, isbn:…, iscc:… or "
                                                        "ext:<scheme>:<value>)."}  # fmt: skip


def test_parsing_holds_the_first_messages_only_whatever_the_number_of_bad_lines(monkeypatch):
    monkeypatch.setattr(ingest, "MAX_ERRORS", 5)
    good = orjson.dumps(event("isbn:9784088511245", occurred_on="2026-10-03"))
    body = b"\n".join([b"[1]"] * 40 + [good] * 3 + [b"nope"] * 40) + b"\n"
    chunks = list(ingest.parse_chunks(body, "application/x-ndjson", period=dt.date(2026, 10, 1),
                                      default_territory="JP", size=2))  # fmt: skip
    assert sum(c.rejected for c in chunks) == 80
    assert [line for c in chunks for line, _message in c.errors] == [1, 2, 3, 4, 5]
    assert sum(len(c.rows) for c in chunks) == 3


def test_a_clearance_larger_than_djangos_upload_limit_is_read_up_to_its_own(world, agreement, settings):  # noqa: F811
    """10,000 references of up to 300 characters are valid (3 MB), above Django's DATA_UPLOAD_MAX_MEMORY_SIZE."""
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < 3_000_000 < settings.CLEARANCE_MAX_BODY_BYTES
    works = [f"ext:hikari:{'x' * 280}{n:05d}" for n in range(settings.CLEARANCE_MAX_REFS - 1)]
    body = orjson.dumps({"use": "generation", "works": [str(world["volume"].pk), *works]})
    assert len(body) > 2_900_000
    response = world["licensee_client"].generic("POST", "/api/v1/clearances", body, content_type="application/json")
    assert response.status_code == 200, response.content[:300]
    results = response.json()["results"]
    assert len(results) == settings.CLEARANCE_MAX_REFS
    assert (results[0]["status"], results[1]["status"]) == ("licensed", "unknown")
    settings.CLEARANCE_MAX_BODY_BYTES = len(body) - 1
    too_large = world["licensee_client"].generic("POST", "/api/v1/clearances", body, content_type="application/json")
    assert too_large.status_code == 413


def test_one_key_used_by_two_licensees_makes_two_reports(world, agreement):  # noqa: F811
    other = client_for(licensee=LicenseeFactory(name="Other AI"))
    body = {"events": [event(world["volume"])]}
    first = post(world["licensee_client"], body, key="shared-key")
    second = post(other, body, key="shared-key")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert UsageReport.objects.count() == 2


def test_the_same_key_and_body_for_another_period_is_409(world, agreement):  # noqa: F811
    body = {"events": []}
    assert post(world["licensee_client"], body, key="k-period", period="2026-10").status_code == 201
    again = post(world["licensee_client"], body, key="k-period", period="2026-09")
    assert again.status_code == 409, again.content
    assert UsageReport.objects.count() == 1


def test_the_same_events_as_json_then_as_ndjson_under_one_key_is_409(world, agreement):  # noqa: F811
    one = event(world["volume"])
    assert post(world["licensee_client"], {"events": [one]}, key="k-format").status_code == 201
    again = post(world["licensee_client"], ndjson(one), key="k-format", content_type="application/x-ndjson")
    assert again.status_code == 409, again.content
    assert UsageEvent.objects.count() == 1


def test_a_report_in_the_background_says_where_to_poll_and_a_replay_finds_it(world, agreement, settings):  # noqa: F811
    settings.USAGE_ASYNC_THRESHOLD_BYTES = 100
    body = {"events": [event(world["volume"], quantity=n) for n in range(1, 6)]}
    first = post(world["licensee_client"], body, key="k-bg")
    assert first.status_code == 202
    report_id = first.json()["id"]
    assert first["Location"] == f"http://testserver/api/v1/usage-reports/{report_id}"
    replay = post(world["licensee_client"], body, key="k-bg")  # still processing: the same report, still 202
    assert (replay.status_code, replay.json()["id"], replay.json()["status"]) == (202, report_id, "processing")
    usage_report_process(report_id=report_id)
    polled = world["licensee_client"].get(first["Location"])
    assert (polled.status_code, polled.json()["status"], polled.json()["events_accepted"]) == (200, "accepted", 5)
    done = post(world["licensee_client"], body, key="k-bg")  # processed since: the report as it is now
    assert (done.status_code, done.json()["id"], done.json()["events_accepted"]) == (201, report_id, 5)
    assert UsageEvent.objects.count() == 5


def test_making_the_coming_months_partitions_is_scheduled_daily_and_editable_in_the_admin():
    from django_celery_beat.models import PeriodicTask

    scheduled = PeriodicTask.objects.get(task="licensing.make_usage_partitions")
    crontab = scheduled.crontab
    assert scheduled.enabled
    assert (crontab.minute, crontab.hour, crontab.day_of_month, str(crontab.timezone)) == ("5", "0", "*", "Asia/Tokyo")


def test_the_415_of_the_guard_speaks_the_requests_language(world, agreement):  # noqa: F811
    from licensing.services import api_key_create

    _, key = api_key_create(name="wsgi", licensee=world["licensee"])
    environ_language = {"HTTP_ACCEPT_LANGUAGE": "ja,en;q=0.5"}
    status, _headers, content = wsgi("POST", "/api/v1/clearances", body=b"{}", key=key, extra=environ_language,
                                     content_type="application/json; charset=rot13")  # fmt: skip
    assert status.startswith("415")
    assert orjson.loads(content)["detail"] == "リクエストは UTF-8 のみ受け付けます（rot13 は受け付けません）。"
