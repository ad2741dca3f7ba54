"""pytest plugin (`-p tests.embedded`): real PostgreSQL and Redis for the suite, started before Django loads.

DATABASE_URL / REDIS_URL win when set (CI may point them at its own servers). Otherwise the suite uses the
embedded PostgreSQL of `.data/pg` (its own `test_*` database) and a private Redis in a temporary directory.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

_handles: list = []


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller already started everything and exported the URLs
    from config.embedded import start_postgres, start_redis, stop_process

    if not os.environ.get("DATABASE_URL"):
        server, os.environ["DATABASE_URL"] = start_postgres()
        _handles.append(server)
    if not os.environ.get("REDIS_URL"):
        redis_dir = tempfile.mkdtemp(prefix="rights-ledger-redis-")
        process, os.environ["REDIS_URL"] = start_redis(data_dir=redis_dir)
        atexit.register(shutil.rmtree, redis_dir, True)
        atexit.register(stop_process, process)
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-" + "x" * 50)
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("DJANGO_STATIC_MANIFEST", "false")
