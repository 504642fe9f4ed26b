"""`safeguard events import ACCOUNT FILE`: a bounce file applied through the events' domain function,
in batches, with the invalid rows named by line; run with click's CliRunner on both databases."""

from __future__ import annotations

import re

from mailing_helpers import make_account
from sqlalchemy import text

ROWS = [["A1", "shared@example.nl", "", "", "", ""], ["A2", "shared@example.nl", "", "", "", ""],
        ["B1", "bob@example.nl", "", "", "", ""], ["C1", "carl@example.nl", "", "", "", ""]]


def _statuses(engine, account) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, status FROM contacts WHERE account_id = :a"),
                                 {"a": account.id}).all())
    return {crm: rows[i] for crm, i in account.ids.items()}


def _summary(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^\s+(\w+)\s+(\d+)$", output, re.MULTILINE)}


def test_a_bounce_file_is_applied_and_its_invalid_rows_named_by_line(cli, make_tenant, import_rows, engine,
                                                                     tmp_path):
    account = make_account(make_tenant, import_rows, engine, ROWS)
    path = tmp_path / "bounces.csv"
    path.write_text(
        "\ufefftype,address,contact,event_id,occurred_at,detail\r\n"
        "hard_bounce,SHARED@example.nl,,b-1,2026-11-30T10:00:00Z,\"550 5.1.1\r\nno such user\"\r\n"  # 2-3
        f"unsubscribe,,{account['C1']},u-1,,\r\n"                                   # line 4
        "\r\n"                                                                      # line 5, blank
        "bounce,bob@example.nl,,x-1,,\r\n"                                          # line 6, invalid
        "hard_bounce,bob@example.nl,,b-1,,\r\n"                                     # line 7, duplicate
        "complaint,nobody@example.nl,,c-1,,\r\n"                                    # line 8, unknown
        "unsubscribe,,abc,u-2,,\r\n"                                                # line 9, invalid
        "soft_bounce,bob@example.nl,,s-1,tomorrow,\r\n",                            # line 10, invalid
        encoding="utf-8")
    result = cli("events", "import", account.tenant.name, str(path))
    assert result.exit_code == 0, result.output
    assert _summary(result.stdout) == {"applied": 2, "duplicate": 1, "unknown_contact": 1, "invalid": 3}
    assert re.findall(r"^line (\d+): ", result.stderr, re.MULTILINE) == ["6", "9", "10"]
    assert "type must be one of" in result.stderr
    assert _statuses(engine, account) == {"A1": "bounced", "A2": "bounced", "B1": "active",
                                          "C1": "unsubscribed"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT detail FROM contact_events WHERE event_id = 'b-1'")
                            ).scalar_one() == "550 5.1.1\r\nno such user"

    again = cli("events", "import", account.tenant.name, str(path))
    assert _summary(again.stdout) == {"applied": 0, "duplicate": 3, "unknown_contact": 1, "invalid": 3}


def test_a_large_file_goes_in_batches_with_the_right_line_numbers(cli, make_tenant, import_rows, engine,
                                                                  tmp_path):
    account = make_account(make_tenant, import_rows, engine, ROWS)
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("type;contact;event_id\n")
        for n in range(10_003):
            out.write(f"soft_bounce;{account['B1']};s{n}\n")
        out.write("bounce;1;bad\n")  # line 10,005, in the second batch
    result = cli("events", "import", account.tenant.name, str(path), "--delimiter", ";")
    assert result.exit_code == 0, result.output
    assert _summary(result.stdout) == {"applied": 10_003, "duplicate": 0, "unknown_contact": 0, "invalid": 1}
    assert result.stderr.splitlines()[-1].startswith("line 10005: ")
    assert _statuses(engine, account)["B1"] == "bounced"


def test_a_file_without_the_columns_or_account_is_refused(cli, make_tenant, import_rows, engine, tmp_path):
    account = make_account(make_tenant, import_rows, engine, ROWS)
    path = tmp_path / "wrong.csv"
    path.write_text("kind,email\nhard_bounce,bob@example.nl\n", encoding="utf-8")
    result = cli("events", "import", account.tenant.name, str(path))
    assert result.exit_code == 1
    assert "header must name a type column" in result.stderr
    assert cli("events", "import", "nobody", str(path)).exit_code == 1
    assert _statuses(engine, account)["B1"] == "active"
