"""The demo's organisation, built once per test session for the tests that need its scale."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ingestion.synthetic.generator import GeneratorConfig, generate
from orchestration.settings import PROJECT_SEEDS_DIR, Settings, stage_reference_seeds
from tests.integration.warehouse import dbt_build, load

# `make demo`'s organisation (5,000 employees, 180 days, seed 7, 20 % response rate) on fixed
# dates, so what the tests measure does not change with the day they run.
DEMO = GeneratorConfig(start=date(2026, 5, 18))
# Two more of its size (other seeds, other dates): a false-alarm rate is judged over several
# organisations, not over one draw.
OTHER_ORGANISATIONS = (
    GeneratorConfig(start=date(2026, 4, 6), seed=3),
    GeneratorConfig(start=date(2026, 6, 1), seed=11),
)


def _build(root, config: GeneratorConfig, *dbt_args: str) -> Settings:
    settings = Settings.from_env({"XMO_DATA_DIR": str(root / "data")})
    generate(settings.landing_dir, settings.reference_dir, PROJECT_SEEDS_DIR, config)
    stage_reference_seeds(settings)
    first, last = config.timeline()
    load(settings, [first + timedelta(days=i) for i in range((last - first).days + 1)])
    dbt_build(settings, root / "target", *dbt_args)
    return settings


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Settings:
    """Loaded and built by a real `dbt build` (every model, unit test and data test)."""
    return _build(tmp_path_factory.mktemp("demo"), DEMO)


@pytest.fixture(scope="session")
def other_warehouses(tmp_path_factory) -> list[Settings]:
    """OTHER_ORGANISATIONS, each built like the demo's (the unit tests ran there already)."""
    return [
        _build(
            tmp_path_factory.mktemp(f"organisation_{config.seed}"),
            config,
            "--exclude",
            "test_type:unit",
        )
        for config in OTHER_ORGANISATIONS
    ]
