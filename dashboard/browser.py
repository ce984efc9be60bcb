"""Serve the cockpit on 127.0.0.1 and look at it in Debian's chromium (Playwright from PyPI,
the system browser, no download): the end-to-end test and `make screenshots` share this.

Every request the page makes is watched: one to another host than 127.0.0.1 is refused and
recorded (the cockpit must render with the network off), a failed one is recorded too.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Page, Route, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# (url path, the page's title, what must be on it once its queries have run)
PAGES = (
    ("", "This week", "Services in XM scope"),
    ("service", "Service", "Scorecard history"),
    ("scorecard", "Scorecard", "Scorecard"),
    ("hotspots", "Hotspots", "Ranked"),
    ("devices", "Devices", "The devices behind the tickets"),
    ("data_health", "Data health", "Latest extracts"),
)
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(reporting_path: Path, port: int | None = None) -> Iterator[str]:
    """`xmo dashboard` over `reporting_path` on a free port; yields its URL, stops it after."""
    port = port or free_port()
    env = {**os.environ, "XMO_REPORTING_PATH": str(reporting_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "dashboard", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/_stcore/health", server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def _wait_for(url: str, server: subprocess.Popen, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the cockpit exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {deadline_s:.0f} s")


@dataclass
class Watch:
    """What the browser asked for that it should not have, or did not get."""

    external: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()


@contextmanager
def browser_page(width: int = 1400, height: int = 1600) -> Iterator[tuple[Page, Watch]]:
    chromium = shutil.which("chromium")
    if not chromium:
        raise RuntimeError("Debian's chromium is needed: make browser")
    watch = Watch()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.route("**/*", watch.route)
            page.on(
                "requestfailed",
                lambda request: (
                    None
                    if urlparse(request.url).hostname not in LOCAL_HOSTS
                    else watch.failed.append(f"{request.url}: {request.failure}")
                ),
            )
            yield page, watch
        finally:
            browser.close()


def wait_until_rendered(page: Page, heading: str, timeout_ms: float = 120_000) -> None:
    """Streamlit renders over a websocket: wait for the page's content, then for its script to
    finish (the status widget shows "Running" meanwhile) and its charts to draw."""
    try:
        page.get_by_role("heading", name=heading, exact=True).first.wait_for(timeout=timeout_ms)
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
            timeout=timeout_ms,
        )
    except PlaywrightTimeoutError:
        raise RuntimeError(
            f"{heading!r} did not render; the page shows: {page.inner_text('body')[:2000]!r}"
        ) from None
    page.wait_for_timeout(1500)


def errors_shown(page: Page) -> list[str]:
    """An exception or error box on the page, as its text."""
    boxes = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return [boxes.nth(i).inner_text() for i in range(boxes.count())]


def open_page(page: Page, url: str, path: str, heading: str) -> None:
    page.goto(f"{url}/{path}")
    wait_until_rendered(page, heading)


def photograph(url: str, out_dir: Path) -> tuple[list[Path], Watch, dict[str, list[str]]]:
    """Every page, waited for and photographed (full page) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shots, errors = [], {}
    with browser_page() as (page, watch):
        for path, _title, heading in PAGES:
            open_page(page, url, path, heading)
            errors[path or "this_week"] = errors_shown(page)
            shot = out_dir / f"cockpit_{path or 'this_week'}.png"
            page.screenshot(path=str(shot), full_page=True)
            shots.append(shot)
    return shots, watch, errors
