"""The OpenAPI schema is valid OpenAPI 3 and the docs are served without any CDN."""

from __future__ import annotations

import re

import pytest
import yaml
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client) -> dict:
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_is_valid_openapi_3(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_schema_documents_bearer_auth_and_problem_errors(schema):
    assert schema["components"]["securitySchemes"]["bearerKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerKey"]["description"],
    }
    root = schema["paths"]["/api/v1/"]["get"]
    assert {"bearerKey": []} in root["security"]
    problem = root["responses"]["401"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert set(schema["components"]["schemas"]["Problem"]["required"]) == {"type", "title", "status"}


def test_swagger_ui_is_served_offline(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(source.startswith("/static/") for source in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source


def test_the_clearance_reference_limit_is_in_the_schema(schema, settings):
    """A client generated from the schema knows how many references a call may name (more is 400)."""
    request = schema["paths"]["/api/v1/clearances/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in request:
        request = schema["components"]["schemas"][request["$ref"].rsplit("/", 1)[1]]
    works = request["properties"]["works"]
    assert (works["minItems"], works["maxItems"]) == (1, settings.CLEARANCE_MAX_REFS)


def test_every_429_carries_retry_after_and_every_body_may_be_415(schema):
    throttled = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if "429" in responses:
                throttled += 1
                assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer", (path, method)
            if "requestBody" in operation:
                problem = responses["415"]["content"]["application/problem+json"]["schema"]
                assert problem == {"$ref": "#/components/schemas/Problem"}, (path, method)
    assert throttled >= 2  # clearances and usage reports at least
