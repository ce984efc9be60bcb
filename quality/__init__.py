"""Quality gates: GX Core 1.x expectation suites kept as code, and write-audit-publish.

No Dagster imports: `orchestration/checks.py` turns these results into asset checks.
"""
