"""GX expectation suites as blocking asset checks on the tables they guard."""

from collections.abc import Callable

import dagster as dg
import great_expectations as gx

from orchestration.resources import XmoDataDir
from quality.suites import SUITES
from quality.tables import read_table
from quality.validation import ValidationOutcome, validate_dataframe


def _result(outcome: ValidationOutcome) -> dg.AssetCheckResult:
    failures = "\n".join(f"- {failure.describe()}" for failure in outcome.failures)
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "suite": outcome.suite,
            "rows_validated": outcome.rows,
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": len(outcome.failures),
            "failures": dg.MetadataValue.md(failures or "none"),
        },
    )


def build_gx_check(
    relation: str, build_suite: Callable[[], gx.ExpectationSuite]
) -> dg.AssetChecksDefinition:
    schema, table = relation.split(".")

    @dg.asset_check(
        asset=dg.AssetKey([schema, table]),
        name=f"{table}_meets_gx_suite",
        blocking=True,
        description=(
            f"GX suite `{build_suite().name}` on {relation}: schema, key, ranges and the "
            "low-sample rule. Blocks publication when it fails or cannot run."
        ),
    )
    def _check(xmo: XmoDataDir) -> dg.AssetCheckResult:
        try:
            outcome = validate_dataframe(read_table(xmo.warehouse_path, relation), build_suite())
        except Exception as exc:  # a check that cannot run is a failed check, never a pass
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"error": f"{type(exc).__name__}: {exc}"},
            )
        return _result(outcome)

    return _check


def build_gx_checks() -> list[dg.AssetChecksDefinition]:
    return [build_gx_check(relation, build) for relation, build in SUITES.items()]
