"""Unit tests for importer.reading: real files in tmp_path, no mocks."""

import codecs
import csv
import gzip
from pathlib import Path

import pytest

from importer.reading import (
    MAX_CELL_SIZE,
    SAMPLE_SIZE,
    FileFormat,
    FileUnreadable,
    Inspection,
    LimitExceeded,
    ReadLimits,
    column_names,
    detect_format,
    inspect_file,
    read_rows,
    suggest_mapping,
)

CONTACTS = "email,voornaam,achternaam\njan@example.nl,Jan,Jansen\npiet@example.nl,Piet,Pietersen\n"
CONTACT_ROWS = [
    ["email", "voornaam", "achternaam"],
    ["jan@example.nl", "Jan", "Jansen"],
    ["piet@example.nl", "Piet", "Pietersen"],
]
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154")


@pytest.fixture
def write(tmp_path: Path):
    """Write bytes (or UTF-8 text) to a file in tmp_path and return its path."""

    def write(data: bytes | str, name: str = "contacts.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    return write


def read_all(path: Path, **overrides) -> tuple[FileFormat, list[list[str]]]:
    fmt = detect_format(path, **overrides)
    return fmt, list(read_rows(path, fmt))


# --- encodings ------------------------------------------------------------------------------------


def test_utf8_without_bom(write):
    path = write("email;naam\njan@example.nl;Jérôme Müller\n".encode())
    fmt, rows = read_all(path)
    assert fmt == FileFormat(encoding="utf-8", delimiter=";", has_header=True, compressed=False)
    assert rows == [["email", "naam"], ["jan@example.nl", "Jérôme Müller"]]


def test_utf8_with_bom_drops_the_bom(write):
    path = write(codecs.BOM_UTF8 + "email,naam\njan@example.nl,Jérôme\n".encode())
    fmt, rows = read_all(path)
    assert fmt.encoding == "utf-8-sig"
    assert rows[0] == ["email", "naam"]  # not "\ufeffemail"
    assert rows[1] == ["jan@example.nl", "Jérôme"]


def test_given_utf8_on_a_file_with_bom_still_drops_the_bom(write):
    path = write(codecs.BOM_UTF8 + b"email,naam\njan@example.nl,Jan\n")
    fmt, rows = read_all(path, encoding="utf-8")
    assert fmt.encoding == "utf-8-sig"
    assert rows[0] == ["email", "naam"]


def test_utf16_with_bom(write):
    path = write("email\tnaam\njan@example.nl\tJérôme €\n".encode("utf-16"))
    fmt, rows = read_all(path)
    assert fmt.encoding == "utf-16"
    assert fmt.delimiter == "\t"
    assert rows == [["email", "naam"], ["jan@example.nl", "Jérôme €"]]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(write, encoding):
    path = write("email;naam\njan@example.nl;Jérôme\npiet@example.nl;Piet\n".encode(encoding))
    fmt, rows = read_all(path)
    assert fmt.encoding == encoding
    assert fmt.delimiter == ";"
    assert rows[1] == ["jan@example.nl", "Jérôme"]


def test_windows_1252(write):
    path = write("naam;achternaam;bedrag\nJérôme;Müller;€ 12,50\n".encode("cp1252"))
    fmt, rows = read_all(path)
    assert fmt.encoding == "cp1252"
    assert rows == [["naam", "achternaam", "bedrag"], ["Jérôme", "Müller", "€ 12,50"]]


def test_latin1_when_bytes_undefined_in_cp1252_occur(write):
    # 0x90 is undefined in Windows-1252, so only Latin-1 can decode this file.
    path = write(b"naam,code\nJ\xe9r\xf4me,\x90x\n")
    fmt, rows = read_all(path)
    assert fmt.encoding == "latin-1"
    assert rows[1] == ["Jérôme", "\x90x"]


def test_multibyte_character_cut_by_the_sample_is_still_utf8(write):
    header = b"naam\n"
    filler = b"x" * (SAMPLE_SIZE - len(header) - 2) + b"\n"  # so that "é" starts at the last sample byte
    path = write(header + filler + "é\n".encode() + b"y\n" * 10)
    assert (header + filler + "é".encode())[SAMPLE_SIZE - 1 : SAMPLE_SIZE + 1] == "é".encode()
    fmt, rows = read_all(path)
    assert fmt.encoding == "utf-8"
    assert rows[2] == ["é"]


def test_given_encoding_wins(write):
    path = write("naam\nJérôme\n".encode("cp1252"))
    fmt, rows = read_all(path, encoding="latin-1")
    assert fmt.encoding == "latin-1"
    assert rows[1] == ["Jérôme"]


def test_a_given_single_byte_encoding_that_would_store_mojibake_is_refused(write):
    path = write("naam\nJérôme\n".encode())  # UTF-8: as latin-1 it would read "JÃ©rÃ´me"
    fmt = detect_format(path, encoding="latin-1")
    with pytest.raises(FileUnreadable, match=r"row 2 \(line 2\) is UTF-8, but the file is read as latin-1"):
        list(read_rows(path, fmt))


def test_utf8_rows_then_windows_1252_rows_are_refused_naming_the_lines(write):
    path = write("naam\nJörg\n".encode() + "Jérôme\n".encode("cp1252"))
    with pytest.raises(FileUnreadable, match="line 2 of the file is UTF-8 and line 3 is not .* mixes"):
        detect_format(path)


def test_windows_1252_then_utf8_rows_past_the_sample_are_refused_naming_the_row(write):
    line = "Jérôme;1\n".encode("cp1252")
    count = SAMPLE_SIZE // len(line) + 10
    path = write(b"naam;nr\n" + line * count + "Jörg;2\n".encode())
    fmt = detect_format(path)
    assert fmt.encoding == "cp1252"
    with pytest.raises(FileUnreadable, match=rf"row {count + 2} \(line {count + 2}\) is UTF-8"):
        list(read_rows(path, fmt))


def test_given_encoding_that_cannot_decode_the_sample(write):
    path = write("naam\nJérôme\n".encode("cp1252"))
    with pytest.raises(FileUnreadable, match="cannot decode the file as utf-8: .* on line 2"):
        detect_format(path, encoding="utf-8")


@pytest.mark.parametrize("encoding", ["no-such-encoding", "rot13", "base64", ""])
def test_unknown_encoding(write, encoding):
    path = write(CONTACTS)
    with pytest.raises(FileUnreadable, match="unknown encoding"):
        detect_format(path, encoding=encoding)


def test_decoding_error_after_the_sample_names_its_row(write):
    lines = [f"u{i}@example.nl,Naam {i}\n" for i in range(20_000)]
    lines[5000] = "u5000@example.nl,J\xe9r\xf4me\n"  # Windows-1252 bytes in a UTF-8 file
    data = b"email,naam\n" + b"".join(line.encode("latin-1") for line in lines)
    assert data.index(b"\xe9") > SAMPLE_SIZE
    path = write(data)
    fmt = detect_format(path)
    assert fmt.encoding == "utf-8"
    read: list[list[str]] = []
    with pytest.raises(FileUnreadable) as error:
        for row in read_rows(path, fmt):
            read.append(row)
    # Row 1 is the header, so lines[5000] is row 5002.
    assert str(error.value).startswith("cannot decode the file as utf-8: row 5002 (line 5002) ")
    assert "choose another encoding" in str(error.value)
    assert len(read) <= 5001
    assert read[1000] == ["u999@example.nl", "Naam 999"]


# --- compression ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["contacts.csv.gz", "contacts.csv", "upload"])
def test_gzip_is_recognised_by_content(write, name):
    path = write(gzip.compress(CONTACTS.encode()), name)
    fmt, rows = read_all(path)
    assert fmt.compressed is True
    assert rows == CONTACT_ROWS


def test_gz_name_without_gzip_content(write):
    path = write(CONTACTS, "contacts.csv.gz")
    fmt, rows = read_all(path)
    assert fmt.compressed is False
    assert rows == CONTACT_ROWS


def test_gzipped_utf16_semicolons(write):
    text = "E-mailadres;Naam\njan@example.nl;Jérôme\n"
    path = write(gzip.compress(text.encode("utf-16")), "export.csv.gz")
    fmt, rows = read_all(path)
    assert fmt == FileFormat(encoding="utf-16", delimiter=";", has_header=True, compressed=True)
    assert rows == [["E-mailadres", "Naam"], ["jan@example.nl", "Jérôme"]]


def test_truncated_gzip_fails_while_reading(write):
    text = "email,naam\n" + "".join(f"u{i}@example.nl,Naam {i} {i * 7919 % 1000}\n" for i in range(50_000))
    compressed = gzip.compress(text.encode())
    path = write(compressed[: len(compressed) * 2 // 3])
    fmt = detect_format(path)  # the first 64 KiB decompress fine
    assert fmt.compressed
    with pytest.raises(FileUnreadable, match="damaged or truncated after row [0-9]+"):
        for _ in read_rows(path, fmt):
            pass


def test_damaged_gzip_header(write):
    path = write(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(FileUnreadable, match="cannot be decompressed"):
        detect_format(path)


def test_empty_gzip(write):
    path = write(gzip.compress(b""))
    with pytest.raises(FileUnreadable, match="the file is empty"):
        detect_format(path)


# --- delimiters and quoting -----------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_detected(write, delimiter):
    rows = [
        ["email", "naam", "plaats"],
        ["jan@example.nl", "Jan", "Utrecht"],
        ["piet@example.nl", "Piet", "Den Haag"],
    ]
    path = write("".join(delimiter.join(row) + "\n" for row in rows))
    fmt, read = read_all(path)
    assert fmt.delimiter == delimiter
    assert read == rows


def test_quoted_fields_with_delimiters_and_newlines(write):
    text = (
        "email,notitie,plaats\n"
        'jan@example.nl,"regel 1\nregel 2, met komma",Utrecht\n'
        'piet@example.nl,"zegt ""hallo""; ook | hier",Den Haag\n'
    )
    path = write(text)
    fmt, rows = read_all(path)
    assert fmt.delimiter == ","
    assert rows[1] == ["jan@example.nl", "regel 1\nregel 2, met komma", "Utrecht"]
    assert rows[2] == ["piet@example.nl", 'zegt "hallo"; ook | hier', "Den Haag"]
    assert len(rows) == 3


def test_semicolons_win_over_commas_inside_quotes(write):
    text = (
        "naam;adres;email\n"
        '"Jansen, Jan";"Straat 1, Utrecht";jan@example.nl\n'
        '"Bakker, Piet";"Laan 2, Ede";piet@example.nl\n'
    )
    fmt, rows = read_all(write(text))
    assert fmt.delimiter == ";"
    assert rows[1] == ["Jansen, Jan", "Straat 1, Utrecht", "jan@example.nl"]


def test_decimal_commas_do_not_fool_delimiter_detection(write):
    # Dutch Excel: ";" between cells, "," in every number.
    text = "naam;bedrag;korting\nJan;12,50;1,5\nPiet;3,75;0,25\nKees;100,00;2,5\n"
    fmt = detect_format(write(text))
    assert fmt.delimiter == ";"


def test_crlf_line_ends(write):
    fmt, rows = read_all(write(CONTACTS.replace("\n", "\r\n")))
    assert rows == CONTACT_ROWS


def test_cr_only_line_ends_of_old_excel_for_mac(write):
    text = "email;voornaam;achternaam\rjan@example.nl;Jan;Jansen\rpiet@example.nl;Piet;Pietersen\r"
    fmt, rows = read_all(write(text.encode("cp1252")))
    assert (fmt.delimiter, fmt.has_header) == (";", True)
    assert rows == CONTACT_ROWS


def test_cr_only_line_ends_past_the_sample(write):
    line = "jan@example.nl;Jan;Jansen\r"
    text = "email;voornaam;achternaam\r" + line * (SAMPLE_SIZE // len(line) + 10)
    fmt, rows = read_all(write(text))
    assert fmt.delimiter == ";"
    assert len(rows) == SAMPLE_SIZE // len(line) + 11 and rows[-1] == CONTACT_ROWS[1]


@pytest.mark.parametrize("sep_line", ["sep=;\r\n", "sep=;\n", '"sep=;"\r\n', "SEP=;\r\n"])
def test_excels_sep_line_sets_the_delimiter_and_is_skipped(write, sep_line):
    text = sep_line + CONTACTS.replace(",", ";").replace("\n", "\r\n")
    fmt, rows = read_all(write(text))
    assert (fmt.delimiter, fmt.has_header) == (";", True)
    assert rows == CONTACT_ROWS
    inspection = inspect_file(write(text))
    assert inspection.columns == CONTACT_ROWS[0]
    assert inspection.sample_rows == CONTACT_ROWS[1:]


def test_a_sep_line_with_a_bom_and_a_given_delimiter(write):
    text = codecs.BOM_UTF8 + ("sep=,\n" + CONTACTS).encode()
    fmt, rows = read_all(write(text), delimiter=",")
    assert rows == CONTACT_ROWS


def test_row_numbers_after_a_sep_line_count_from_the_header(write):
    # Excel does not show the sep= line: the header is row 1 there, and so in our messages.
    path = write('sep=;\nemail;naam\njan@example.nl;Jan\npiet@example.nl;"Piet\n')
    fmt = detect_format(path)
    with pytest.raises(FileUnreadable, match=r"row 3 \(line 4\) has an unterminated quoted field"):
        list(read_rows(path, fmt))


def test_one_column_file_gets_a_comma(write):
    fmt, rows = read_all(write("email\njan@example.nl\npiet@example.nl\n"))
    assert fmt.delimiter == ","
    assert fmt.has_header is True
    assert rows == [["email"], ["jan@example.nl"], ["piet@example.nl"]]


def test_given_delimiter_wins(write):
    fmt, rows = read_all(write(CONTACTS), delimiter=";")
    assert fmt.delimiter == ";"
    assert rows[1] == ["jan@example.nl,Jan,Jansen"]


@pytest.mark.parametrize("delimiter", ["", ";;", "\n", '"'])
def test_invalid_delimiter(write, delimiter):
    with pytest.raises(FileUnreadable, match="delimiter"):
        detect_format(write(CONTACTS), delimiter=delimiter)


def test_ragged_rows_are_yielded_as_they_are(write):
    text = (
        "email,naam,plaats\njan@example.nl,Jan\npiet@example.nl,Piet,Ede,extra\nkees@example.nl,Kees,Zeist\n"
    )
    fmt, rows = read_all(write(text))
    assert fmt.delimiter == ","
    assert [len(row) for row in rows] == [3, 2, 4, 3]
    assert rows[2] == ["piet@example.nl", "Piet", "Ede", "extra"]


def test_blank_lines_are_yielded_as_empty_records(write):
    _, rows = read_all(write(CONTACTS + "\n\n"))
    assert rows == [*CONTACT_ROWS, [], []]


def test_unterminated_quote(write):
    text = 'email,naam\na@example.nl,Ann\nb@example.nl,Bob\nc@example.nl,"Cor\nd@example.nl,Dirk\n'
    path = write(text)
    fmt = detect_format(path)
    read: list[list[str]] = []
    with pytest.raises(FileUnreadable) as error:
        for row in read_rows(path, fmt):
            read.append(row)
    assert str(error.value) == "row 4 (line 4) has an unterminated quoted field"
    assert read == [["email", "naam"], ["a@example.nl", "Ann"], ["b@example.nl", "Bob"]]


def test_unterminated_quote_counts_rows_not_lines(write):
    text = 'email,notitie\na@example.nl,"twee\nregels"\nb@example.nl,"open\n'
    path = write(text)
    with pytest.raises(FileUnreadable, match=r"^row 3 \(line 4\) has an unterminated quoted field$"):
        list(read_rows(path, detect_format(path)))


def test_quoted_last_field_without_final_newline_is_fine(write):
    path = write('email,notitie\na@example.nl,"twee\nregels"')
    assert list(read_rows(path, detect_format(path)))[-1] == ["a@example.nl", "twee\nregels"]


def test_large_cells_are_read(write):
    note = "x" * 1_000_000  # far beyond csv's default limit of 131072 characters
    path = write(f'email,notitie\njan@example.nl,"{note}"\n')
    fmt, rows = read_all(path)
    assert rows[1][1] == note
    assert csv.field_size_limit() >= MAX_CELL_SIZE


def test_read_rows_streams(write):
    path = write(CONTACTS)
    rows = read_rows(path, detect_format(path))
    assert not isinstance(rows, list)
    assert next(rows) == CONTACT_ROWS[0]
    assert next(rows) == CONTACT_ROWS[1]


# --- unreadable files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"  \n\r\n\t\n", codecs.BOM_UTF8 + b"\n\n"],
    ids=["empty", "utf8-bom-only", "utf16-bom-only", "white-space", "bom-and-blank-lines"],
)
def test_empty_files(write, data):
    with pytest.raises(FileUnreadable, match="^the file is empty$"):
        detect_format(write(data))


def test_binary_file(write):
    with pytest.raises(FileUnreadable, match="^this looks like a binary file, not CSV/TSV text$"):
        detect_format(write(PNG, "contacts.csv"))


def test_nul_bytes_in_utf8_text(write):
    with pytest.raises(FileUnreadable, match="binary file"):
        detect_format(write(b"email,naam\njan@example.nl,J\x00an\n"))


def test_control_characters(write):
    with pytest.raises(FileUnreadable, match="binary file"):
        detect_format(write(bytes(range(1, 32)) * 20))


def test_excel_workbook(write):
    with pytest.raises(FileUnreadable, match="spreadsheet workbook .* save it as CSV"):
        detect_format(write(b"PK\x03\x04\x14\x00\x06\x00" + b"[Content_Types].xml" * 10, "contacts.xlsx"))


# --- header detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "has_header"),
    [
        (CONTACTS, True),
        ("jan@example.nl,Jan,Jansen\npiet@example.nl,Piet,Pietersen\n", False),
        ("naam,geboortedatum\nJan,31-12-1999\nPiet,01-02-2000\n", True),
        ("Jan,31-12-1999\nPiet,01-02-2000\n", False),
        ("klantnummer;naam\n1001;Jan\n1002;Piet\n", True),
        ("1001;Jan\n1002;Piet\n", False),
        ("naam,woonplaats\nJan,Utrecht\nPiet,Ede\n", True),  # unsure: a header
        ("Jan,,Utrecht\nPiet,Jansen,Ede\n", False),  # a blank cell: data
        ("ja,ja\nnee,ja\n", False),  # repeated cells: data
        ("email,email\na@example.nl,b@example.nl\n", True),  # repeated, but data below
        ("naam,,email\nJan,x,jan@example.nl\n", True),  # a blank title, but data below
        ("email,naam\n", True),  # a single row of names
        ("jan@example.nl,Jan\n", False),
        ("Jan,Jan\n", False),
    ],
)
def test_header_detection(write, text, has_header):
    assert detect_format(write(text)).has_header is has_header


def test_given_has_header_wins(write):
    assert detect_format(write(CONTACTS), has_header=False).has_header is False
    assert detect_format(write("jan@example.nl,Jan\n"), has_header=True).has_header is True


# --- inspect_file ---------------------------------------------------------------------------------


def test_inspect_file_with_header(write):
    rows = "".join(f"u{i}@example.nl;Naam {i}\n" for i in range(25))
    path = write(" E-mail ;Naam\n" + rows)
    inspection = inspect_file(path)
    assert isinstance(inspection, Inspection)
    assert inspection.format.delimiter == ";"
    assert inspection.columns == ["E-mail", "Naam"]
    assert len(inspection.sample_rows) == 10
    assert inspection.sample_rows[0] == ["u0@example.nl", "Naam 0"]
    assert inspection.sample_rows[9] == ["u9@example.nl", "Naam 9"]


def test_inspect_file_sample_size(write):
    inspection = inspect_file(write(CONTACTS), sample_size=1)
    assert inspection.sample_rows == [CONTACT_ROWS[1]]


def test_inspect_file_without_header_names_columns_after_the_widest_row(write):
    path = write("jan@example.nl,Jan\npiet@example.nl,Piet,Ede,extra\nkees@example.nl\n")
    inspection = inspect_file(path)
    assert inspection.format.has_header is False
    assert inspection.columns == ["column_1", "column_2", "column_3", "column_4"]
    assert inspection.sample_rows[1] == ["piet@example.nl", "Piet", "Ede", "extra"]  # not padded
    assert inspection.sample_rows[2] == ["kees@example.nl"]


def test_inspect_file_names_blank_and_repeated_header_cells(write):
    inspection = inspect_file(write("email,,email,Naam\na@example.nl,x,b@example.nl,Ann\n"))
    assert inspection.columns == ["email", "column_2", "email_2", "Naam"]


def test_inspect_file_overrides(write):
    inspection = inspect_file(write(CONTACTS), has_header=False, delimiter=";", sample_size=5)
    assert inspection.format.has_header is False
    assert inspection.format.delimiter == ";"
    assert inspection.columns == ["column_1"]
    assert inspection.sample_rows[0] == ["email,voornaam,achternaam"]


def test_inspect_file_skips_blank_lines(write):
    inspection = inspect_file(write("\n" + CONTACTS.replace("\n", "\n\n")))
    assert inspection.columns == ["email", "voornaam", "achternaam"]
    assert inspection.sample_rows == CONTACT_ROWS[1:]


def test_inspect_file_reports_unreadable_files(write):
    with pytest.raises(FileUnreadable, match="empty"):
        inspect_file(write(b""))


# --- column_names and suggest_mapping -------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "names"),
    [
        (["email", "naam"], ["email", "naam"]),
        ([" email ", "\tnaam"], ["email", "naam"]),
        (["email", "", "naam", "  "], ["email", "column_2", "naam", "column_4"]),
        (["email", "email", "email"], ["email", "email_2", "email_3"]),
        (["email", "email_2", "email"], ["email", "email_2", "email_3"]),
        (["column_2", ""], ["column_2", "column_2_2"]),
        (["Email", "email"], ["Email", "email"]),
        ([], []),
    ],
)
def test_column_names(header, names):
    assert column_names(header) == names


@pytest.mark.parametrize(
    "column",
    ["email", "Email", "E-mail", "E-mailadres", "emailadres", "mail", "Email address", "E-Mail Address"],
)
def test_suggest_mapping_recognises_email_headers(column):
    assert suggest_mapping([column, "Naam"], []) == {column: "email"}


def test_suggest_mapping_matches_names_ignoring_case_and_punctuation():
    columns = ["E-mail", "Voor naam", "ACHTERNAAM", "Status", "geboorte_datum", "Opmerking"]
    fields = ["email", "voornaam", "achternaam", "geboortedatum", "status", "klantnummer"]
    assert suggest_mapping(columns, fields) == {
        "E-mail": "email",
        "Voor naam": "voornaam",
        "ACHTERNAAM": "achternaam",
        "Status": "status",
        "geboorte_datum": "geboortedatum",
    }


def test_suggest_mapping_gives_each_field_one_column():
    # The exact match wins over an earlier alias; a second exact match is left unmapped.
    assert suggest_mapping(["mail", "Email", "e-mail"], ["email"]) == {"Email": "email"}
    assert suggest_mapping(["mail", "emailadres"], ["email"]) == {"mail": "email"}


def test_suggest_mapping_keeps_the_field_names_spelling():
    assert suggest_mapping(["klant nr", "x"], ["Klant_Nr"]) == {"klant nr": "Klant_Nr"}


def test_suggest_mapping_without_matches():
    assert suggest_mapping(["a", "b", ""], ["voornaam"]) == {}


# --- limits ---------------------------------------------------------------------------------------


def _limit_of(path: Path, limits: ReadLimits) -> str:
    """Read the whole file within `limits`; the name of the limit that stopped it."""
    with pytest.raises(LimitExceeded) as refused:
        fmt = detect_format(path, limits=limits)
        for _ in read_rows(path, fmt):
            pass
    return refused.value.limit


def test_a_row_of_many_short_lines_is_held_to_the_line_limit(write):
    # Quoted cells with line breaks: every line is short, the record is not.
    path = write("email,notes\r\n" + 'a@example.nl,"' + "x\r\n" * 5_000 + '"\r\n')
    assert _limit_of(path, ReadLimits(max_line_chars=10_000)) == "max_line_chars"
    assert len(read_all(path)[1]) == 2  # within the default limit it is read


def test_blank_lines_count_toward_the_rows_limit(write):
    path = write("email\r\n" + "\r\n" * 200 + "a@example.nl\r\n")
    assert _limit_of(path, ReadLimits(max_rows=100)) == "max_rows"


def test_columns_past_the_limit_are_refused(write):
    path = write(",".join(f"c{i}" for i in range(30)) + "\r\n")
    assert _limit_of(path, ReadLimits(max_columns=20)) == "max_columns"


def test_the_size_limit_holds_for_plain_and_compressed_files(write):
    text = "email\r\n" + "".join(f"person{i}@example.nl\r\n" for i in range(20_000))
    limits = ReadLimits(max_file_bytes=100_000)
    assert _limit_of(write(text), limits) == "max_file_bytes"
    assert _limit_of(write(gzip.compress(text.encode()), "c.csv.gz"), limits) == "max_file_bytes"


def test_a_small_file_may_expand_much_but_a_large_one_not(write):
    small = "email\r\n" + "a@example.nl\r\n" * 50_000  # 700 KB: under the grace, harmless
    assert len(read_all(write(gzip.compress(small.encode()), "s.csv.gz"))[1]) == 50_001
    large = "email\r\n" + "a@example.nl\r\n" * 500_000  # 7 MB that compress a hundredfold and more
    assert _limit_of(write(gzip.compress(large.encode()), "l.csv.gz"), ReadLimits()) == "max_expansion"
