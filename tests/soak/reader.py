"""A BI tool polling the reporting database for as long as the soak runs.

Each poll opens the file read-only (a new connection each time, as a long-lived reader must to
see a new publication), and checks that every mart it holds is the version the same file's
health.mart_fingerprints records — rows, sum of row hashes and columns — so a file mixing two
publications, or holding half of one, is caught. One JSON line per poll goes to `out`.

    python -m tests.soak.reader <reporting.duckdb> <out.jsonl> <stop-file>
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

from quality.publish import FINGERPRINTS, HEALTH_SCHEMA, MARTS_SCHEMA, _fingerprint

POLL_S = 0.2


def check(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        recorded = con.execute(
            f"SELECT mart, row_count, fingerprint, columns FROM {HEALTH_SCHEMA}.{FINGERPRINTS}"
        ).fetchall()
        wrong = []
        for mart, rows, fingerprint, columns in recorded:
            if _fingerprint(con, f"{MARTS_SCHEMA}.{mart}") != (rows, fingerprint, columns):
                wrong.append(mart)
        version = hash(tuple(sorted((m, f) for m, _, f, _ in recorded)))
        return {"version": version, "marts": len(recorded), "wrong": wrong}
    finally:
        con.close()


def main(path: Path, out: Path, stop: Path) -> None:
    with out.open("a") as log:
        while not stop.exists():
            started = time.time()
            if path.exists():
                try:
                    line = check(path)
                except (duckdb.Error, OSError) as exc:
                    line = {"error": f"{type(exc).__name__}: {exc}"}
            else:
                line = {"absent": True}
            log.write(json.dumps({"at": started, **line}) + "\n")
            log.flush()
            time.sleep(POLL_S)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
