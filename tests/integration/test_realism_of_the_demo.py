"""The demo's organisation keeps every DOMAIN §5 figure inside its range, unwidened.

Measured on the raw tables of the demo warehouse the other integration tests build (5,000
employees, 180 days, seed 7), as `xmo generate --report` measures a landing zone.
"""

from __future__ import annotations

import duckdb
import pytest

from ingestion.synthetic.realism import format_report, measure_warehouse
from orchestration.settings import Settings
from tests.integration.conftest import DEMO

pytestmark = pytest.mark.integration


def test_every_domain_figure_of_the_demo_organisation_is_inside_its_range(
    demo_warehouse: Settings, record_property
):
    first, last = DEMO.timeline()
    con = duckdb.connect(str(demo_warehouse.warehouse_path), read_only=True)
    try:
        report = measure_warehouse(con, demo_warehouse.reference_dir, first, last)
    finally:
        con.close()
    record_property("realism", format_report(report))
    assert report.employees == DEMO.employees
    assert not report.outside, "\n" + format_report(report)
    # The concentration the hotspot mart and the packs must show (DOMAIN: ~13 %).
    assert 0.10 <= report.figure("lost_time_top_share").value <= 0.16
