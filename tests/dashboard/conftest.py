"""A published demo-sized organisation for the cockpit's tests: the demo's generator settings
(5,000 employees, half a year, seed 7) on fixed dates, run through the real pipeline."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.cli import execute_pipeline, summarize
from orchestration.settings import PROJECT_SEEDS_DIR, Settings

DEMO = GeneratorConfig(employees=5_000, days=182, start=date(2026, 5, 4), seed=7, bad_rows=0.001)


@pytest.fixture(scope="session")
def published_demo(tmp_path_factory) -> Settings:
    data_dir = tmp_path_factory.mktemp("cockpit") / "data"
    settings = Settings.from_env({"XMO_DATA_DIR": str(data_dir)})
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, DEMO)
    first, last = DEMO.timeline()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    summary = summarize(execute_pipeline(settings, days))
    assert summary.published, summary.step_failures + summary.checks_failed
    return settings
