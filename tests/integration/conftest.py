"""Integration tests: real PostgreSQL, Redis and Celery worker processes.

The settings (and so the database) are fixed when Django starts, so the PostgreSQL tests cannot
share the normal SQLite session. They run in a *PostgreSQL pass*: ``test_postgres_core.py``'s
driver test starts ``pytest`` in a subprocess with ``DATABASE_URL`` pointing at a fresh PostgreSQL
database and ``CELERY_BROKER_URL`` at Redis, over the core model test modules and every test in
this folder. Hence the collection rule below:

* in the normal (SQLite) session only the driver tests of this folder run (``pg_pass_driver``);
* in the PostgreSQL pass every other test of this folder runs, and the drivers are left out.

A missing service skips a test, unless ``PORTAL_REQUIRE_SERVICES=1`` (CI), which turns the skip
into a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import services_required

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION_DIR = Path(__file__).resolve().parent
POSTGRES_HOST, POSTGRES_PORT = os.environ.get("PORTAL_TEST_PG_HOST", "127.0.0.1"), 5432
REDIS_HOST, REDIS_PORT = os.environ.get("PORTAL_TEST_REDIS_HOST", "127.0.0.1"), 6379
WORKER_READY_TIMEOUT = 60
WORKER_STOP_TIMEOUT = 30


def on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when the service is absent, or fail when CI requires it."""
    if reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if services_required():
        pytest.fail(f"{message} and PORTAL_REQUIRE_SERVICES=1 requires it.")
    pytest.skip(f"{message} (set PORTAL_REQUIRE_SERVICES=1 to make this a failure).")


def pytest_collection_modifyitems(config, items) -> None:
    """Split this folder between the SQLite session (drivers only) and the PostgreSQL pass (the
    rest). Items are deselected, not skipped: each one runs in exactly one of the two."""
    pg = on_postgres()
    keep, drop = [], []
    for item in items:
        if INTEGRATION_DIR not in Path(str(item.path)).parents:
            keep.append(item)
            continue
        is_driver = item.get_closest_marker("pg_pass_driver") is not None
        (keep if is_driver != pg else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# ---- PostgreSQL pass ---------------------------------------------------------------------


@dataclass
class PassResult:
    returncode: int
    output: str
    counts: dict[str, int] = field(default_factory=dict)


def _summary_counts(output: str) -> dict[str, int]:
    """Parse pytest's closing line, e.g. '41 passed, 2 deselected in 9.1s' (with or without the
    '=' rule around it)."""
    pattern = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)")
    closing = [line for line in output.splitlines() if pattern.search(line) and re.search(r" in [\d.]+s", line)]
    if not closing:
        return {}
    return {("error" if word.startswith("error") else word): int(n) for n, word in pattern.findall(closing[-1])}


def run_postgres_pass(test_paths: list[str], *, timeout: int = 600) -> PassResult:
    """Run ``test_paths`` in a pytest subprocess on a fresh PostgreSQL database (pytest-django
    creates ``test_<name>`` and drops it afterwards) with Redis as the broker."""
    missing = [path for path in test_paths if not (ROOT / path).exists()]
    assert not missing, f"PostgreSQL pass: test module(s) not found: {', '.join(missing)}"
    name = f"portal_it_{secrets.token_hex(4)}"
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}",
        # A random Redis database keeps parallel runs on one machine from sharing queues.
        CELERY_BROKER_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{secrets.randbelow(15) + 1}",
        PYTHONUNBUFFERED="1",
    )
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    env.pop("PYTEST_ADDOPTS", None)
    command = [
        sys.executable,
        *("-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist"),
        *("-q", "--tb=short", "-rfEs", *test_paths),
    ]
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    output = completed.stdout + completed.stderr
    return PassResult(completed.returncode, output, _summary_counts(output))


@pytest.fixture(scope="session")
def postgres_available() -> None:
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)


@pytest.fixture(scope="session")
def redis_available() -> None:
    require_service("Redis", REDIS_HOST, REDIS_PORT)


# ---- real Celery workers -----------------------------------------------------------------


def redis_broker_url() -> str:
    """The pass's broker (set by the driver), or a Redis database of our own."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis://") else f"redis://{REDIS_HOST}:{REDIS_PORT}/{secrets.randbelow(15) + 1}"


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log_path: Path
    queue: str
    broker_url: str
    var_dir: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(
            f"Celery worker log never showed {text!r} within {timeout}s "
            f"(exit status {self.process.poll()}):\n{self.log()[-4000:]}"
        )

    def stop(self) -> int:
        """Warm shutdown (SIGTERM): the worker finishes its current task and exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WORKER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"Celery worker ignored SIGTERM for {WORKER_STOP_TIMEOUT}s:\n{self.log()[-4000:]}")
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (the worker, its beat and pool children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def worker_database_url() -> str:
    """The URL of the database the tests are using right now (pytest-django's test database)."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db.get('HOST') or POSTGRES_HOST}:{db.get('PORT') or POSTGRES_PORT}/{db['NAME']}"
    )


@pytest.fixture
def celery_worker_process(tmp_path, redis_available) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real ``celery -A portal worker`` processes against Redis and the current (PostgreSQL)
    test database; each is stopped when the test ends. Call with ``beat=True`` for embedded beat
    with the database scheduler, ``extra_env`` for more settings. Use with
    ``@pytest.mark.django_db(transaction=True)`` so the worker sees committed rows (and request
    that fixture first, so the worker stops before the database is flushed)."""
    assert on_postgres(), "celery_worker_process needs the PostgreSQL pass."
    started: list[WorkerProcess] = []

    def start(*, beat: bool = False, queue: str | None = None, extra_env: dict | None = None) -> WorkerProcess:
        queue = queue or f"portal-it-{secrets.token_hex(4)}"
        broker_url = redis_broker_url()
        log_path = tmp_path / f"worker-{len(started)}.log"
        env = dict(
            os.environ,
            DATABASE_URL=worker_database_url(),
            CELERY_BROKER_URL=broker_url,
            CELERY_TASK_ALWAYS_EAGER="0",
            # Its own var/ folder: the worker's e-mail (file backend) and proof files land there.
            PORTAL_VAR_DIR=str(tmp_path / "var"),
            PYTHONUNBUFFERED="1",
            **(extra_env or {}),
        )
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "info",
            "--queues",
            queue,
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"{queue}@%h",
        ]
        if beat:
            command += ["-B", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]
        with log_path.open("wb") as log:
            # A process group of its own, so teardown can also stop the embedded beat child process.
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = WorkerProcess(process, log_path, queue, broker_url, tmp_path / "var")
        started.append(worker)
        worker.wait_for_log("ready.", WORKER_READY_TIMEOUT)
        return worker

    yield start
    for worker in started:
        try:
            worker.stop()
        finally:
            worker.kill()
