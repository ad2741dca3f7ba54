"""Fuzz the licensee API from the schema it serves (/api/schema/) with schemathesis, in-process over WSGI.

POST /clearances, POST /usage-reports (JSON and NDJSON bodies), GET /usage-reports and GET /usage-reports/{id},
each request sent with a licensee's valid Bearer key. Whatever the input, the answer must be no 5xx, and a status
code, content type and body that the schema documents (see `fuzz_config` for the checks and why).

Two sources of requests, both schemathesis's own:
- fuzzing: Hypothesis strategies from the schema (`APIOperation.as_strategy`) and from its examples, one test per
  operation, request media type and generation mode (positive = valid per the schema, negative = invalid);
- coverage: schemathesis's deterministic boundary cases (missing or wrong-typed parameters and headers, undeclared
  HTTP methods...), all of them, every failure reported at once.
Dictionaries mix the fixture's real work references, dates and the report period into the generated values, so
fuzzed requests also reach known, licensed and unlicensed works instead of stopping at the first 400.

Not schemathesis's pytest plugin (`from_fixture` / `@schema.parametrize`): its collection rewrites pytest node ids
in a way pytest 9.2 no longer supports.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import orjson
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.errors import FailureGroup

from licensing.models import Agreement, WorkIdentifier
from licensing.services import api_key_create
from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, work_with_shares

pytestmark = pytest.mark.django_db

JSON = "application/json"
NDJSON = "application/x-ndjson"
PERIOD = "2026-10"
EXAMPLES, POSITIVE, NEGATIVE = "examples", GenerationMode.POSITIVE, GenerationMode.NEGATIVE
OPERATIONS = ["clearances_create", "usage_reports_create", "usage_reports_list", "usage_reports_retrieve"]

# (operationId, request media type, source of cases). Examples only where the schema has some; no negative
# cases where nothing but the key could be made invalid (GET /usage-reports has no parameters, and a path id is
# any string without "/").
FUZZ = [
    ("clearances_create", JSON, EXAMPLES),
    ("clearances_create", JSON, POSITIVE),
    ("clearances_create", JSON, NEGATIVE),
    ("usage_reports_create", JSON, EXAMPLES),
    ("usage_reports_create", JSON, POSITIVE),
    ("usage_reports_create", JSON, NEGATIVE),
    ("usage_reports_create", NDJSON, EXAMPLES),
    ("usage_reports_create", NDJSON, POSITIVE),
    ("usage_reports_create", NDJSON, NEGATIVE),
    ("usage_reports_list", None, POSITIVE),
    ("usage_reports_retrieve", None, POSITIVE),
]
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def _ndjson(value: Any) -> bytes:
    """A generated application/x-ndjson body as bytes: a string as it is, a list one JSON value a line."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, list):
        return b"".join(json.dumps(item, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n" for item in value)
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"


def _gzip_if_declared(ctx: schemathesis.SerializationContext, data: bytes) -> bytes:
    # `Content-Encoding: gzip` is a documented request header: honour it, or every such body is garbage.
    headers = ctx.case.headers or {}
    encoding = next((str(value) for name, value in headers.items() if name.lower() == "content-encoding"), "")
    return gzip.compress(data, mtime=0) if encoding.strip().lower() == "gzip" else data


@schemathesis.serializer(NDJSON)
def ndjson_serializer(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    return _gzip_if_declared(ctx, _ndjson(value))


@schemathesis.serializer(JSON)
def json_serializer(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    data = value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return _gzip_if_declared(ctx, data)


@pytest.fixture
def fuzz_world(db, settings):
    """A licensee with a key, works named by ISBN and by an external id (those in the schema's examples), an active
    agreement over them and one stored report; rate limits out of the way."""
    settings.API_RATE_LIMITS = {"clearance": "100000/min", "usage_report": "100000/min"}
    holder = RightsHolderFactory(name="株式会社ひかり出版", name_kana="ｶﾌﾞｼｷｶﾞｲｼﾔ ﾋｶﾘｼﾕﾂﾊﾟﾝ")
    series = work_with_shares((holder, "100.00"), title="星の海", kind="manga_series", isbn="9784088512013")
    WorkIdentifier.objects.create(work=series, scheme="hikari", value="SERIES-0001")
    volume = work_with_shares(title="星の海 第1巻", kind="manga_volume", parent=series, isbn="9784088511245")
    other = work_with_shares((holder, "100.00"), title="夜明けのうた", kind="illustration")  # not licensed
    licensee = LicenseeFactory(name="Example AI Video", country="JP")
    agreement = Agreement.objects.create(
        licensee=licensee, reference="AGR-FUZZ", currency="JPY", starts_on="2026-01-01", territories=["JP", "US"],
        uses=["training", "generation"], status="active",
    )  # fmt: skip
    agreement.scope_works.add(series)
    _, key = api_key_create(name="fuzz", licensee=licensee)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    event = {"work": f"isbn:{volume.isbn}", "use": "generation", "quantity": 3, "occurred_on": "2026-10-03",
             "model": "video-model-2", "territory": "JP", "revenue": {"amount": "1200", "currency": "JPY"}}  # fmt: skip
    response = client.generic(
        "POST", f"/api/v1/usage-reports?period={PERIOD}", orjson.dumps({"events": [event]}),
        content_type=JSON, HTTP_IDEMPOTENCY_KEY="fuzz-seed",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    return {
        "key": key,
        "report_id": response.json()["id"],
        "refs": [str(series.pk), str(volume.pk), str(other.pk), "isbn:978-4-08-851124-5", "isbn:4-08-851201-9",
                 "ext:hikari:SERIES-0001"],
    }  # fmt: skip


@pytest.fixture
def in_process_wsgi(fuzz_world):
    """Django's WSGI app, its requests kept inside the test's transaction: Django closes the DB connection when a
    request starts and finishes unless, as its own test client does, that receiver is off (set up after
    `fuzz_world`, whose test client turns it back on after each of its requests)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield WSGIHandler()
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def fuzz_config(fuzz_world) -> dict:
    """Schemathesis settings: the checks, and dictionaries of real values mixed into generated ones."""
    return {
        "generation": {
            # the key is sent by the test; `ignored_auth` below checks that it is required
            "with-security-parameters": False,
        },
        "checks": {
            # On: not_a_server_error, status_code_conformance, content_type_conformance,
            # response_schema_conformance, response_headers_conformance, ignored_auth, missing_required_header,
            # unsupported_method, allow_header_conformance (the stateful-only ones have nothing to do here).
            # Off, as they judge the input rules rather than the answers:
            # - positive_data_acceptance: the server checks more than a JSON Schema says (ISO 3166 territories,
            #   real calendar months, no NUL in text), so a schema-valid request may rightly be a 400;
            # - negative_data_rejection: a usage report keeps the good events of a body whose other events are
            #   invalid (a 201 with per-line errors, API.md), and DRF reads 0 as the string "0".
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"enabled": False},
        },
        "dictionaries": {
            "periods": {"values": [PERIOD]},
            "refs": {"values": fuzz_world["refs"]},
            "dates": {"values": ["2026-10-01", "2026-10-15", "2026-10-31"]},
            "territories": {"values": ["JP", "US", "FR"]},
            "keys": {"values": ["fuzz-seed", "fuzz-a", "fuzz-b"]},  # replays and 409 conflicts
        },
        "parameters": {
            "query.period": {"dictionary": "periods", "probability": 0.8},
            "header.Idempotency-Key": {"dictionary": "keys", "probability": 0.2},
            "body.works[*]": {"dictionary": "refs", "probability": 0.5},
            "body.territory": {"dictionary": "territories", "probability": 0.5},
            "body.events[*].work": {"dictionary": "refs", "probability": 0.5},
            "body.events[*].occurred_on": {"dictionary": "dates", "probability": 0.7},
            "body.events[*].territory": {"dictionary": "territories", "probability": 0.5},
        },
    }


@pytest.fixture
def api_schema(in_process_wsgi, fuzz_world):
    config = schemathesis.Config.from_dict(fuzz_config(fuzz_world))
    return schemathesis.openapi.from_wsgi("/api/schema/", in_process_wsgi, config=config)


@pytest.fixture
def auth(fuzz_world) -> dict[str, str]:
    return {"Authorization": f"Bearer {fuzz_world['key']}"}


def cases_for(api_schema, fuzz_world, operation_id: str, media_type: str | None, source) -> st.SearchStrategy:
    operation = api_schema.find_operation_by_id(operation_id)
    if source == EXAMPLES:
        examples = operation.get_strategies_from_examples()
        assert examples, f"{operation_id} has no examples in the schema"
        strategy = st.one_of(examples)
    else:
        strategy = operation.as_strategy(generation_mode=source)
        if operation_id == "usage_reports_retrieve":
            # mostly unknown ids (404), sometimes the licensee's own report (200)
            strategy |= operation.as_strategy(generation_mode=source, path_parameters={"id": fuzz_world["report_id"]})
    if media_type is not None and operation.body:
        strategy = strategy.filter(lambda case: case.media_type == media_type)
    return strategy


@pytest.mark.parametrize(
    ("operation_id", "media_type", "source"),
    FUZZ,
    ids=[f"{op}-{(media or 'none').removeprefix('application/')}-{source}" for op, media, source in FUZZ],
)
def test_fuzzed_requests_get_documented_answers(api_schema, fuzz_world, auth, operation_id, media_type, source):
    strategy = cases_for(api_schema, fuzz_world, operation_id, media_type, source)

    @FUZZ_SETTINGS
    @given(case=strategy)
    def fuzz(case):
        case.call_and_validate(headers=auth)

    fuzz()


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_boundary_cases_get_documented_answers(api_schema, auth, operation_id):
    operation = api_schema.find_operation_by_id(operation_id)
    cases = list(
        api_schema.iter_coverage_cases(
            operation,
            generation_modes=[POSITIVE, NEGATIVE],
            generation_config=api_schema.config.generation_for(operation=operation, phase="coverage"),
        )
    )
    assert cases
    failures: list[str] = []
    for case in cases:
        try:
            case.call_and_validate(headers=auth)
        except FailureGroup as exc:
            failures.append(str(exc))
    if failures:
        report = "\n\n".join(dict.fromkeys(failures))
        pytest.fail(f"{len(failures)} of {len(cases)} boundary requests failed:\n\n{report}", pytrace=False)
