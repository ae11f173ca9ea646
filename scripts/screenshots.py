"""Take the README's screenshots: Home, a workflow run, the template library, Recurring, Start today
and Insights, each
at phone (390 px) and desktop (1280 px) width, into ``docs/screenshots/``.

``make screenshots`` calls this. It never touches the portal's own data: it migrates a scratch
SQLite database in a temporary folder, fills it with ``seed_demo``, starts the development server
on a free port, signs in through the login form as the demo operator and saves one PNG per page
and width (``home-390.png``, ``home-1280.png``, ...). A page the portal does not have answers 404
and is skipped with a message. Chromium comes from Debian (``/usr/bin/chromium``, or
``PORTAL_CHROMIUM``), driven by Playwright.

    .venv/bin/python scripts/screenshots.py [--out DIR] [--full-page] [--page home --page run ...]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDTHS = {390: 844, 1280: 800}
DEMO_USER = "operator"
DEMO_PASSWORD = "portal-demo-2028"  # seed_demo's documented password while DEBUG is on
#: Screenshot name → the path to open (``None``: found on Home, the first run linked there).
PAGES: dict[str, str | None] = {
    "home": "/",
    "run": None,
    "templates": "/workflows/templates/",
    "recurring": "/recurring/",
    "today": "/today/",
    "insights": "/insights/",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(base_url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"The server stopped with status {server.returncode} before answering.")
        try:
            with urllib.request.urlopen(f"{base_url}/health/", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise SystemExit(f"The server did not answer on {base_url} within {timeout:.0f} s.")


def _scratch_environment(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("DATABASE_URL", "PORTAL_PRODUCTION", "CELERY_BROKER_URL"):
        env.pop(name, None)
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'portal.sqlite3'}",
            "PORTAL_VAR_DIR": str(folder),
            "DEBUG": "1",
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"manage.py {' '.join(args)} failed with status {done.returncode}.")


def _sign_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(DEMO_USER)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def _first_run_path(page, base_url: str) -> str | None:
    page.goto(f"{base_url}/")
    hrefs = page.eval_on_selector_all("a[href^='/runs/']", "links => links.map(a => a.getAttribute('href'))")
    return next((href for href in hrefs if re.fullmatch(r"/runs/[0-9a-f-]{36}/", href)), None)


def take(out: Path, names: list[str], full_page: bool) -> int:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = 0
    with tempfile.TemporaryDirectory(prefix="portal-screens-") as scratch:
        env = _scratch_environment(Path(scratch))
        print("Preparing a scratch database with the demo data ...")
        _manage(env, "migrate", "--noinput")
        _manage(env, "seed_demo")
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until_up(base_url, server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                for width, height in WIDTHS.items():
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    _sign_in(page, base_url)
                    for name in names:
                        path = PAGES[name] if PAGES[name] is not None else _first_run_path(page, base_url)
                        if path is None:
                            print(f"skipped {name}: no run is linked from Home")
                            continue
                        response = page.goto(f"{base_url}{path}")
                        if response is None or response.status == 404:
                            print(f"skipped {name}: {path} does not exist in this version of the portal")
                            continue
                        page.wait_for_load_state("networkidle")
                        target = out / f"{name}-{width}.png"
                        page.screenshot(path=str(target), full_page=full_page)
                        print(f"saved {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
                        saved += 1
                    context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder for the PNGs")
    parser.add_argument("--page", action="append", choices=sorted(PAGES), help="only these pages (repeatable)")
    parser.add_argument("--full-page", action="store_true", help="the whole scrolled page, not just the first screen")
    args = parser.parse_args(argv)
    names = args.page or list(PAGES)
    saved = take(args.out.resolve(), names, args.full_page)
    print(f"{saved} screenshot{'s' if saved != 1 else ''} saved in {args.out}")
    return 0 if saved else 1


if __name__ == "__main__":
    sys.exit(main())
