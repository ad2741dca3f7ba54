"""`make up`'s runner (`python -m config.up`): starts everything, prints the logins, stops it all on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
import requests

from config.embedded import free_port

from .conftest import ROOT, database_url_for

pytestmark = pytest.mark.e2e


def runner_env(tmp_path, port: int) -> dict[str, str]:
    from django.conf import settings

    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        DATABASE_URL=database_url_for(settings.DATABASES["default"]["NAME"]),
        RIGHTS_LEDGER_DATA_DIR=str(tmp_path),
        PORT=str(port),
        WEB_CONCURRENCY="1",
        CELERY_CONCURRENCY="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def test_a_port_in_use_gets_a_clear_message(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "config.up"],
            cwd=ROOT,
            env=runner_env(tmp_path, port),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stdout
    assert "PORT=" in result.stdout


def test_up_serves_prints_logins_and_ctrl_c_stops_every_process(transactional_db, tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "config.up"],
        cwd=ROOT,
        env=runner_env(tmp_path, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        for line in process.stdout:
            output.append(line)
            if "web, worker and beat are running" in line or time.monotonic() > deadline:
                break
        text = "".join(output)
        assert "web, worker and beat are running" in text, text[-4000:]
        assert f"http://127.0.0.1:{port}/admin/" in text
        assert f"http://127.0.0.1:{port}/api/docs/" in text
        key = next(line.split(": ", 1)[1].strip() for line in output if line.strip().startswith("staff: "))
        assert requests.get(f"http://127.0.0.1:{port}/healthz?check=database,redis", timeout=10).status_code == 200
        me = requests.get(f"http://127.0.0.1:{port}/api/v1/", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert me.status_code == 200
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 3

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        rest, _ = process.communicate(timeout=90)
        output.append(rest)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, "".join(output)[-4000:]
    assert "stopped; data kept in" in "".join(output)
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, alive
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert (tmp_path / "secret_key").exists()
