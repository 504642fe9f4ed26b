"""Benchmark fixtures: the generated contacts file and fresh databases (SQLite and PostgreSQL).

Sizes: BENCH_ROWS rows (default 1,000,000, the issue's stated size). The file's profile:
BENCH_PROFILE, `current` (default) or `business` (benchmarks/generate.py); the import benchmarks
run both. PostgreSQL comes from TEST_DATABASE_URL; each run works in a schema of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from benchmarks.generate import PROFILES, Profile, write

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def bench_rows() -> int:
    return int(os.environ.get("BENCH_ROWS", "1000000"))


@pytest.fixture(scope="session")
def bench_profile() -> Profile:
    return PROFILES[os.environ.get("BENCH_PROFILE", "current")]


@pytest.fixture(scope="session")
def contacts_file(bench_rows: int, bench_profile: Profile) -> Path:
    return write(bench_profile.path(DATA, bench_rows), bench_rows, bench_profile)


def _loaded_name(profile: Profile, rows: int) -> str:
    """The loaded database's name: the current profile's keeps the name it always had."""
    return f"{rows}" if profile.name == "current" else f"{profile.name}_{rows}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bench.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL benchmarks need TEST_DATABASE_URL")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


# --- a loaded account: the benchmark file imported once, kept for the send-list benchmarks -----------


@pytest.fixture(scope="session")
def loaded_sqlite(contacts_file: Path, bench_rows: int, bench_profile: Profile) -> str:
    """A SQLite database with the benchmark account loaded (made once, kept in benchmarks/data)."""
    from benchmarks.loaded import load_once

    path = DATA / f"loaded-{_loaded_name(bench_profile, bench_rows)}.db"
    return load_once(f"sqlite:///{path}", contacts_file, bench_rows, bench_profile)


@pytest.fixture(scope="session")
def loaded_postgres(contacts_file: Path, bench_rows: int, bench_profile: Profile) -> str:
    """A PostgreSQL schema with the benchmark account loaded (made once, kept between runs)."""
    from benchmarks.loaded import load_once

    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL benchmarks need TEST_DATABASE_URL")
    # BENCH_SCHEMA: a schema of one's own, for a branch whose migrations differ from main's.
    schema = os.environ.get("BENCH_SCHEMA") or f"bench_loaded_{_loaded_name(bench_profile, bench_rows)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    admin.dispose()
    separator = "&" if "?" in base else "?"
    return load_once(f"{base}{separator}options={quote(f'-csearch_path={schema}')}", contacts_file,
                     bench_rows, bench_profile)
