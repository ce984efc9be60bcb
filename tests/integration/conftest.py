"""The demo's organisation, built once per test session for the tests that need its scale."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.settings import PROJECT_SEEDS_DIR, Settings, stage_reference_seeds
from tests.integration.warehouse import dbt_build, load

# `make demo`'s organisation (5,000 employees, 180 days, seed 7, 22 % response rate) on fixed
# dates, so what the tests measure does not change with the day they run.
DEMO = GeneratorConfig(start=date(2026, 5, 18))


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Settings:
    """Loaded and built by a real `dbt build` (every model, unit test and data test)."""
    root = tmp_path_factory.mktemp("demo")
    settings = Settings.from_env({"XMO_DATA_DIR": str(root / "data")})
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, DEMO)
    stage_reference_seeds(settings)
    first, last = DEMO.timeline()
    load(settings, [first + timedelta(days=i) for i in range((last - first).days + 1)])
    dbt_build(settings, root / "target")
    return settings
