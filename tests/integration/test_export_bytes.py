"""The export's bytes are the csv module's over spreadsheet-safe cells, on both databases: with
more than one chunk of plain rows (csv_lines' fast path) and hostile ones (quotes, delimiters,
formula starts, unicode), for every delimiter, with and without a byte-order mark."""

from __future__ import annotations

import csv
import io

import pytest

from service.domain.contact_export import export_rows
from service.downloads import BOM, ROWS_PER_CHUNK
from service.spreadsheet import spreadsheet_safe

HOSTILE = ['a"b', "x,y", "p;q", "=1+1", "+31", "-2", "@SUM(A1)", "Zoë 日本 😀", "'quoted'", ""]
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "nr"},
          "mapping": {"email": "email", "first_name": "first_name", "points": "points"}}


@pytest.fixture
def many(make_tenant, import_ok):  # type: ignore[no-untyped-def]
    tenant = make_tenant("export_bytes", "external_id", links={"crm": None},
                         fields={"first_name": "text", "points": "number"})
    rows = [[f"K{n}", f"p{n}@example.nl", f"Name {n}", str(n)] for n in range(ROWS_PER_CHUNK + 20)]
    rows += [[f"H{n}", f"h{n}@example.nl", value, "-5" if n % 2 else "2,5"]
             for n, value in enumerate(HOSTILE)]
    rows += [["+K", "-minus@example.nl", "plain", "7"]]  # a formula start in the ID and the address
    import_ok(tenant, [["nr", "email", "first_name", "points"], *rows], {"has_header": True, "delimiter": ",",
                                                                        **BY_CRM})
    return tenant


def _reference(engine, account_id: int, delimiter: str, bom: bool) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    buffer.write(BOM if bom else "")
    csv.writer(buffer, delimiter=delimiter).writerows(
        [[spreadsheet_safe(cell) for cell in row] for row in export_rows(engine, account_id)])
    return buffer.getvalue().encode("utf-8")


DIALECTS = [("", ",", False), ("?delimiter=;&bom=true", ";", True), ("?delimiter=tab", "\t", False)]


@pytest.mark.parametrize(("query", "delimiter", "bom"), DIALECTS)
def test_the_export_is_the_csv_modules_text_byte_for_byte(client, engine, many, query, delimiter, bom):
    response = client.get(f"/api/v1/contacts/export{query}", headers=many.auth())
    assert response.status_code == 200
    expected = _reference(engine, many.id, delimiter, bom)
    assert response.data == expected
    text = expected.decode("utf-8").removeprefix(BOM)
    assert text.count("\r\n") == ROWS_PER_CHUNK + 20 + len(HOSTILE) + 2  # every row, the header too
    assert '"a""b"' in text and "'@SUM(A1)" in text and "Zoë 日本 😀" in text and "'-minus@example.nl" in text
