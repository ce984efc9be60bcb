"""Take the README's pictures in a real headless browser (Debian's chromium): `make screenshots`.

Uses the data dir of `make demo` ($XMO_DATA_DIR, default ./data): starts the Dagster webserver on
127.0.0.1 over that instance, photographs the lineage of a mart, then the two newest packs, then
serves the cockpit over the published marts and photographs each of its pages.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from dashboard import browser as cockpit
from orchestration.instance import ensure_dagster_home
from orchestration.settings import PROJECT_ROOT, Settings

IMAGES = PROJECT_ROOT / "docs" / "images"
LINEAGE_OF = "marts/service_experience_weekly"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, deadline_s: float = 180) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"{url} did not answer")


def _lineage(page: Page, url: str) -> None:
    page.set_viewport_size({"width": 2000, "height": 1150})
    page.goto(f"{url}/assets/{LINEAGE_OF}?view=lineage&lineageScope=neighbors&lineageDepth=5")
    page.wait_for_timeout(8000)
    skip = page.get_by_role("button", name="Skip")  # the community pop-up of a new instance
    if skip.count():
        skip.click()
    page.wait_for_timeout(2000)
    page.screenshot(path=str(IMAGES / "lineage.png"))


def _pack(page: Page, pack: Path, name: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 1500})
    page.goto(pack.as_uri())
    page.wait_for_timeout(500)
    page.screenshot(path=str(IMAGES / name))


def main() -> int:
    settings = Settings.from_env()
    packs = {
        kind: sorted((settings.reports_dir / kind).glob("*.html")) for kind in ("weekly", "monthly")
    }
    if not all(packs.values()):
        print(f"no packs under {settings.reports_dir}; run `make demo` first", file=sys.stderr)
        return 1
    chromium = shutil.which("chromium")
    if not chromium:
        print("Debian's chromium is needed: make browser", file=sys.stderr)
        return 1
    IMAGES.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DAGSTER_HOME": str(ensure_dagster_home(settings))}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(PROJECT_ROOT / "workspace.yaml"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"{url}/server_info")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            _lineage(page, url)
            _pack(page, packs["weekly"][-1], "weekly_pack.png")
            _pack(page, packs["monthly"][-1], "monthly_pack.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    for name in ("lineage.png", "weekly_pack.png", "monthly_pack.png"):
        print(f"wrote {IMAGES / name}")
    with cockpit.serve(settings.reporting_path) as url:
        shots, watch, errors = cockpit.photograph(url, IMAGES)
    if watch.external or watch.failed or any(errors.values()):
        print(f"the cockpit did not render cleanly: {watch} {errors}", file=sys.stderr)
        return 1
    for shot in shots:
        print(f"wrote {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
