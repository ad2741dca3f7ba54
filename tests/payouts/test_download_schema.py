# ruff: noqa: F811  (pytest fixtures imported from other test modules are redefined as parameters)
"""The statement and invoice downloads are in the served OpenAPI schema, each its own operation with its media type,
and what they answer is what the schema says: a file of that type, or a documented problem (schemathesis, in-process
over WSGI, as in tests/api/test_schemathesis.py)."""

from __future__ import annotations

import pytest
import schemathesis
import yaml
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import given
from schemathesis.errors import FailureGroup

from licensing.services import api_key_create
from payouts.models import Invoice, Statement
from tests.api.test_schemathesis import FUZZ_SETTINGS, NEGATIVE, POSITIVE, fuzz_config
from tests.licensing.factories import holder_user

from .test_engine import OCTOBER, october_usage, run, world  # noqa: F401  (the world fixture)

pytestmark = pytest.mark.django_db

DOWNLOADS = {
    "/api/v1/statements/{id}.csv": ("statements_csv", "text/csv"),
    "/api/v1/statements/{id}.pdf": ("statements_pdf", "application/pdf"),
    "/api/v1/invoices/{id}.csv": ("invoices_csv", "text/csv"),
    "/api/v1/invoices/{id}.pdf": ("invoices_pdf", "application/pdf"),
}
OPERATIONS = [operation_id for operation_id, _ in DOWNLOADS.values()]


def test_the_four_downloads_are_in_the_schema_with_their_media_types(api_client):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    paths = yaml.safe_load(response.content)["paths"]
    for path, (operation_id, media_type) in DOWNLOADS.items():
        assert path in paths, path
        operation = paths[path]["get"]
        assert operation["operationId"] == operation_id
        assert [(p["in"], p["name"], p["required"]) for p in operation["parameters"]] == [("path", "id", True)]
        assert operation["responses"]["200"]["content"] == {media_type: {"schema": {"type": "string",
                                                                                    "format": "binary"}}}  # fmt: skip
        for code in ("401", "403", "404"):
            assert list(operation["responses"][code]["content"]) == ["application/problem+json"], (path, code)
        assert set(operation["responses"]) == {"200", "401", "403", "404"}


@pytest.fixture
def documents(world, staff_user):
    """October computed: a draft statement per rights holder, the licensee's invoice; a key for staff, for A's user
    and for the licensee."""
    october_usage(world)
    run(OCTOBER)
    keys = {
        "staff": api_key_create(name="staff", user=staff_user)[1],
        "holder": api_key_create(name="holder", user=holder_user(world["a"], "holder-a"))[1],
        "licensee": api_key_create(name="licensee", licensee=world["licensee"])[1],
    }
    return {
        "keys": keys,
        "statement": str(Statement.objects.get(rights_holder=world["a"]).pk),
        "other_statement": str(Statement.objects.get(rights_holder=world["b"]).pk),
        "invoice": str(Invoice.objects.get().pk),
    }


@pytest.fixture
def api_schema(documents):
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    config = schemathesis.Config.from_dict(fuzz_config({"refs": ["unknown"]}))
    yield schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler(), config=config)
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


# (who, operation, which id) → the status its answer must have
EXPECTED = [
    ("staff", "statements_csv", "statement", 200),
    ("staff", "statements_pdf", "statement", 200),
    ("staff", "invoices_csv", "invoice", 200),
    ("staff", "invoices_pdf", "invoice", 200),
    ("holder", "statements_csv", "statement", 200),
    ("holder", "statements_pdf", "statement", 200),
    ("holder", "statements_pdf", "other_statement", 404),
    ("holder", "invoices_pdf", "invoice", 403),
    ("licensee", "invoices_csv", "invoice", 200),
    ("licensee", "invoices_pdf", "invoice", 200),
    ("licensee", "statements_csv", "statement", 403),
]


@pytest.mark.parametrize(("who", "operation_id", "which", "status"), EXPECTED)
def test_each_party_gets_a_documented_answer(api_schema, documents, who, operation_id, which, status):
    operation = api_schema.find_operation_by_id(operation_id)
    case = operation.Case(path_parameters={"id": documents[which]})
    response = case.call_and_validate(headers={"Authorization": f"Bearer {documents['keys'][who]}"})
    assert response.status_code == status, response.content[:200]
    if status == 200:
        media_type = dict(DOWNLOADS.values())[operation_id]
        assert response.headers["content-type"][0].split(";")[0] == media_type
        assert response.headers["content-disposition"][0].startswith('attachment; filename="')


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_fuzzed_downloads_get_documented_answers(api_schema, documents, operation_id):
    operation = api_schema.find_operation_by_id(operation_id)
    real = documents["invoice" if operation_id.startswith("invoices") else "statement"]
    strategy = operation.as_strategy(generation_mode=POSITIVE) | operation.as_strategy(
        generation_mode=POSITIVE, path_parameters={"id": real}
    )
    auth = {"Authorization": f"Bearer {documents['keys']['staff']}"}

    @FUZZ_SETTINGS
    @given(case=strategy)
    def fuzz(case):
        case.call_and_validate(headers=auth)

    fuzz()


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_boundary_download_requests_get_documented_answers(api_schema, documents, operation_id):
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
            case.call_and_validate(headers={"Authorization": f"Bearer {documents['keys']['staff']}"})
        except FailureGroup as exc:
            failures.append(str(exc))
    if failures:
        report = "\n\n".join(dict.fromkeys(failures))
        pytest.fail(f"{len(failures)} of {len(cases)} boundary requests failed:\n\n{report}", pytrace=False)
