"""Read contact files: detect their format, preview them, and stream their records.

A contact file is CSV or TSV text, optionally gzip-compressed. `detect_format` looks at the first
64 KiB only and `read_rows` streams, so a file of any size is read in constant memory.

Every read is bounded by `ReadLimits` (carried by the FileFormat): the decompressed size, the
expansion of a compressed file (checked as it is decompressed, so a bomb is refused as soon as it
shows it), the rows (blank ones too: a file of blank lines ends at the limit like any other), the
columns, and a line's or record's length (a line is read in pieces of at most that length, so a
4 GiB line never sits in memory). Past one, LimitExceeded names the limit.

Row numbers in messages count records from 1, the header included, so they match the row numbers a
spreadsheet shows (a cell with a line break in it keeps a record on one row there, too).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import os
import re
import zlib
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, TypedDict, Unpack, runtime_checkable

from importer.aliases import suggest
from importer.said import foreign, grouped, message_of, said

SAMPLE_SIZE = 64 * 1024  # bytes of (decompressed) file that detection looks at
DELIMITERS = (",", ";", "\t", "|")
MAX_CELL_SIZE = 10 * 1024 * 1024  # characters; csv's default of 128 KiB is too small for notes fields

_SNIFF_RECORDS = 50  # records of the sample used to choose the delimiter and the header
_GZIP_MAGIC = b"\x1f\x8b"
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (a zip archive) and legacy .xls
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_SINGLE_BYTE = ("cp1252", "latin-1")  # what a file that is not UTF-8 (nor UTF-16) is read as
_MIXED = said("the file mixes encodings; save the whole file in one encoding (UTF-8) and import it again")
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)

# Control characters other than white space (\t \n \v \f \r); text files have next to none.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0e-\x1f]")

# Cells that only data has: numbers, dates, phone numbers, e-mail addresses. Used to tell a header
# row ("email", "geboortedatum") from a data row.
_NUMBER_OR_DATE = re.compile(r"[+-]?\(?[0-9][0-9 .,:/()+T-]*")

# Excel writes (and reads) a first line "sep=;" that names the delimiter; it is not a record.
_SEP_LINE = re.compile(r'\ufeff?"?sep=([^\r\n"])"?[ \t]*(?:\r\n|\n|\r)', re.IGNORECASE)

# The error handler `read_rows` uses to find the exact row of a decoding error (see _locate_undecodable).
# A lone surrogate cannot come out of decoding valid text, so it marks undecodable bytes unambiguously.
_MARK = "\udcff"
_MARK_ERRORS = "importer.reading.mark"


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    if isinstance(error, UnicodeDecodeError):
        return _MARK, error.end
    raise error


codecs.register_error(_MARK_ERRORS, _mark_undecodable)

# The limit is process-wide; raise it once, here, and never lower one that someone set higher.
if csv.field_size_limit() < MAX_CELL_SIZE:
    csv.field_size_limit(MAX_CELL_SIZE)


class FileUnreadable(Exception):
    """The file cannot be read as CSV/TSV text; the message says why, in words for the user."""


class LimitExceeded(FileUnreadable):
    """The file is over one of the ReadLimits; `limit` is the name of that ReadLimits field."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class ReadLimits:
    """How much of a file the importer reads at most; the defaults fit a 10-million-contact account
    (its file is 1 to 2 GB as text, and a gzipped contact file expands 5 to 10 times)."""

    max_file_bytes: int = 4 * 1024**3  # decompressed
    max_expansion: float = 100.0  # decompressed bytes per compressed byte read so far
    max_rows: int = 20_000_000  # records, blank ones included
    max_columns: int = 500
    max_line_chars: int = 1024 * 1024  # a line, and a record with line breaks in quoted cells


DEFAULT_LIMITS = ReadLimits()

# A compressed file expands this much before its ratio counts: a small file of repeated rows may
# well expand a hundredfold, and it is harmless.
EXPANSION_GRACE = 1024 * 1024


@dataclass(frozen=True)
class FileFormat:
    """How to read a file: its text encoding and delimiter, whether it has a header, whether it is gzipped."""

    encoding: str
    delimiter: str
    has_header: bool
    compressed: bool
    sep_line: bool = False  # Excel's "sep=;" first line: it named the delimiter and is no record
    limits: ReadLimits = field(default=DEFAULT_LIMITS, compare=False)  # how much of it is read at most


@dataclass(frozen=True)
class Inspection:
    """A preview of a file: its format, its column names and its first data rows (as read, not padded)."""

    format: FileFormat
    columns: list[str]
    sample_rows: list[list[str]]


class FormatOverrides(TypedDict, total=False):
    """The settings a user may give instead of having them detected."""

    encoding: str | None
    delimiter: str | None
    has_header: bool | None


@runtime_checkable
class Openable(Protocol):
    """A file kept elsewhere than on this disk (e.g. in the database), read as a fresh stream each time."""

    def open_binary(self) -> BinaryIO: ...


# A contact file: a path on this disk, or something that opens a stream of its bytes.
Source = str | os.PathLike[str] | Openable


def _open_raw(source: Source) -> BinaryIO:
    return source.open_binary() if isinstance(source, Openable) else open(source, "rb")


class _GzipOwning(gzip.GzipFile):
    """A GzipFile over a stream it was given, that closes that stream too."""

    def close(self) -> None:
        raw: BinaryIO | None = self.fileobj  # type: ignore[assignment]
        try:
            super().close()
        finally:
            if raw is not None:
                raw.close()


# --- detection ------------------------------------------------------------------------------------


def detect_format(
    path: Source,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    has_header: bool | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> FileFormat:
    """Detect how to read the file; given values win, the rest comes from its first 64 KiB.

    Raise FileUnreadable for an empty or binary file, an undecodable sample, or an invalid given value.
    """
    if delimiter is not None:
        _check_delimiter(delimiter)
    if encoding is not None:
        _check_encoding(encoding)
    sample, compressed, at_eof = _read_sample(path, limits)
    if not sample:
        raise FileUnreadable(said("the file is empty"))
    if sample.startswith(_WORKBOOK_MAGIC):
        raise FileUnreadable(
            said("this looks like a spreadsheet workbook or a zip archive, not CSV/TSV text; save it as CSV "
                 "first")
        )
    detected = encoding is None
    if encoding is None:
        encoding = _detect_encoding(sample, at_eof)
    elif sample.startswith(codecs.BOM_UTF8) and codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # otherwise the BOM would end up in the first column's name
    text = _decode_sample(sample, encoding, at_eof)
    if _looks_binary(text):
        raise FileUnreadable(said("this looks like a binary file, not CSV/TSV text"))
    if detected and encoding in _SINGLE_BYTE:
        _refuse_mixed_encodings(sample, at_eof)
    if at_eof and not text.strip().lstrip("\ufeff"):
        raise FileUnreadable(said("the file is empty"))
    if not at_eof:  # drop the line the sample cut in two (lines may end in CR only: old Excel for Mac)
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1] or text
    sep_line = _SEP_LINE.match(text)
    if sep_line:
        text = text[sep_line.end():]
        if delimiter is None and sep_line.group(1) not in '"\r\n':
            delimiter = sep_line.group(1)
    if delimiter is None:
        delimiter = _detect_delimiter(text)
    if has_header is None:
        has_header = _detect_header(_sniff_records(text, delimiter))
    return FileFormat(encoding=encoding, delimiter=delimiter, has_header=has_header, compressed=compressed,
                      sep_line=sep_line is not None, limits=limits)


def _check_delimiter(delimiter: str) -> None:
    if len(delimiter) != 1:
        raise FileUnreadable(said("the delimiter must be a single character, not %(delimiter)s",
                                  delimiter=repr(delimiter)))
    if delimiter in '"\r\n':
        raise FileUnreadable(said("%(delimiter)s cannot be used as the delimiter", delimiter=repr(delimiter)))


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
        # TextIOWrapper also rejects codecs that are not text encodings, such as rot13 and base64.
        io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    except LookupError:
        raise FileUnreadable(said("unknown encoding %(encoding)s", encoding=repr(encoding))) from None


def _read_sample(path: Source, limits: ReadLimits) -> tuple[bytes, bool, bool]:
    """Return the first SAMPLE_SIZE bytes of the (decompressed) file, whether it is gzipped, and whether
    the sample is the whole file."""
    with _open_raw(path) as file:
        compressed = file.read(2) == _GZIP_MAGIC  # by content: uploads lose or invent file names
    try:
        with _open_binary(path, compressed, limits) as stream:
            # One byte more than the sample tells whether the sample is the whole file.
            data = stream.read(SAMPLE_SIZE + 1)
    except _GZIP_ERRORS as error:
        raise FileUnreadable(said("the file looks gzip-compressed but cannot be decompressed: %(error)s",
                                  error=_damaged(error))) from None
    return data[:SAMPLE_SIZE], compressed, len(data) <= SAMPLE_SIZE


def _detect_encoding(sample: bytes, at_eof: bool) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    byte_order = _utf16_without_bom(sample)
    if byte_order is not None:
        return byte_order  # before UTF-8: UTF-16 text of ASCII characters is valid UTF-8, NULs and all
    try:
        # Incremental, so that a character the sample cut in two at its end is not a decoding error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=at_eof)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    if any(byte in sample for byte in _CP1252_UNDEFINED):
        return "latin-1"  # decodes every byte; Windows-1252 leaves these five undefined
    return "cp1252"


def _refuse_mixed_encodings(sample: bytes, at_eof: bool) -> None:
    """Refuse a sample that is not UTF-8 as a whole but has UTF-8 lines (a UTF-8 export with
    Windows-1252 rows pasted in): read as one encoding, one of the two would be stored as mojibake
    ("JÃ¶rg"), overwriting good names."""
    lines = re.split(rb"\r\n|\r|\n", sample)
    if not at_eof:
        lines = lines[:-1]  # the sample may have cut its last line (and a character) in two
    utf8 = other = None
    for number, line in enumerate(lines, 1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other = other or number
        else:
            utf8 = utf8 or number
        if utf8 and other:
            raise FileUnreadable(
                said("line %(utf8)s of the file is UTF-8 and line %(other)s is not (Windows-1252?): "
                     "%(advice)s", utf8=utf8, other=other, advice=_MIXED))


def _utf16_without_bom(sample: bytes) -> str | None:
    """Return "utf-16-le" or "utf-16-be" when NULs fill every other byte, as in UTF-16 Western text."""
    pairs = min(len(sample), 4096) // 2
    if not pairs:
        return None
    even_nuls = sample[0 : pairs * 2 : 2].count(0)
    odd_nuls = sample[1 : pairs * 2 : 2].count(0)
    # Not "all": characters beyond U+00FF (€, ‘’) have no NUL byte.
    if odd_nuls * 10 >= pairs * 9 and even_nuls * 10 <= pairs:
        return "utf-16-le"
    if even_nuls * 10 >= pairs * 9 and odd_nuls * 10 <= pairs:
        return "utf-16-be"
    return None


def _decode_sample(sample: bytes, encoding: str, at_eof: bool) -> str:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=at_eof)
    except UnicodeDecodeError as error:
        line = sample.count(b"\n", 0, max(error.start, 0)) + 1
        raise FileUnreadable(
            said("cannot decode the file as %(encoding)s: %(reason)s on line %(line)s; choose another "
                 "encoding", encoding=encoding, reason=_bad_bytes(error), line=line)
        ) from None


def _looks_binary(text: str) -> bool:
    """Tell whether decoded text is really binary data: NULs, or many other control characters."""
    if "\x00" in text:
        return True
    return len(_CONTROL_CHARACTER.findall(text)) * 100 > len(text)  # more than 1%


def _sniff_records(text: str, delimiter: str) -> list[list[str]]:
    """Parse the first non-blank records of the sample with this delimiter."""
    records: list[list[str]] = []
    try:
        # newline="": split lines at CR, LF and CRLF alike, as reading the file does.
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if record:
                records.append(record)
                if len(records) == _SNIFF_RECORDS:
                    break
    except csv.Error:
        pass  # what was parsed still counts; read_rows reports the error with its row
    return records


def _detect_delimiter(text: str) -> str:
    """Choose the delimiter that splits the sample's records most consistently into more than one column."""
    best, best_score = ",", (0.0, 0)
    for candidate in DELIMITERS:
        widths = [len(record) for record in _sniff_records(text, candidate)]
        if not widths:
            continue
        width, frequency = Counter(widths).most_common(1)[0]
        if width < 2:
            continue
        # Consistency first; on a tie the delimiter that gives more columns ("1,5;2,5" is 2 columns
        # by ";"), then the order of DELIMITERS.
        score = (frequency / len(widths), width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _looks_like_data(cell: str) -> bool:
    return "@" in cell or _NUMBER_OR_DATE.fullmatch(cell) is not None


def _detect_header(records: list[list[str]]) -> bool:
    """Guess whether the first record is a header; True when unsure."""
    rows = [[cell.strip() for cell in record] for record in records]
    if not rows:
        return True
    first, later = rows[0], rows[1:]
    if any(_looks_like_data(cell) for cell in first):
        return False
    names_only = all(first) and len(set(first)) == len(first)
    if not later:
        return names_only and all(len(cell) <= 64 and "\n" not in cell for cell in first)
    # Strong evidence: a column whose first cell is a name while most of its later cells are data.
    for at, title in enumerate(first):
        if not title:
            continue
        values = [row[at] for row in later if at < len(row) and row[at]]
        if values and sum(map(_looks_like_data, values)) * 2 >= len(values):
            return True
    # No evidence either way: a row of distinct names is taken for a header; one with blank or
    # repeated cells ("Jan,,Utrecht", "ja,ja") is more likely data.
    return names_only


# --- reading --------------------------------------------------------------------------------------


def read_rows(path: Source, fmt: FileFormat) -> Iterator[list[str]]:
    """Stream every record of the file as a list of cells, the header included.

    Cells are not trimmed and rows are not padded: a ragged row comes out as it is, and a blank line
    as []. Raise FileUnreadable, naming the row, for bytes the encoding cannot decode, a quoted field
    that never ends, a damaged gzip stream or another CSV error.
    """
    return _iter_records(path, fmt)


class _Counting:
    """A compressed stream as the decompressor reads it, counting the bytes it has read."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.count = raw, 0

    def read(self, size: int = -1, /) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        return data

    def close(self) -> None:
        self.raw.close()


class _Bounded(io.RawIOBase):
    """A file's (decompressed) bytes, refused with LimitExceeded past the size or expansion limit,
    checked at every read: a bomb stops as soon as it has expanded too much."""

    def __init__(self, inner: BinaryIO, limits: ReadLimits, compressed: _Counting | None) -> None:
        self._inner, self._limits, self._compressed, self._size = inner, limits, compressed, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._inner.readinto(buffer)  # type: ignore[attr-defined]
        self._size += n
        limits = self._limits
        if self._size > limits.max_file_bytes:
            size = _in_mb(limits.max_file_bytes)
            raise LimitExceeded(said("the file is larger than %(size)s when decompressed", size=size)
                                if self._compressed else said("the file is larger than %(size)s", size=size),
                                "max_file_bytes")
        if (self._compressed is not None and self._size > EXPANSION_GRACE
                and self._size > limits.max_expansion * self._compressed.count):
            raise LimitExceeded(
                said("the compressed file expands more than %(max_expansion)s times (a compressed contact "
                     "file expands 5 to 10 times): it looks like a compression bomb",
                     max_expansion=format(limits.max_expansion, "g")), "max_expansion")
        return int(n)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def _in_mb(size: int) -> str:
    return f"{size / 1024**2:,.0f} MB" if size >= 1024**2 else f"{size:,} bytes"


def _open_binary(path: Source, compressed: bool, limits: ReadLimits) -> BinaryIO:
    raw = _open_raw(path)
    if not compressed:
        return io.BufferedReader(_Bounded(raw, limits, None), 64 * 1024)
    counted = _Counting(raw)
    inner: BinaryIO = _GzipOwning(fileobj=counted, mode="rb")  # type: ignore[call-overload]
    return io.BufferedReader(_Bounded(inner, limits, counted), 64 * 1024)


def _open_text(path: Source, fmt: FileFormat, errors: str = "strict") -> io.TextIOWrapper:
    binary = _open_binary(path, fmt.compressed, fmt.limits)
    try:
        # newline="": the csv module handles line ends itself, also those inside quoted fields.
        return io.TextIOWrapper(binary, encoding=fmt.encoding, errors=errors, newline="")
    except LookupError:
        binary.close()
        raise FileUnreadable(said("unknown encoding %(encoding)s", encoding=repr(fmt.encoding))) from None


class _Lines:
    """The stream's lines for the csv module, each read in at most `max_chars` characters: a longer
    line, or a record whose lines together are longer, is LimitExceeded before it is in memory.
    `exhausted` turns true at the end of the stream; the reader resets `in_record` at each record."""

    def __init__(self, stream: io.TextIOWrapper, max_chars: int) -> None:
        self._readline, self._max = stream.readline, max_chars
        self.exhausted, self.in_record = False, 0

    def __iter__(self) -> Iterator[str]:
        readline, limit = self._readline, self._max + 1
        while line := readline(limit):
            self.in_record += len(line)
            if self.in_record > self._max:
                raise LimitExceeded(said("a line or row is longer than %(max)s characters",
                                         max=grouped(self._max)),
                                    "max_line_chars")
            yield line
        self.exhausted = True


def _iter_records(path: Source, fmt: FileFormat) -> Generator[list[str], None, None]:
    row = 0  # records yielded so far
    end_line = 0  # the line on which the last yielded record ended
    limits = fmt.limits
    # A single-byte encoding decodes anything, UTF-8 rows too (as mojibake): each row with
    # non-ASCII text is checked, since rows past the sample were never seen by detection.
    utf8_check = codecs.lookup(fmt.encoding).name in ("cp1252", "iso8859-1")
    try:
        with _open_text(path, fmt) as stream:
            lines = _Lines(stream, limits.max_line_chars)
            reader = csv.reader(lines, delimiter=fmt.delimiter)
            if fmt.sep_line:  # not a row: Excel does not show it either, so row 1 is the header
                next(reader, None)
                end_line = reader.line_num
            for record in reader:
                lines.in_record = 0
                if lines.exhausted:
                    # The csv module (not strict) only returns a record after its input ran out when a
                    # quoted field never closed: that field swallowed the rest of the file.
                    raise FileUnreadable(
                        said("row %(row)s (line %(end_line)s) has an unterminated quoted field",
                             row=row + 1, end_line=end_line + 1)
                    )
                row += 1
                if row > limits.max_rows:
                    raise LimitExceeded(said("the file has more than %(max_rows)s rows",
                                             max_rows=grouped(limits.max_rows)), "max_rows")
                if len(record) > limits.max_columns:
                    raise LimitExceeded(said("row %(row)s has %(columns)s columns; a file has at most "
                                             "%(max_columns)s",
                                             row=row, columns=grouped(len(record)),
                                             max_columns=grouped(limits.max_columns)), "max_columns")
                if utf8_check and not all(map(str.isascii, record)) and _reads_as_utf8(record, fmt.encoding):
                    raise FileUnreadable(
                        said("row %(row)s (line %(end_line)s) is UTF-8, but the file is read as "
                             "%(encoding)s: %(advice)s",
                             row=row, end_line=end_line + 1, encoding=fmt.encoding, advice=_MIXED))
                end_line = reader.line_num
                yield record
    except LimitExceeded as error:
        if error.limit != "max_line_chars":
            raise
        raise LimitExceeded(said("row %(row)s (line %(end_line)s): %(error)s",
                                 row=row + 1, end_line=end_line + 1, error=message_of(error)),
                            error.limit) from None
    except UnicodeDecodeError as error:
        raise _decoding_error(path, fmt, error) from None
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise FileUnreadable(
                said("row %(row)s (line %(end_line)s) has a cell of more than %(most)s characters; "
                     "usually a quote character that was never closed",
                     row=row + 1, end_line=end_line + 1, most=grouped(MAX_CELL_SIZE))
            ) from None
        raise FileUnreadable(said("row %(row)s (line %(end_line)s) cannot be read as CSV: %(error)s",
                                  row=row + 1, end_line=end_line + 1,
                                  error=foreign(str(error), "its quotes or delimiters do not add up"))
                             ) from None
    except _GZIP_ERRORS as error:
        raise FileUnreadable(
            said("the compressed file is damaged or truncated after row %(row)s: %(error)s",
                 row=row, error=_damaged(error))
        ) from None


def _reads_as_utf8(record: list[str], encoding: str) -> bool:
    """Whether the record's non-ASCII text, as decoded, was really UTF-8 (mojibake such as "JÃ¶rg")."""
    for cell in record:
        if cell.isascii():
            continue
        try:
            cell.encode(encoding).decode("utf-8")
        except UnicodeError:
            return False  # not UTF-8: one real character in this encoding is enough
        return True
    return False


def _bad_bytes(error: UnicodeDecodeError) -> str:
    """The codec's reason ("invalid continuation byte"), with its gist for other languages."""
    return foreign(error.reason, "an invalid byte sequence")


def _damaged(error: Exception) -> str:
    """The decompressor's own words (English), and a sentence for pages in another language."""
    return foreign(str(error), "the compressed data is damaged")


def _decoding_error(
    path: Source, fmt: FileFormat, error: UnicodeDecodeError
) -> FileUnreadable:
    where = _locate_undecodable(path, fmt)
    # The decoder works in chunks of several KiB, so the error surfaces some rows ahead of the bad
    # bytes; _locate_undecodable reads the file once more to name the right row.
    place = said("row %(row)s (line %(line)s)", row=where[0], line=where[1]) if where else said("the file")
    return FileUnreadable(
        said("cannot decode the file as %(encoding)s: %(place)s has bytes that are not valid %(encoding)s "
             "(%(reason)s); choose another encoding", encoding=fmt.encoding, place=place,
             reason=_bad_bytes(error))
    )


def _locate_undecodable(path: Source, fmt: FileFormat) -> tuple[int, int] | None:
    """Return the row and starting line of the first record with undecodable bytes."""
    try:
        with _open_text(path, fmt, errors=_MARK_ERRORS) as stream:
            reader = csv.reader(_Lines(stream, fmt.limits.max_line_chars), delimiter=fmt.delimiter)
            if fmt.sep_line:
                next(reader, None)
            end_line = reader.line_num
            for row, record in enumerate(reader, 1):
                if any(_MARK in cell for cell in record):
                    return row, end_line + 1
                end_line = reader.line_num
    except (csv.Error, UnicodeError, FileUnreadable, *_GZIP_ERRORS):
        pass
    return None


# --- preview and mapping --------------------------------------------------------------------------


def inspect_file(
    path: Source, *, sample_size: int = 10, limits: ReadLimits = DEFAULT_LIMITS,
    **overrides: Unpack[FormatOverrides]
) -> Inspection:
    """Detect the file's format and read its column names and first `sample_size` data rows.

    The header is the first non-blank record; blank lines are left out of the sample (and count
    toward the rows limit, so that a file of blank lines ends).
    """
    fmt = detect_format(path, limits=limits, **overrides)
    with closing(_iter_records(path, fmt)) as records:
        non_blank = (record for record in records if record)
        header = next(non_blank, []) if fmt.has_header else None
        sample_rows = list(itertools.islice(non_blank, sample_size))
    if header is None:
        header = [""] * max(map(len, sample_rows), default=0)  # named column_1, column_2, ...
    return Inspection(format=fmt, columns=column_names(header), sample_rows=sample_rows)


def column_names(header: Sequence[str]) -> list[str]:
    """Name the columns after the trimmed header cells, unique: "column_3" for a blank third cell,
    "email_2" for a second "email"."""
    names: list[str] = []
    taken: set[str] = set()
    for position, cell in enumerate(header, 1):
        base = cell.strip() or f"column_{position}"
        name, copy = base, 1
        while name in taken:
            copy += 1
            name = f"{base}_{copy}"
        taken.add(name)
        names.append(name)
    return names


def suggest_mapping(columns: list[str], field_names: Iterable[str]) -> dict[str, str]:
    """Suggest one of `field_names` (or email, status) for each column whose name is that field's or
    an alias of it ("E-mailadres", "Voornaam"), ignoring case, accents and punctuation; see
    importer/aliases.py. Columns without a match are left out."""
    return suggest(columns, dict.fromkeys(field_names)).mapping
