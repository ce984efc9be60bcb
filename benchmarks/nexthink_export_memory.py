"""Peak memory of `xmo pull nexthink` through the NQL export API, at two estate sizes.

    python benchmarks/nexthink_export_memory.py [--sizes 20000 200000]

For each size it starts the local Nexthink stand-in (tests/fakes/nexthink.py: the API on one
port of 127.0.0.1, the results-file host on another) serving a generated gzip results file of
that many devices, runs the pull of one day in a fresh Python process (method `export`), and
reports the child's peak resident set size (`ru_maxrss` from `os.wait4`, i.e. getrusage of that
child alone), its peak before the pull started (imports done), and the rows landed. The pull
streams the file to disk and from disk to the landing file row by row, so the peak should not
grow with the estate: compare the two sizes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DAY = date(2026, 3, 3)
HEADERS = [
    "device.name",
    "employee_id",
    "device.hardware.type",
    "device.hardware.model",
    "device.operating_system.name",
    "boot_duration_s",
    "logon_duration_s",
    "app_crashes",
    "app_freezes",
    "system_crashes",
    "cpu_saturation_pct",
    "memory_saturation_pct",
    "disk_free_pct",
    "battery_health_pct",
    "network_latency_ms",
]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def results_file(devices: int) -> tuple[bytes, int]:
    """A gzip CSV export of `devices` rows (one per device), and its uncompressed size."""
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
        text = io.TextIOWrapper(packed, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(HEADERS)
        for n in range(1, devices + 1):
            laptop = n % 4 != 0
            writer.writerow(
                [
                    f"D{n:07d}",
                    f"E{n:07d}",
                    "laptop" if laptop else "desktop",
                    "Latitude 7440" if laptop else "OptiPlex 7010",
                    "Windows 11 Pro 23H2",
                    round(30 + (n % 97) * 0.37, 2),
                    round(8 + (n % 53) * 0.21, 2),
                    n % 3,
                    n % 2,
                    0,
                    round((n % 89) * 0.9, 1),
                    round((n % 71) * 1.1, 1),
                    round(10 + (n % 80), 1),
                    round(60 + (n % 40), 1) if laptop else "",
                    10 + n % 120,
                ]
            )
        text.flush()
        uncompressed = packed.tell()  # in write mode: the uncompressed bytes written
        text.detach()
    return raw.getvalue(), uncompressed


def child(args: argparse.Namespace) -> int:
    """The pull itself, in its own process: prints what it landed and its own peak RSS."""
    from ingestion.nexthink import NexthinkClient, pull_device_days, settings_from_env

    settings = settings_from_env(
        {
            "XMO_NEXTHINK_URL": args.url,
            "XMO_NEXTHINK_TOKEN_URL": args.token_url,
            "XMO_NEXTHINK_CLIENT_ID": os.environ["XMO_NEXTHINK_CLIENT_ID"],
            "XMO_NEXTHINK_CLIENT_SECRET": os.environ["XMO_NEXTHINK_CLIENT_SECRET"],
            "XMO_NEXTHINK_METHOD": "export",
        }
    )
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    client = NexthinkClient.from_settings(settings)
    started = time.perf_counter()
    try:
        result = pull_device_days(client, Path(args.landing), DAY, method=settings.method)
    finally:
        client.close()
    say(
        json.dumps(
            {
                "rows": result.rows,
                "method": result.method,
                "landed_bytes": result.file.stat().st_size,
                "seconds": round(time.perf_counter() - started, 2),
                "before_pull_kib": before_kib,
            }
        )
    )
    return 0


def measure(devices: int) -> dict[str, object]:
    from tests.fakes.nexthink import FakeFileHost, FakeNexthink

    content, uncompressed = results_file(devices)
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        with (
            FakeFileHost() as host,
            FakeNexthink(
                HEADERS, [], file_host=host, results_file=content, export_pending=["SUBMITTED"]
            ) as fake,
        ):
            env = {
                **os.environ,
                "XMO_NEXTHINK_CLIENT_ID": fake.client_id,
                "XMO_NEXTHINK_CLIENT_SECRET": fake.client_secret,
                "PYTHONPATH": str(ROOT),
            }
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                "--url",
                fake.url,
                "--token-url",
                fake.token_url,
                "--landing",
                str(landing),
            ]
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
            assert process.stdout is not None
            out = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                raise SystemExit(f"the pull of {devices} devices failed ({process.returncode})")
            reported = json.loads(out.strip().splitlines()[-1])
            authorization = [
                r for r in host.requests if "authorization" in {h.lower() for h in r["headers"]}
            ]
            assert not authorization, "the token reached the results-file host"
    return {
        "devices": devices,
        "results_file_gzip_bytes": len(content),
        "results_file_csv_bytes": uncompressed,
        "rows_landed": reported["rows"],
        "landed_bytes": reported["landed_bytes"],
        "method": reported["method"],
        "pull_seconds": reported["seconds"],
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB
        "rss_before_pull_mib": round(reported["before_pull_kib"] / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token-url", help=argparse.SUPPRESS)
    parser.add_argument("--landing", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    results = [measure(devices) for devices in args.sizes]
    say(
        f"{'devices':>9} {'gzip MiB':>9} {'CSV MiB':>8} {'rows landed':>12} {'seconds':>8} "
        f"{'RSS before pull MiB':>20} {'peak RSS MiB':>13}"
    )
    for r in results:
        say(
            f"{r['devices']:>9,} {r['results_file_gzip_bytes'] / 2**20:>9.1f} "
            f"{r['results_file_csv_bytes'] / 2**20:>8.1f} {r['rows_landed']:>12,} "
            f"{r['pull_seconds']:>8} {r['rss_before_pull_mib']:>20} {r['peak_rss_mib']:>13}"
        )
    say(json.dumps(results))
    bad = [r for r in results if r["rows_landed"] != r["devices"]]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
