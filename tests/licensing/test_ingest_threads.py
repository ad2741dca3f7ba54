"""The ingestion's two threads: the parsing thread gives the GIL back quickly while a report is stored, and the
process's own switch interval comes back afterwards, also when ingestions overlap or fail."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import uuid

import pytest

from licensing import ingest

from .test_usage_reports import event, ndjson


def test_overlapping_ingestions_restore_the_process_interval_when_the_last_ends():
    own = sys.getswitchinterval()
    handoff = ingest.QuickGilHandoff(own / 8)
    first, second = contextlib.ExitStack(), contextlib.ExitStack()
    first.enter_context(handoff())
    assert sys.getswitchinterval() == pytest.approx(own / 8, abs=1e-6)
    second.enter_context(handoff())
    first.close()  # the first ends while the second still runs
    assert sys.getswitchinterval() == pytest.approx(own / 8, abs=1e-6)
    second.close()
    assert sys.getswitchinterval() == own


@pytest.mark.django_db
def test_an_ingestion_hands_the_gil_over_quickly_and_restores_the_interval_when_it_fails(world, monkeypatch):
    own = sys.getswitchinterval()
    seen = []

    def store(self, chunk, result):
        seen.append(sys.getswitchinterval())
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ingest.Stager, "store", store)
    with pytest.raises(RuntimeError, match="went away"):
        ingest.ingest(ndjson(event(world["volume"])), "application/x-ndjson", period=dt.date(2026, 10, 1),
                      default_territory="JP", report_id=uuid.uuid4(), licensee_id=world["licensee"].pk,
                      late=False)  # fmt: skip
    assert seen == [pytest.approx(ingest.quick_gil_handoff.interval, abs=1e-6)]
    assert ingest.quick_gil_handoff.interval < own
    assert sys.getswitchinterval() == own
