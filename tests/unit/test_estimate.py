"""The row estimate of the progress bar: within 10% of the real count on the benchmark file
(it said "of about 381,752" for 300,000 rows), gzipped too, and exact for a small file."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from benchmarks.generate import write
from importer.estimate import estimate_rows
from importer.reading import inspect_file

ROWS = 300_000


@pytest.fixture(scope="module")
def benchmark_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("estimate") / "contacts.csv", ROWS)


def _estimate(path: Path) -> int:
    return estimate_rows(path, inspect_file(path).format, path.stat().st_size)


def test_the_benchmark_file_is_estimated_within_ten_percent(benchmark_file: Path) -> None:
    assert abs(_estimate(benchmark_file) - ROWS) <= 0.1 * ROWS


def test_a_gzipped_benchmark_file_is_estimated_within_ten_percent(benchmark_file: Path) -> None:
    packed = benchmark_file.with_suffix(".csv.gz")
    with benchmark_file.open("rb") as plain, gzip.open(packed, "wb", compresslevel=1) as out:
        shutil.copyfileobj(plain, out)
    assert abs(_estimate(packed) - ROWS) <= 0.1 * ROWS


def test_a_small_file_is_counted(tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    small.write_text("email;name\n" + "".join(f"a{i}@example.com;A {i}\n" for i in range(7)))
    assert _estimate(small) == 7
    small.write_text("email;name\r\na@example.com;A\r\nb@example.com;B")  # no line end at the end
    assert _estimate(small) == 2
