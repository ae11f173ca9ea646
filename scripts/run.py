"""Start the embedded portal: the web server and one Celery worker with embedded beat.

``make run`` calls this after migrating and seeding. Both processes run until Ctrl-C (SIGINT) or
SIGTERM, which is forwarded to each of them; if either one stops by itself the other is stopped
too and this script exits with a non-zero status, so a half-running portal is never left behind.

Settings come from the environment like everywhere else (``portal/settings.py``). With the default
filesystem broker the worker runs without mingle and gossip (that transport has no fan-out; remote
control is switched off in ``portal/celery.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDRESS = os.environ.get("PORTAL_RUN_ADDRESS", "127.0.0.1:8000")
STOP_GRACE_SECONDS = 20


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the child when this supervisor dies, even by SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:  # not Linux: the forwarded signals still stop the children
        pass


def _commands() -> dict[str, list[str]]:
    python = sys.executable
    worker = [
        python,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "-B",
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
        "--loglevel",
        os.environ.get("PORTAL_WORKER_LOGLEVEL", "info"),
    ]
    if os.environ.get("CELERY_BROKER_URL", "filesystem://").startswith("filesystem://"):
        worker += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    return {
        "web": [python, "manage.py", "runserver", ADDRESS, "--noreload"],
        "worker": worker,
    }


def _relay(name: str, stream) -> None:
    """Copy a child's output to ours, each line prefixed with the child's name."""
    for line in iter(stream.readline, b""):
        sys.stdout.buffer.write(f"[{name}] ".encode() + line)
        sys.stdout.buffer.flush()
    stream.close()


def _stop(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, child in children.items():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[run] {name} did not stop within {STOP_GRACE_SECONDS}s; killing it.", flush=True)
            child.kill()
            child.wait()


def main() -> int:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    stop_requested = threading.Event()

    def request_stop(signum, _frame) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    children: dict[str, subprocess.Popen] = {}
    for name, command in _commands().items():
        # A session of their own: the terminal's Ctrl-C reaches only this supervisor, which then
        # stops each child exactly once (celery treats a second signal as "stop right now").
        children[name] = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    # Relay threads start only after the last fork: preexec_fn is unsafe while threads run.
    relays = [
        threading.Thread(target=_relay, args=(name, child.stdout), daemon=True) for name, child in children.items()
    ]
    for relay in relays:
        relay.start()

    print(
        f"[run] Operations portal on http://{ADDRESS}/ (admin: /admin/, API docs: /api/v1/docs/); "
        "Celery worker with embedded beat started. Press Ctrl-C to stop.",
        flush=True,
    )
    exit_status = 0
    while not stop_requested.is_set():
        ended = [(name, child.returncode) for name, child in children.items() if child.poll() is not None]
        if ended:
            for name, code in ended:
                print(f"[run] {name} stopped (exit status {code}); stopping the rest.", flush=True)
            exit_status = 1
            break
        stop_requested.wait(0.5)
    else:
        print("[run] Stopping web server and worker...", flush=True)

    _stop(children)
    for relay in relays:
        relay.join(timeout=5)
    print("[run] Stopped.", flush=True)
    return exit_status


if __name__ == "__main__":
    sys.exit(main())
