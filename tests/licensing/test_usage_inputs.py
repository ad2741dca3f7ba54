"""Odd inputs on the licensee API: each a clear 4xx (problem+json) or a line rejected with its reason, never a 500,
and nothing stored or spent by a body that is not a report (review of issue 5)."""

from __future__ import annotations

import io
import uuid

import orjson
import pytest

from licensing.models import UsageEvent, UsageReport

from .test_usage_reports import agreement, event, ndjson, post  # noqa: F401  (agreement: a fixture)

pytestmark = pytest.mark.django_db


def test_a_chunked_body_without_content_length_is_read_whole(world, agreement):  # noqa: F811
    """Transfer-Encoding: chunked (a streamed NDJSON report): gunicorn decodes the chunks but gives no
    CONTENT_LENGTH, and Django alone would read nothing."""
    body = ndjson(*(event(world["volume"], quantity=n) for n in range(1, 6)))
    response = world["licensee_client"].generic(
        "POST", "/api/v1/usage-reports?period=2026-10", b"", content_type="application/x-ndjson",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()), HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="",
        **{"wsgi.input": io.BytesIO(body)},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["events_accepted"] == 5
    assert sorted(UsageEvent.objects.values_list("quantity", flat=True)) == [1, 2, 3, 4, 5]


def test_a_chunked_body_over_the_largest_limit_is_413(world, agreement, settings):  # noqa: F811
    settings.USAGE_MAX_BODY_BYTES = settings.CLEARANCE_MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    body = ndjson(*(event(world["volume"]) for _ in range(20)))
    response = world["licensee_client"].generic(
        "POST", "/api/v1/usage-reports?period=2026-10", b"", content_type="application/x-ndjson",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()), HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="",
        **{"wsgi.input": io.BytesIO(body)},
    )  # fmt: skip
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert UsageReport.objects.count() == 0


def test_a_chunked_clearance_is_read_whole(world, agreement):  # noqa: F811
    body = orjson.dumps({"use": "generation", "works": [str(world["volume"].pk)], "on": "2026-10-03"})
    response = world["licensee_client"].generic(
        "POST", "/api/v1/clearances", b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="", **{"wsgi.input": io.BytesIO(body)},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert [r["status"] for r in response.json()["results"]] == ["licensed"]


@pytest.mark.parametrize("body", [b"", b"\n\n  \n"])
def test_an_empty_ndjson_report_is_400_and_spends_no_key(world, agreement, body):  # noqa: F811
    response = post(world["licensee_client"], body, content_type="application/x-ndjson")
    assert response.status_code == 400, response.content
    assert "empty" in response.json()["detail"]
    assert UsageReport.objects.count() == 0


def test_an_empty_json_report_declares_a_month_without_usage(world, agreement):  # noqa: F811
    response = post(world["licensee_client"], {"events": []})
    assert response.status_code == 201, response.content
    assert (response.json()["events_received"], UsageEvent.objects.count()) == (0, 0)


def test_invalid_utf8_in_a_line_rejects_that_line_only(world, agreement):  # noqa: F811
    good = orjson.dumps(event(world["volume"]))
    bad_ref = orjson.dumps(event("ext:hikari:AB")).replace(b"AB", b"A\xff")
    bad_model = orjson.dumps(event(world["volume"])).replace(b"video-model-2", b"m\xc3")
    response = post(world["licensee_client"], b"\n".join([good, bad_ref, good, bad_model]) + b"\n",
                    content_type="application/x-ndjson")  # fmt: skip
    assert response.status_code == 201, response.content
    report = response.json()
    assert report["events_accepted"] == 2
    assert [(e["line"], e["message"]) for e in report["errors"]] == [
        (2, "This line is not valid UTF-8."),
        (4, "This line is not valid UTF-8."),
    ]


def test_invalid_utf8_in_an_event_of_a_json_report_rejects_that_event_only(world, agreement):  # noqa: F811
    body = orjson.dumps({"events": [event(world["volume"]), event("ext:hikari:AB")]}).replace(b"AB", b"A\xff")
    response = post(world["licensee_client"], body)
    assert response.status_code == 201, response.content
    report = response.json()
    assert report["events_accepted"] == 1
    assert [(e["line"], e["message"]) for e in report["errors"]] == [(2, "This line is not valid UTF-8.")]


def test_json_nested_too_deeply_is_400(world, agreement):  # noqa: F811
    deep = b"[" * 100_000 + b"]" * 100_000
    response = post(world["licensee_client"], b'{"events": [' + deep + b"]}")
    assert response.status_code == 400, response.content
    line = post(world["licensee_client"], ndjson(event(world["volume"])) + deep + b"\n",
                content_type="application/x-ndjson")  # fmt: skip
    assert line.status_code == 201, line.content
    assert [e["line"] for e in line.json()["errors"]] == [2]
    clearance = world["licensee_client"].generic(
        "POST", "/api/v1/clearances", b'{"use": "training", "works": ' + deep + b"}", content_type="application/json"
    )
    assert clearance.status_code == 400, clearance.content
    assert clearance["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("charset", ["unicode_escape", "raw_unicode_escape", "utf-7", "latin-1", "no-such-charset"])
def test_json_in_a_charset_other_than_utf8_is_415(world, agreement, charset):  # noqa: F811
    body = b'{"use": "training", "works": ["ext:a:\\U0000d800", "+2AA-"]}'
    response = world["licensee_client"].generic(
        "POST", "/api/v1/clearances", body, content_type=f"application/json; charset={charset}"
    )
    assert response.status_code == 415, response.content
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("charset", ["utf-8", "UTF8", "utf_8"])
def test_json_declared_utf8_in_any_spelling_is_read(world, agreement, charset):  # noqa: F811
    body = orjson.dumps({"use": "generation", "works": [str(world["volume"].pk)], "on": "2026-10-03"})
    response = world["licensee_client"].generic(
        "POST", "/api/v1/clearances", body, content_type=f"application/json; charset={charset}"
    )
    assert response.status_code == 200, response.content


def test_revenue_too_large_for_64_bits_in_a_four_decimal_currency_is_rejected_on_its_line(world, agreement):  # noqa: F811
    body = ndjson(
        event(world["volume"]),
        event(world["volume"], revenue={"amount": "999999999999999", "currency": "CLF"}),
        event(world["volume"], revenue={"amount": "99999999999999", "currency": "CLF"}),
    )
    response = post(world["licensee_client"], body, content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    report = response.json()
    assert [e["line"] for e in report["errors"]] == [2, 3]  # line 3 fits 64 bits; CLF is not the agreement's JPY
    assert "revenue" in report["errors"][0]["message"]
    assert "CLF" in report["errors"][1]["message"]


@pytest.mark.parametrize("period", ["２０２６-１０", "2026-10\n", " 2026-10"])
def test_a_period_in_other_digits_or_with_a_newline_is_400(world, agreement, period):  # noqa: F811
    from urllib.parse import quote

    response = post(world["licensee_client"], {"events": [event(world["volume"])]}, period=quote(period))
    assert response.status_code == 400, response.content
    assert UsageReport.objects.count() == 0


def test_a_blank_idempotency_key_is_400(world, agreement):  # noqa: F811
    response = post(world["licensee_client"], {"events": [event(world["volume"])]}, key="   ")
    assert response.status_code == 400, response.content
    assert UsageReport.objects.count() == 0


def test_a_chunked_body_is_read_only_as_far_as_its_endpoint_accepts(world, agreement, settings):  # noqa: F811
    """A chunked clearance stops at the clearances' limit, not at the (much larger) usage reports' one."""
    settings.CLEARANCE_MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = orjson.dumps({"use": "generation", "works": [str(world["volume"].pk)] * 100})
    stream = io.BytesIO(body)
    response = world["licensee_client"].generic(
        "POST", "/api/v1/clearances", b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="", **{"wsgi.input": stream},
    )  # fmt: skip
    assert response.status_code == 413
    assert stream.tell() == 1001  # read no further than the limit and one byte


def test_a_chunked_body_without_credentials_is_not_read(world, agreement, client):  # noqa: F811
    stream = io.BytesIO(ndjson(event(world["volume"])))
    response = client.generic(
        "POST", "/api/v1/usage-reports?period=2026-10", b"", content_type="application/x-ndjson",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()), HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="",
        **{"wsgi.input": stream},
    )  # fmt: skip
    assert response.status_code == 401
    assert stream.tell() == 0


def test_a_chunked_body_with_an_invalid_key_is_not_read(world, agreement, client):  # noqa: F811
    stream = io.BytesIO(ndjson(event(world["volume"])))
    response = client.generic(
        "POST", "/api/v1/usage-reports?period=2026-10", b"", content_type="application/x-ndjson",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()), HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="",
        HTTP_AUTHORIZATION="Bearer not.a-key", **{"wsgi.input": stream},
    )  # fmt: skip
    assert response.status_code == 401
    assert stream.tell() == 0


@pytest.mark.parametrize("day", ["2026-W40-6", "2026-10-3 ", "2026-10-０3", "2026/10/03"])
def test_an_occurred_on_not_written_yyyy_mm_dd_rejects_its_line(world, agreement, day):  # noqa: F811
    """2026-W40-6 is an ISO week date (Saturday 3 October 2026) that `date.fromisoformat` would take."""
    body = ndjson(event(world["volume"]), event(world["volume"], occurred_on=day))
    response = post(world["licensee_client"], body, content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    report = response.json()
    assert (report["events_accepted"], [e["line"] for e in report["errors"]]) == (1, [2])
    assert report["errors"][0]["message"] == "occurred_on: a date, YYYY-MM-DD."
    assert UsageEvent.objects.count() == 1


@pytest.mark.parametrize("day", ["2026-W42-4", "20261015", "2026-10-15T00:00:00"])
def test_a_clearance_date_not_written_yyyy_mm_dd_is_400(world, agreement, day):  # noqa: F811
    body = {"use": "generation", "date": day, "works": [str(world["volume"].pk)]}
    response = world["licensee_client"].post("/api/v1/clearances", body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["date"]
    body["date"] = "2026-10-15"
    assert world["licensee_client"].post("/api/v1/clearances", body, format="json").status_code == 200
