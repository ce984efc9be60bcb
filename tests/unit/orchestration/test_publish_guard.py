"""Publication re-reads the latest verdict of every gate (runs of a UI backfill are separate)."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.reporting import failed_gates


def _run_gate(instance, passed: bool, severity=dg.AssetCheckSeverity.ERROR) -> None:
    @dg.asset
    def device_experience_weekly() -> None: ...

    @dg.asset_check(asset=device_experience_weekly, blocking=True)
    def is_fresh() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=passed, severity=severity)

    defs = dg.Definitions(assets=[device_experience_weekly], asset_checks=[is_fresh])
    defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, raise_on_error=False
    )


def test_a_gate_whose_latest_verdict_failed_blocks_until_it_passes_again():
    key = dg.AssetCheckKey(dg.AssetKey("device_experience_weekly"), "is_fresh")
    with dg.instance_for_test() as instance:
        assert failed_gates(instance, [key]) == []  # never evaluated: nothing against it
        _run_gate(instance, passed=False)
        [blocked] = failed_gates(instance, [key])
        assert blocked.startswith("device_experience_weekly:is_fresh (run ")
        _run_gate(instance, passed=True)
        assert failed_gates(instance, [key]) == []


def test_a_warning_does_not_block_publication():
    key = dg.AssetCheckKey(dg.AssetKey("device_experience_weekly"), "is_fresh")
    with dg.instance_for_test() as instance:
        _run_gate(instance, passed=False, severity=dg.AssetCheckSeverity.WARN)
        assert failed_gates(instance, [key]) == []
