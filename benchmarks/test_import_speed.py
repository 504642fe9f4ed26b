"""Import speed at the stated size: 1M rows, external-ID dedup, 7 mapped fields.

Targets (issue 2): first load into SQLite <= 15 s, a re-import of the same file (all unchanged)
<= 20 s, into PostgreSQL <= 20 s, peak memory of a whole `safeguard import` <= 400 MB.
Run with `make bench` (or BENCH_ROWS=100000 for a quick look).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.setup_account import fresh_account, import_settings, new_job
from importer.pipeline import run_import

NOTHING_LOST = ("created", "updated", "unchanged", "skipped", "merged_in_file", "rejected")
# Run a command and print the peak resident memory (KB) of it and its children (the worker too).
MEASURE = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
           "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def _import(engine, account, path: Path) -> dict:  # type: ignore[no-untyped-def]
    result = run_import(engine, account, import_settings(), path,
                        import_id=new_job(engine, account))
    report = result.report
    assert sum(report[k] for k in NOTHING_LOST) == report["rows"]
    return report


def _first_load(benchmark, url: str, path: Path, rows: int) -> None:  # type: ignore[no-untyped-def]
    def setup():  # type: ignore[no-untyped-def]
        engine, account = fresh_account(url)
        return (engine, account, path), {}

    report = benchmark.pedantic(_import, setup=setup, rounds=1, iterations=1)
    assert report["rows"] == rows
    assert report["created"] > 0.95 * rows
    benchmark.extra_info["report"] = report


def test_first_load_sqlite(benchmark, sqlite_url, contacts_file, bench_rows):  # type: ignore[no-untyped-def]
    _first_load(benchmark, sqlite_url, contacts_file, bench_rows)


def test_first_load_postgres(benchmark, postgres_url, contacts_file, bench_rows):  # type: ignore[no-untyped-def]
    _first_load(benchmark, postgres_url, contacts_file, bench_rows)


def _reimport(benchmark, url: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, account = fresh_account(url)
    first = _import(engine, account, path)
    report = benchmark.pedantic(_import, args=(engine, account, path), rounds=1, iterations=1)
    assert report["unchanged"] == first["created"]
    assert report["created"] == report["updated"] == 0
    benchmark.extra_info["report"] = report


def test_reimport_unchanged_sqlite(benchmark, sqlite_url, contacts_file):  # type: ignore[no-untyped-def]
    _reimport(benchmark, sqlite_url, contacts_file)


def test_reimport_unchanged_postgres(benchmark, postgres_url, contacts_file):  # type: ignore[no-untyped-def]
    _reimport(benchmark, postgres_url, contacts_file)


def test_peak_memory_of_cli_import(benchmark, tmp_path, contacts_file, bench_rows):  # type: ignore[no-untyped-def]
    """The whole `safeguard import` process, file streamed: its peak resident memory."""
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    safeguard = [sys.executable, "-m", "service.cli"]
    subprocess.run([*safeguard, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([*safeguard, "accounts", "create", "bench", "--dedup", "external_id"], env=env,
                   check=True, capture_output=True)
    subprocess.run([*safeguard, "links", "create", "bench", "crm", "--label", "Customer number"],
                   env=env, check=True, capture_output=True)
    from benchmarks.generate import FIELDS, MAPPING

    for name, type_ in FIELDS.items():
        subprocess.run([*safeguard, "fields", "create", "bench", name, type_], env=env, check=True,
                       capture_output=True)
    maps = [arg for column, field in MAPPING.items() for arg in ("--map", f"{column}={field}")]

    command = [*safeguard, "import", str(contacts_file), "--account", "bench", "--link", "crm",
               "--id-column", "KlantNr", *maps]
    peak_kb = []

    def run() -> None:
        # Measured by a small launcher of its own: this process's other children (the row checkers
        # of the benchmarks before) were started while it held a million-row import in memory,
        # and a child's peak counts what it shared with its parent before it became a new program.
        launched = subprocess.run([sys.executable, "-c", MEASURE, *command], env=env, check=True,
                                  capture_output=True, text=True)
        peak_kb.append(int(launched.stdout.split()[-1]))

    benchmark.pedantic(run, rounds=1, iterations=1)
    peak_mb = peak_kb[0] / 1024
    benchmark.extra_info["peak_memory_mb"] = round(peak_mb)
    print(f"\npeak memory of safeguard import ({bench_rows} rows): {peak_mb:.0f} MB")
    assert peak_mb <= 400
