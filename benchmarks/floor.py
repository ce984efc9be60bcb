"""Run floor.sql: the core marts by one hand-written DuckDB script, straight from landing files.

python -m benchmarks.floor LANDING REFERENCE OUT [--min-responses N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

SCRIPT = Path(__file__).with_name("floor.sql")


def compute(landing: Path, reference: Path, out: Path, min_responses: int = 5) -> None:
    out.mkdir(parents=True, exist_ok=True)
    sql = SCRIPT.read_text()
    values = {
        "landing": landing,
        "reference": reference,
        "out": out,
        "min_responses": min_responses,
    }
    for name, value in values.items():
        sql = sql.replace("{" + name + "}", str(value))
    with duckdb.connect() as con:
        con.execute(sql)


def script_arguments(doc: str) -> argparse.Namespace:
    """The command line the floor and the pandas script share."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("reference", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--min-responses", type=int, default=5)
    return parser.parse_args()


def main() -> None:
    args = script_arguments(__doc__)
    compute(args.landing, args.reference, args.out, args.min_responses)


if __name__ == "__main__":
    main()
