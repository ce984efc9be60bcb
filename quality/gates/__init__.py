"""The quality gates of DESIGN §5, one module per way of judging a table.

- `raw`: a run's extracts against their source contract (ingestion/contracts.py), and freshness;
- `marts`: a published mart against its spec (quality/specs.py), its totals, its freshness;
- `history`: a table against its own past (volumes of earlier runs, the weeks before).

Each gate asks the database (quality/rules.py turns a spec into violation counts), hands the
answers to GX to judge, and returns a GateOutcome: the validations it ran, each with its Data
Docs page, or why it had nothing to judge. Orchestration turns each gate into a Dagster asset
check (orchestration/checks.py).
"""

from quality.gates.common import GateContext, GateOutcome, Warehouse
from quality.gates.history import mart_volume, raw_volume, weekly_happiness_distribution
from quality.gates.marts import mart_freshness, mart_reconciliation, mart_schema, unmapped_share
from quality.gates.raw import raw_freshness, raw_schema

__all__ = [
    "GateContext",
    "GateOutcome",
    "Warehouse",
    "mart_freshness",
    "mart_reconciliation",
    "mart_schema",
    "mart_volume",
    "raw_freshness",
    "raw_schema",
    "raw_volume",
    "unmapped_share",
    "weekly_happiness_distribution",
]
