"""Import speed at the stated size: 1M rows, external-ID dedup, both profiles of benchmarks/generate.py.

The current profile (7 mapped fields) and the business-list profile (8 fields and a status column,
a long tail of domains). Targets (issue 14): first load into SQLite <= 12 s, a re-import of the
same file (all unchanged) <= 10 s, into PostgreSQL <= 18 s, peak memory of a whole
`safeguard import` <= 300 MB. Run with `make bench` (or BENCH_ROWS=100000 for a quick look;
`-k business` or `-k current` for one profile).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from benchmarks.conftest import DATA
from benchmarks.generate import PROFILES, Profile, write
from benchmarks.setup_account import fresh_account, import_settings, new_job
from importer.pipeline import run_import
from service.domain.field_indexes import reconcile
from service.domain.segments import create_segment
from service.models import Account

NOTHING_LOST = ("created", "updated", "unchanged", "skipped", "merged_in_file", "rejected")
# Run a command and print the peak resident memory (KB) of it and its children (the worker too).
MEASURE = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
           "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


@pytest.fixture(scope="module", params=sorted(PROFILES))
def profile(request) -> Profile:  # type: ignore[no-untyped-def]
    return PROFILES[request.param]


@pytest.fixture(scope="module")
def profile_file(profile: Profile, bench_rows: int) -> Path:
    return write(profile.path(DATA, bench_rows), bench_rows, profile)


def _import(engine, account, path: Path, profile: Profile) -> dict:  # type: ignore[no-untyped-def]
    result = run_import(engine, account, import_settings(profile), path,
                        import_id=new_job(engine, account))
    report = result.report
    assert sum(report[k] for k in NOTHING_LOST) == report["rows"]
    return report


def _first_load(benchmark, url: str, path: Path, profile: Profile, rows: int) -> None:  # type: ignore[no-untyped-def]
    def setup():  # type: ignore[no-untyped-def]
        engine, account = fresh_account(url, profile)
        return (engine, account, path, profile), {}

    report = benchmark.pedantic(_import, setup=setup, rounds=1, iterations=1)
    assert report["rows"] == rows
    assert report["created"] > 0.95 * rows
    benchmark.extra_info["report"] = report


def test_first_load_sqlite(benchmark, sqlite_url, profile_file, profile, bench_rows):  # type: ignore[no-untyped-def]
    _first_load(benchmark, sqlite_url, profile_file, profile, bench_rows)


def test_first_load_postgres(benchmark, postgres_url, profile_file, profile, bench_rows):  # type: ignore[no-untyped-def]
    _first_load(benchmark, postgres_url, profile_file, profile, bench_rows)


# Segments that want two field indexes (segments/field_indexes.py), on fields of both profiles.
INDEXED_SEGMENTS = {
    "by city": {"field": "city", "op": "in", "value": ["Amsterdam", "Utrecht"]},
    "born in the seventies": {"field": "birth_date", "op": "between", "value": ["1970-01-01", "1979-12-31"]},
}


def _first_load_indexed(benchmark, url: str, path: Path, profile: Profile, rows: int) -> None:  # type: ignore[no-untyped-def]
    """A first load into an account whose saved segments have two fields indexed: what the
    indexes cost an import (compare with the plain first load of the same minutes)."""
    def setup():  # type: ignore[no-untyped-def]
        engine, account = fresh_account(url, profile)
        with Session(engine) as session:
            owner = session.get(Account, account.id)
            for name, rules in INDEXED_SEGMENTS.items():
                create_segment(session, account=owner, name=name, rules=rules)
        assert len(reconcile(engine).built) == 2
        return (engine, account, path, profile), {}

    report = benchmark.pedantic(_import, setup=setup, rounds=1, iterations=1)
    assert report["created"] > 0.95 * rows
    benchmark.extra_info["report"] = report


def test_first_load_with_field_indexes_sqlite(benchmark, sqlite_url, profile_file, profile, bench_rows):  # type: ignore[no-untyped-def]
    _first_load_indexed(benchmark, sqlite_url, profile_file, profile, bench_rows)


def test_first_load_with_field_indexes_postgres(benchmark, postgres_url, profile_file, profile, bench_rows):  # type: ignore[no-untyped-def]
    _first_load_indexed(benchmark, postgres_url, profile_file, profile, bench_rows)


def _reimport(benchmark, url: str, path: Path, profile: Profile) -> None:  # type: ignore[no-untyped-def]
    engine, account = fresh_account(url, profile)
    first = _import(engine, account, path, profile)
    report = benchmark.pedantic(_import, args=(engine, account, path, profile), rounds=1, iterations=1)
    assert report["unchanged"] == first["created"]
    assert report["created"] == report["updated"] == 0
    benchmark.extra_info["report"] = report


def test_reimport_unchanged_sqlite(benchmark, sqlite_url, profile_file, profile):  # type: ignore[no-untyped-def]
    _reimport(benchmark, sqlite_url, profile_file, profile)


def test_reimport_unchanged_postgres(benchmark, postgres_url, profile_file, profile):  # type: ignore[no-untyped-def]
    _reimport(benchmark, postgres_url, profile_file, profile)


def test_peak_memory_of_cli_import(benchmark, tmp_path, profile_file, profile, bench_rows):  # type: ignore[no-untyped-def]
    """The whole `safeguard import` process, file streamed: its peak resident memory."""
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    safeguard = [sys.executable, "-m", "service.cli"]
    subprocess.run([*safeguard, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([*safeguard, "accounts", "create", "bench", "--dedup", "external_id"], env=env,
                   check=True, capture_output=True)
    subprocess.run([*safeguard, "links", "create", "bench", "crm", "--label", "Customer number"],
                   env=env, check=True, capture_output=True)
    for name, type_ in profile.fields.items():
        subprocess.run([*safeguard, "fields", "create", "bench", name, type_], env=env, check=True,
                       capture_output=True)
    maps = [arg for column, field in profile.mapping.items() for arg in ("--map", f"{column}={field}")]

    command = [*safeguard, "import", str(profile_file), "--account", "bench", "--link", "crm",
               "--id-column", profile.id_column, *maps]
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
    assert peak_mb <= 300
