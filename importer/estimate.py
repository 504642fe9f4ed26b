"""How many rows a file has, about: for the progress bar while it is read (never for a count).

Ten preview rows say little about a file's average line (the first rows of an export are often
shorter or longer than the rest): the estimate counts the line ends in the first MiB of the
decompressed text instead, and scales that by the file's (decompressed) size. For a gzipped file
the size is its compressed size times the expansion seen in that first MiB.
"""

from __future__ import annotations

from importer.reading import FileFormat, Source, _Counting, _GzipOwning, _open_raw

ESTIMATE_SAMPLE = 1024 * 1024  # decompressed bytes whose line ends are counted


def estimate_rows(path: Source, fmt: FileFormat, size: int) -> int:
    """About how many data rows the file of `size` bytes (as stored) has; at least 1."""
    raw = _open_raw(path)
    counted = _Counting(raw)
    stream = _GzipOwning(fileobj=counted, mode="rb") if fmt.compressed else counted  # type: ignore[call-overload]
    try:
        sample = stream.read(ESTIMATE_SAMPLE)
    except (OSError, EOFError):
        sample = b""
    finally:
        stream.close()
    lines = sample.count(b"\n") or 1
    if len(sample) < ESTIMATE_SAMPLE:  # the whole file: its lines, counted
        total_lines = lines + (0 if sample.endswith(b"\n") else 1)
    else:
        text_size = size * len(sample) / counted.count if fmt.compressed and counted.count else size
        total_lines = round(text_size * lines / len(sample))
    return max(total_lines - (1 if fmt.has_header else 0) - (1 if fmt.sep_line else 0), 1)
