"""Expectation suites, one module per checked table, registered in SUITES by table name."""

from __future__ import annotations

from collections.abc import Callable

import great_expectations as gx

from quality.suites import service_experience_weekly

SUITES: dict[str, Callable[[], gx.ExpectationSuite]] = {
    "marts.service_experience_weekly": service_experience_weekly.build_suite,
}
