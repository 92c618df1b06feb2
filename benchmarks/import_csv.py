"""Benchmark: import 100,000 customers (1% malformed) into SQLite, then re-import them.

Prints rows/s for the first import and the re-import, the re-import/first-import time
ratio, and both against a baseline that only reads the file with `csv.reader`::

    python benchmarks/import_csv.py            # 100,000 rows
    python benchmarks/import_csv.py 20000      # fewer rows
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from pathlib import Path

from callflow.store import make_engine, upgrade
from callflow.store.csv_import import ImportReport, import_customers, import_staff

TIERS = ("vip", "gold", "silver", "standard")
ZONES = ("Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong")
BAD_CELLS = {"phone": "12ab", "timezone": "Mars/Olympus", "value": "lots", "tier": "V I P"}


def write_files(directory: Path, rows: int, seed: int = 7) -> tuple[Path, Path]:
    """Write staff.csv (20 people) and customers.csv (*rows* rows, 1% malformed)."""
    rng = random.Random(seed)
    staff = directory / "staff.csv"
    with staff.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "device", "groups"])
        for n in range(20):
            writer.writerow([f"agent{n}", f"Agent {n}", f"PJSIP/{1000 + n}", "sales;service"])
    customers = directory / "customers.csv"
    with customers.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["phone", "name", "tier", "value", "manager", "region", "language", "timezone", "tags"]
        )
        for n in range(rows):
            phones = f"139{n:08d}" + (f";010{n % 10_000_000:08d}" if n % 10 == 0 else "")
            row = {
                "phone": phones,
                "name": f'Customer {n} "{rng.choice(["Li", "Wang", "Zhang"])}"',
                "tier": rng.choice(TIERS),
                "value": f"{rng.uniform(0, 100_000):.2f}",
                "manager": f"agent{n % 20}" if n % 3 == 0 else "",
                "region": rng.choice(["Beijing", "Shanghai", "Guangdong"]),
                "language": "zh-CN",
                "timezone": rng.choice(ZONES),
                "tags": ";".join(rng.sample(["suv", "fleet", "upgrade-likely", "new"], 2)),
            }
            if n % 100 == 50:  # 1% malformed, each in one column
                column = rng.choice(list(BAD_CELLS))
                row[column] = BAD_CELLS[column]
            writer.writerow(row.values())
    return staff, customers


def baseline(path: Path) -> float:
    """Seconds to read *path* with csv.reader and touch every cell: the floor for any import."""
    start = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as handle:
        cells = sum(len(row) for row in csv.reader(handle))
    assert cells
    return time.perf_counter() - start


def timed_import(url: str, path: Path) -> tuple[float, ImportReport]:
    engine = make_engine(url)
    start = time.perf_counter()
    report = import_customers(engine, path, default_region="CN")
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, report


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cf-bench-") as tmp:
        directory = Path(tmp)
        staff, customers = write_files(directory, rows)
        url = f"sqlite:///{directory / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        import_staff(engine, staff)
        engine.dispose()

        floor = baseline(customers)
        first, report1 = timed_import(url, customers)
        second, report2 = timed_import(url, customers)

        print(f"rows: {rows:,} ({len(report1.errors):,} malformed)")
        for label, seconds in (
            ("baseline csv.reader pass", floor),
            ("first import", first),
            ("re-import", second),
        ):
            print(
                f"{label + ':':26}{seconds:8.3f} s {rows / seconds:12,.0f} rows/s "
                f"({seconds / floor:5.1f}x baseline)"
            )
        print(f"re-import / first import: {second / first:.2f}")
        print(f"first:  {report1}")
        print(f"second: {report2}")
        assert report1.updated == 0 and report2.inserted == 0 and report2.updated == 0
        assert report2.unchanged == report1.inserted


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
