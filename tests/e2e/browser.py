"""Playwright driving Debian's Chromium (`make browser` installs it; Playwright cannot download its own browsers here).

`missing()` says why a browser test cannot run (the test then skips with that reason); `chromium()` launches the
browser with the options that work headless as root, each launch on a fresh temporary profile.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",  # we run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (make install-dev installs requirements-dev.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (needs root and apt-get)"
    return None


@contextmanager
def chromium() -> Iterator:
    """A `playwright.sync_api.Browser` on Debian's Chromium, closed afterwards.

    Playwright's sync API runs an event loop in this thread while it is open: do the Django ORM work (which refuses
    to run beside an event loop) before entering, or after leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True, timeout=TIMEOUT_MS
        )
        try:
            yield browser
        finally:
            browser.close()
