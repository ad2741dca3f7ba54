"""The real thing: gunicorn and a Celery worker as separate processes, on the test database and the suite's Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from django.conf import settings

from config.embedded import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Stack:
    env: dict[str, str]
    base_url: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = Path(tempfile.mkstemp(prefix=f"e2e-{name}-", suffix=".log")[1])
        handle = log.open("wb")
        process = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        self.logs[name] = log
        return process

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        return self.start(
            name,
            [
                str(BIN / "celery"), "-A", "config", "worker",
                "--pool", "prefork", "--concurrency", "1",
                "--hostname", f"{name}-{os.getpid()}@%h",
                "--without-mingle", "--without-gossip", "--loglevel", "INFO",
            ],
        )  # fmt: skip

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            stop_process(process, timeout=30)

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace") if name in self.logs else ""

    def wait_for(self, path: str, *, status: int = 200, timeout: float = 60.0) -> requests.Response:
        deadline = time.monotonic() + timeout
        last: requests.Response | None = None
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise AssertionError(f"{name} exited with {process.returncode}:\n{self.log(name)[-3000:]}")
            try:
                last = requests.get(self.base_url + path, timeout=5)
                if last.status_code == status:
                    return last
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{path} did not answer {status} in {timeout}s; last: {last and last.text}")


def insert_usage(period, licensee, works, agreements, events: int, *, quantities: int, models: int = 1) -> None:
    """`events` usage events of `period`, written in SQL: event i for works[i mod len(works)] under
    agreements[i mod len(agreements)], use training, quantity 1 + i mod `quantities`, model 'm' || i mod `models`."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT licensing_usage_partition(%s)", [period])
        cursor.execute(
            "INSERT INTO licensing_usageevent (period, report_id, line, licensee_id, work_id, agreement_id, use, "
            "quantity, occurred_on, model, territory, reserved, late) "
            "SELECT %(period)s, gen_random_uuid(), 1, %(licensee)s, (%(works)s::uuid[])[1 + i %% %(n_works)s], "
            "(%(agreements)s::uuid[])[1 + i %% %(n_agreements)s], 'training', 1 + i %% %(quantities)s, %(period)s, "
            "'m' || (i %% %(models)s), 'JP', false, false FROM generate_series(1, %(events)s) AS i",
            {"period": period, "licensee": licensee.pk, "works": [w.pk for w in works], "n_works": len(works),
             "agreements": [a.pk for a in agreements], "n_agreements": len(agreements), "quantities": quantities,
             "models": models, "events": events},
        )  # fmt: skip


def database_url_for(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
def stack(transactional_db) -> Iterator[Stack]:
    """A gunicorn server and a Celery worker on the test database; stopped after the test."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_for(settings.DATABASES["default"]["NAME"]),
        DJANGO_DEBUG="false",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_STATIC_MANIFEST="false",
        DATABASE_CONN_MAX_AGE="0",
        USAGE_ASYNC_THRESHOLD_BYTES="2000",  # so a modest report goes to the worker
        PYTHONUNBUFFERED="1",
        # the platform's bank account, for Zengin exports
        ZENGIN_REQUESTER_CODE="1234567890",
        ZENGIN_REQUESTER_NAME="ﾗｲﾂ ﾚｼﾞﾔ-",
        ZENGIN_BANK_CODE="0001",
        ZENGIN_BRANCH_CODE="001",
        ZENGIN_ACCOUNT_NUMBER="7654321",
    )
    env.pop("PYTEST_XDIST_WORKER", None)
    port = free_port()
    stack = Stack(env=env, base_url=f"http://127.0.0.1:{port}")
    try:
        stack.start(
            "web",
            [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        )
        stack.start_worker()
        yield stack
    finally:
        for name in list(stack.processes):
            stack.stop(name)
        for log in stack.logs.values():
            log.unlink(missing_ok=True)
