"""End to end: a real server, a real Celery worker, real Redis and PostgreSQL."""

from __future__ import annotations

import pytest
import requests

from config.celery import ping

pytestmark = pytest.mark.e2e


def test_healthz_reports_database_redis_and_worker(stack):
    response = stack.wait_for("/healthz")
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is True
    assert body["checks"]["worker"]["workers"]


def test_healthz_is_503_when_no_worker_answers(stack):
    stack.wait_for("/healthz")
    stack.stop("worker")
    response = requests.get(stack.base_url + "/healthz", timeout=10)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    # the database and Redis alone still answer 200 (the web container's own health check)
    assert requests.get(stack.base_url + "/healthz?check=database,redis", timeout=10).status_code == 200


def test_a_task_sent_through_redis_is_run_by_the_worker_process(stack):
    stack.wait_for("/healthz")
    result = ping.delay("executed by a real worker")
    assert result.get(timeout=60) == "executed by a real worker"
    assert "config.ping" in stack.log("worker")


def test_api_over_http_answers_problem_json(stack):
    stack.wait_for("/healthz?check=database")
    response = requests.get(stack.base_url + "/api/v1/", timeout=10)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    response = requests.post(
        stack.base_url + "/api/v1/me/keys",
        data=b"\xff\xfe not json",
        headers={"Content-Type": "application/json", "Authorization": "Bearer x.y"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["status"] == 401


def test_a_large_usage_report_is_processed_by_the_worker(stack):
    import time
    import uuid

    import orjson

    from licensing.models import Agreement, UsageEvent
    from licensing.services import api_key_create
    from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, work_with_shares

    work = work_with_shares((RightsHolderFactory(), "100.00"))
    licensee = LicenseeFactory(country="JP")
    agreement = Agreement.objects.create(
        licensee=licensee, reference="E2E", currency="JPY", starts_on="2026-01-01", territories=["*"],
        uses=["generation"], scope_catalogue=True, status="active",
    )  # fmt: skip
    _, key = api_key_create(name="e2e", licensee=licensee)
    lines = b"".join(
        orjson.dumps({"work": str(work.pk), "use": "generation", "quantity": n, "occurred_on": "2026-10-03",
                      "model": "video-model-2"}) + b"\n"
        for n in range(1, 101)
    )  # fmt: skip
    stack.wait_for("/healthz")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson",
               "Idempotency-Key": str(uuid.uuid4())}  # fmt: skip
    response = requests.post(f"{stack.base_url}/api/v1/usage-reports?period=2026-10", data=lines, headers=headers,
                             timeout=30)  # fmt: skip
    assert response.status_code == 202, response.text
    report = response.json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        report = requests.get(
            f"{stack.base_url}/api/v1/usage-reports/{report['id']}", headers=headers, timeout=10
        ).json()
        if report["status"] != "processing":
            break
        time.sleep(0.3)
    assert (report["status"], report["events_accepted"]) == ("accepted", 100), report
    assert UsageEvent.objects.filter(agreement=agreement).count() == 100
    assert "licensing.process_usage_report" in stack.log("worker")
