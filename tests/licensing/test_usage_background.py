"""Usage reports processed in the background: a task that fails for good says so, staff process it again, and a
task lost before it reached the broker is queued again by the scheduled sweep."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from licensing import tasks, usage
from licensing.models import UsageEvent, UsageReport, UsageReportPayload

from .test_usage_reports import agreement, event, post  # noqa: F401  (the agreement fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[str]:
    """The report ids handed to the broker (process_usage_report.delay), instead of a broker."""
    ids: list[str] = []
    monkeypatch.setattr(tasks.process_usage_report, "delay", lambda report_id: ids.append(report_id))
    return ids


@pytest.fixture
def background_report(world, agreement, settings):  # noqa: F811
    settings.USAGE_ASYNC_THRESHOLD_BYTES = 100
    response = post(world["licensee_client"], {"events": [event(world["volume"], quantity=n) for n in range(1, 6)]},
                    key="big-1")  # fmt: skip
    assert response.status_code == 202
    return response.json()["id"]


def test_a_task_that_fails_for_good_marks_its_report_failed_and_staff_process_it_again(
    world, background_report, monkeypatch, queued, django_capture_on_commit_callbacks, client, staff_user
):
    def broken(report, data, content_type):
        raise RuntimeError("disk full")

    monkeypatch.setattr(usage, "_process", broken)
    outcome = tasks.process_usage_report.apply(args=[background_report])  # run as the worker would, here
    assert outcome.failed()
    report = world["licensee_client"].get(f"/api/v1/usage-reports/{background_report}").json()
    assert report["status"] == "failed"
    assert "new Idempotency-Key" in report["failure"]
    assert (report["events_received"], report["errors"]) == (0, [])
    assert not UsageEvent.objects.exists()
    assert UsageReportPayload.objects.filter(report_id=background_report).exists()  # kept for staff
    # a retry by the client with the same key answers the same (failed) report, and stores nothing
    again = post(world["licensee_client"], {"events": [event(world["volume"], quantity=n) for n in range(1, 6)]},
                 key="big-1")  # fmt: skip
    assert (again.json()["id"], again.json()["status"]) == (background_report, "failed")

    monkeypatch.undo()
    monkeypatch.setattr(tasks.process_usage_report, "delay", lambda report_id: queued.append(report_id))
    client.force_login(staff_user)
    with django_capture_on_commit_callbacks(execute=True):
        action = {"action": "process_again", "_selected_action": [background_report]}
        response = client.post("/admin/licensing/usagereport/", action, follow=True)
    assert response.status_code == 200
    assert "1 report queued again" in response.content.decode()
    assert queued == [background_report]
    assert UsageReport.objects.get(pk=background_report).status == "processing"
    usage.usage_report_process(report_id=background_report)  # the queued task
    report = UsageReport.objects.get(pk=background_report)
    assert (report.status, report.events_accepted, report.failure) == ("accepted", 5, "")
    assert UsageEvent.objects.count() == 5
    assert not usage.usage_report_process_again(report=report)  # only a failed one


def test_a_failure_after_the_report_was_done_changes_nothing(world, background_report):
    usage.usage_report_process(report_id=background_report)
    assert not usage.usage_report_fail(report_id=background_report)
    assert UsageReport.objects.get(pk=background_report).status == "accepted"


def test_the_sweep_queues_again_the_reports_stalled_in_processing(world, background_report, queued):
    assert tasks.requeue_stalled_usage_reports(minutes=15) == 0  # just received: its task may be on its way
    UsageReport.objects.filter(pk=background_report).update(created_at=timezone.now() - dt.timedelta(minutes=16))
    assert tasks.requeue_stalled_usage_reports(minutes=15) == 1
    assert queued == [background_report]
    usage.usage_report_process(report_id=background_report)
    usage.usage_report_process(report_id=background_report)  # the original task, late: nothing twice
    assert UsageEvent.objects.count() == 5
    assert tasks.requeue_stalled_usage_reports(minutes=15) == 0  # done: not queued again
    assert queued == [background_report]


def test_the_sweep_is_scheduled_and_editable_in_the_admin():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="licensing.requeue_stalled_usage_reports")
    assert (task.enabled, task.interval.every, task.interval.period) == (True, 10, "minutes")
