"""The cockpit served by `xmo dashboard` on 127.0.0.1 and opened in headless Debian chromium:
every page renders its content with no failed request, no request off the machine and no error
box; and a publication made while the app is open is seen at the next interaction."""

from __future__ import annotations

import re

import duckdb
import pytest

from dashboard import browser
from quality.publish import publish_marts
from tests.integration.warehouse import query

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_every_page_renders_in_a_real_browser_with_the_network_off(published_demo, tmp_path):
    with browser.serve(published_demo.reporting_path) as url:
        shots, watch, errors = browser.photograph(url, tmp_path / "screenshots")
    assert watch.external == [], "the cockpit fetched from outside the machine"
    assert watch.failed == []
    assert all(not boxes for boxes in errors.values()), errors
    assert [s.name for s in shots] == [
        f"cockpit_{path or 'this_week'}.png" for path, _, _ in browser.PAGES
    ]
    assert all(s.stat().st_size > 20_000 for s in shots)  # a rendered page, not a blank one


def test_a_publication_while_the_app_is_open_shows_at_the_next_interaction(
    published_demo, tmp_path
):
    settings = published_demo
    reporting = tmp_path / "reporting" / "xmo_reporting.duckdb"
    parquet = tmp_path / "reporting" / "parquet"
    marts = [
        row[0]
        for row in query(
            settings.reporting_path,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'",
        )
    ]
    publish_marts(settings.warehouse_path, reporting, parquet, marts)
    # The service with the most answers: scored (not low sample) in whichever week is shown.
    service, name = query(
        reporting,
        "SELECT w.service_id, s.service_name FROM marts.service_experience_weekly w "
        "JOIN marts.dim_service s USING (service_id) "
        "GROUP BY ALL ORDER BY sum(w.responses) DESC LIMIT 1",
    )[0]
    # The next version: the same warehouse with one score changed, published by the publisher.
    changed = tmp_path / "changed.duckdb"
    changed.write_bytes(settings.warehouse_path.read_bytes())
    con = duckdb.connect(str(changed))
    con.execute(
        "UPDATE marts.service_experience_weekly SET happiness_score = -77 "
        "WHERE service_id = ? AND NOT low_sample",
        [service],
    )
    con.close()

    label = f"{name} ({service})"
    with browser.serve(reporting) as url, browser.browser_page() as (page, watch):
        browser.open_page(page, url, "", "Services in XM scope")
        services = page.locator('[data-testid="stTable"]').first
        row = services.locator("tr", has_text=label)
        assert "-77" not in row.inner_text()
        publish_marts(changed, reporting, parquet, marts)
        # The next interaction: take another service out of the filter.
        removable = page.get_by_role("button", name=re.compile(r"^Remove "))
        other = next(
            removable.nth(i)
            for i in range(removable.count())
            if label not in removable.nth(i).get_attribute("aria-label")
        )
        other.click()
        browser.wait_until_rendered(page, "Services in XM scope")
        assert "-77" in services.locator("tr", has_text=label).inner_text()
        assert watch.external == [] and watch.failed == []
