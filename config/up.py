"""`make up`: the whole service in the foreground on one machine.

Starts the embedded PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL are set), migrates, loads the demo,
then runs gunicorn, a Celery worker and Celery beat together. Ctrl-C stops every process it started, in order
(web and beat, then the worker's warm shutdown, then Redis and PostgreSQL); the data under `.data/` stays.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from config.embedded import DATA_DIR, EmbeddedError, port_is_free, start_postgres, start_redis, stop_process

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def log(message: str) -> None:
    print(f"[up] {message}", flush=True)


def secret_key() -> str:
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def pump(name: str, stream) -> None:
    for raw in iter(stream.readline, b""):
        sys.stdout.write(f"{name:>6} | {raw.decode(errors='replace')}")
        sys.stdout.flush()


def spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        args,
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
    )
    threading.Thread(target=pump, args=(name, process.stdout), daemon=True).start()
    return process


def run(args: list[str], env: dict[str, str], capture: bool = False) -> str:
    result = subprocess.run(args, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE if capture else None, text=True)
    if result.returncode != 0:
        raise SystemExit(f"[up] `{' '.join(args[1:])}` failed with exit code {result.returncode}")
    return result.stdout or ""


def wait_for_web(url: str, processes: list, stopping: threading.Event, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping.is_set():
        if any(process.poll() is not None for _, process in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http URL built here)
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    if not port_is_free(host, port):
        log(f"port {port} on {host} is already in use (another `make up`?). Stop it, or run `make up PORT=8001`.")
        return 1

    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # A local, plain-HTTP deployment: production settings without TLS-only cookies and redirects.
    env.setdefault("DJANGO_DEBUG", "false")
    env.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    env.setdefault("DJANGO_SECURE_COOKIES", "false")
    env.setdefault("DJANGO_SECURE_HSTS_SECONDS", "0")
    env.setdefault("DJANGO_ALLOWED_HOSTS", f"localhost,127.0.0.1,[::1],{host}")
    env.setdefault("DJANGO_SECRET_KEY", secret_key())
    # A demo platform bank account for Zengin exports (set the ZENGIN_* variables to your own: README, Payouts).
    for name, value in {"ZENGIN_REQUESTER_CODE": "0000000001", "ZENGIN_REQUESTER_NAME": "ﾗｲﾂ ﾚｼﾞﾔ- ﾃﾞﾓ",
                        "ZENGIN_BANK_CODE": "0001", "ZENGIN_BANK_NAME": "ﾃﾞﾓ ｷﾞﾝｺｳ", "ZENGIN_BRANCH_CODE": "001",
                        "ZENGIN_BRANCH_NAME": "ﾎﾝﾃﾝ", "ZENGIN_ACCOUNT_TYPE": "ordinary",
                        "ZENGIN_ACCOUNT_NUMBER": "1234567"}.items():  # fmt: skip
        env.setdefault(name, value)

    processes: list[tuple[str, subprocess.Popen]] = []
    pg_server = None
    redis_process = None
    stopping = threading.Event()

    def request_stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    exit_code = 0
    try:
        if not env.get("DATABASE_URL"):
            log(f"starting the embedded PostgreSQL (data in {DATA_DIR / 'pg'})")
            pg_server, env["DATABASE_URL"] = start_postgres()
        else:
            log("using DATABASE_URL")
        if not env.get("REDIS_URL"):
            redis_port = int(os.environ.get("REDIS_PORT", "6390"))
            log(f"starting the embedded Redis on 127.0.0.1:{redis_port} (data in {DATA_DIR / 'redis'})")
            redis_process, env["REDIS_URL"] = start_redis(port=redis_port)
        else:
            log("using REDIS_URL")

        manage = [PYTHON, "manage.py"]
        run([*manage, "migrate", "--noinput", "-v", "1"], env)
        run([*manage, "collectstatic", "--noinput", "-v", "0"], env)
        banner = run(
            [
                *manage,
                "seed_demo",
                "--key-file",
                str(DATA_DIR / "demo-keys.json"),
                "--base-url",
                f"http://{host}:{port}",
            ],
            env,
            capture=True,
        )

        processes.append(
            (
                "web",
                spawn(
                    "web",
                    [
                        str(BIN / "gunicorn"), "config.wsgi:application",
                        "--bind", f"{host}:{port}",
                        "--workers", os.environ.get("WEB_CONCURRENCY", "2"),
                        "--timeout", "120",
                        "--access-logfile", "-",
                    ],
                    env,
                ),
            )
        )  # fmt: skip
        processes.append(
            (
                "worker",
                spawn(
                    "worker",
                    [
                        str(BIN / "celery"), "-A", "config", "worker",
                        "--loglevel", "INFO",
                        "--concurrency", os.environ.get("CELERY_CONCURRENCY", "2"),
                        "--hostname", "worker@%h",
                    ],
                    env,
                ),
            )
        )  # fmt: skip
        processes.append(
            (
                "beat",
                spawn(
                    "beat",
                    [
                        str(BIN / "celery"), "-A", "config", "beat",
                        "--loglevel", "INFO",
                        "--schedule", str(DATA_DIR / "celerybeat-schedule"),
                    ],
                    env,
                ),
            )
        )  # fmt: skip
        if wait_for_web(f"http://{host}:{port}/healthz?check=database,redis", processes, stopping):
            print(banner, flush=True)
            log(f"web, worker and beat are running; Ctrl-C stops everything (data stays in {DATA_DIR})")
        parent = os.getppid()
        while not stopping.is_set():
            if os.getppid() != parent:
                log("the parent process (make) is gone; stopping everything")
                stopping.set()
                break
            for name, process in processes:
                if process.poll() is not None:
                    log(f"{name} exited with code {process.returncode}; stopping everything")
                    exit_code = 1
                    stopping.set()
                    break
            stopping.wait(0.5)
    except EmbeddedError as exc:
        log(str(exc))
        exit_code = 1
    except SystemExit as exc:
        print(exc, flush=True)
        exit_code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        log("stopping…")
        for name, process in processes:
            if name != "worker":
                stop_process(process)
        for name, process in processes:
            if name == "worker":
                stop_process(process, timeout=60)
        if redis_process is not None:
            stop_process(redis_process)
        if pg_server is not None:
            pg_server.cleanup()
        log("stopped; data kept in " + str(DATA_DIR))
        time.sleep(0.1)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
