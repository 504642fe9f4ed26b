"""Row validation through the HTTP API: every rejection reason with its row number and detail, the
rejected-rows CSV, trimming, padding, and that a rejected row changes nothing."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

FIELDS = {"first_name": "text", "amount": "number", "member": "boolean", "birthday": "date"}
HEADER = ["email", "first_name", "amount", "member", "birthday", "status"]
MAPPING = {column: column for column in HEADER}


def library_message(address: str) -> str:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    raise AssertionError(f"{address} is valid")


def test_every_row_problem_with_its_row_number_and_detail(make_tenant, import_ok, rejected_rows,
                                                          contacts_of):
    tenant = make_tenant(fields=FIELDS)
    rows = [
        HEADER,                                                                          # 1
        ["  Sanne@Example.nl ", "  Sanne ", " 12,5 ", " ja ", " 31-12-1999 ", " Active "],  # 2
        ["x@example.nl", "X", "1", "ja", "", "", "surplus"],                             # 3 malformed
        ["short@example.nl", "Short"],                                                   # 4 padded
        ["trail@example.nl", "Trail", "", "", "", "", "", "  "],                         # 5 empty extras
        ["", "Nomail", "1", "", "", ""],                                                 # 6 missing_key
        ["jan@@example.nl", "Jan", "", "", "", ""],                                      # 7 invalid_email
        ["multi@example.nl", "line one\nline two", "", "nee", "", ""],                   # 8 newline cell
        ["num@example.nl", "Num", "twaalf", "", "", ""],                                 # 9 number
        ["bool@example.nl", "Bool", "", "misschien", "", ""],                            # 10 boolean
        ["date@example.nl", "Date", "", "", "31-02-2020", ""],                           # 11 date
        ["stat@example.nl", "Stat", "", "", "", "deleted"],                              # 12 status
        ["unsub@example.nl", "Unsub", "", "", "", "Unsubscribed"],                       # 13
        ["bounce@example.nl", "Bounce", "", "", "", "bounced"],                          # 14
        ["two@example.nl", "Two", "1,2,3", "", "1999-13-01", ""],                        # 15 two problems
        ["=HYPERLINK(\"http://x\")", "-2+3", "", "", "", ""],                            # 16 formula
    ]
    job = import_ok(tenant, rows, {"mapping": MAPPING})
    report = job["report"]
    assert report == {"rows": 15, "created": 6, "created_shared_address": 0, "updated": 0, "unchanged": 0,
                      "skipped": 0, "merged_in_file": 0, "rejected": 9,
                      "rejected_by_reason": {"invalid_email": 2, "invalid_value": 5, "malformed_row": 1,
                                             "missing_key": 1}, "status_kept": 0}

    header, rejected = rejected_rows(tenant, job["id"])
    assert header == ["row", "reason", "detail", *HEADER]
    assert [(r[0], r[1]) for r in rejected] == [
        ("3", "malformed_row"), ("6", "missing_key"), ("7", "invalid_email"), ("9", "invalid_value"),
        ("10", "invalid_value"), ("11", "invalid_value"), ("12", "invalid_value"), ("15", "invalid_value"),
        ("16", "invalid_email"),
    ]
    details = {int(r[0]): r[2] for r in rejected}
    assert "7" in details[3] and "6" in details[3]  # the cells of the row against the header's columns
    assert details[6] == "no value in column 'email'"
    assert details[7] == library_message("jan@@example.nl")
    assert details[9].startswith("column 'amount': ") and "twaalf" in details[9]
    assert details[10].startswith("column 'member': ") and "misschien" in details[10]
    assert details[11].startswith("column 'birthday': ") and "31-02-2020" in details[11]
    assert details[12].startswith("column 'status': ") and "deleted" in details[12]
    assert "column 'amount'" in details[15] and "column 'birthday'" in details[15]
    assert details[16] == library_message('=HYPERLINK("http://x")')
    # The rejected rows as they were read, untrimmed, and safe to open in a spreadsheet.
    by_row = {int(r[0]): r[3:] for r in rejected}
    assert by_row[3] == ["x@example.nl", "X", "1", "ja", "", "", "surplus"]
    assert by_row[16] == ["'=HYPERLINK(\"http://x\")", "'-2+3", "", "", "", ""]
    assert by_row[9] == rows[8]

    contacts = {c["email"]: c for c in contacts_of(tenant.id)}
    assert set(contacts) == {"Sanne@example.nl", "short@example.nl", "trail@example.nl",
                             "multi@example.nl", "unsub@example.nl", "bounce@example.nl"}
    sanne = contacts["Sanne@example.nl"]
    assert sanne["address_key"] == "sanne@example.nl"
    assert sanne["status"] == "active"
    assert sanne["attributes"] == {"first_name": "Sanne", "amount": 12.5, "member": True,
                                   "birthday": "1999-12-31"}
    assert contacts["short@example.nl"]["attributes"] == {"first_name": "Short"}
    assert contacts["multi@example.nl"]["attributes"] == {"first_name": "line one\nline two",
                                                          "member": False}
    assert contacts["unsub@example.nl"]["status"] == "unsubscribed"
    assert contacts["bounce@example.nl"]["status"] == "bounced"


def test_row_numbers_count_blank_lines_as_a_spreadsheet_does(make_tenant, import_ok, rejected_rows,
                                                             contacts_of):
    tenant = make_tenant(fields={"first_name": "text"})
    content = (b"email,first_name\r\n"          # 1
               b"an@example.nl,An\r\n"          # 2
               b"\r\n"                          # 3 blank
               b"bad,Bo\r\n"                    # 4
               b",\r\n"                         # 5 only empty cells: a blank row, too
               b"cor@example.nl,\"C\r\no\"\r\n"  # 6 (one row, two lines)
               b"\r\n"                          # 7 blank
               b"worse,Dirk\r\n")               # 8
    job = import_ok(tenant, content, {"mapping": {"email": "email", "first_name": "first_name"}})
    assert job["report"]["rows"] == 4  # blank rows are not data
    assert job["report"]["created"] == 2
    _, rejected = rejected_rows(tenant, job["id"])
    assert [(r[0], r[1]) for r in rejected] == [("4", "invalid_email"), ("8", "invalid_email")]
    assert len(contacts_of(tenant.id)) == 2


def test_a_header_after_blank_lines(make_tenant, import_ok, rejected_rows, contacts_of):
    # The header is the first non-blank row, as the preview shows it; it is not imported as data.
    tenant = make_tenant(fields={"first_name": "text"})
    content = b"\r\n\r\nemail,first_name\r\nan@example.nl,An\r\nbad,Bo\r\n"
    job = import_ok(tenant, content, {"mapping": {"email": "email", "first_name": "first_name"}})
    assert job["report"]["rows"] == 2
    assert job["report"]["created"] == 1
    _, rejected = rejected_rows(tenant, job["id"])
    assert [(r[0], r[1]) for r in rejected] == [("5", "invalid_email")]
    assert [c["email"] for c in contacts_of(tenant.id)] == ["an@example.nl"]


def test_external_id_rows_missing_key_invalid_id_and_missing_email(make_tenant, import_ok, rejected_rows,
                                                                   contacts_of):
    tenant = make_tenant("shop", "external_id", links={"crm": "[0-9]{4}"}, fields={"first_name": "text"})
    rows = [
        ["KlantNr", "email", "first_name"],
        ["1001", "a@example.nl", "Anna\nMaria"],   # 2, a cell with a newline
        ["", "b@example.nl", "Bert"],               # 3 missing_key
        ["AB12", "c@example.nl", "Cees"],           # 4 invalid_external_id
        ["1002", "", "Dirk"],                       # 5 missing_email (a new contact needs an address)
        [" 1003 ", " E@Example.nl ", "Eva"],        # 6 trimmed
        ["10041", "f@example.nl", "Fien"],          # 7 the pattern must match fully
    ]
    match = {"by": "external_id", "link": "crm", "column": "KlantNr"}
    job = import_ok(tenant, rows, {"match": match, "mapping": {"email": "email", "first_name": "first_name"}})
    assert job["report"]["created"] == 2
    assert job["report"]["rejected_by_reason"] == {"invalid_external_id": 2, "missing_email": 1,
                                                   "missing_key": 1}
    _, rejected = rejected_rows(tenant, job["id"])
    assert [(r[0], r[1]) for r in rejected] == [
        ("3", "missing_key"), ("4", "invalid_external_id"), ("5", "missing_email"),
        ("7", "invalid_external_id")]
    details = {r[0]: r[2] for r in rejected}
    assert details["3"] == "no value in column 'KlantNr'"
    assert "'AB12'" in details["4"]
    assert "address" in details["5"]
    assert [r[3:] for r in rejected if r[0] == "5"] == [["1002", "", "Dirk"]]
    stored = {c["ids"]["crm"]: c for c in contacts_of(tenant.id)}
    assert set(stored) == {"1001", "1003"}
    assert stored["1003"]["email"] == "E@example.nl"

    # An existing contact's row needs no address: the ID finds it.
    again = import_ok(tenant, [["KlantNr", "email", "first_name"], ["1001", "", "Anna"]],
                      {"match": match, "mapping": {"email": "email", "first_name": "first_name"}})
    assert again["report"]["updated"] == 1
    assert contacts_of(tenant.id)[0]["attributes"] == {"first_name": "Anna"}
    assert contacts_of(tenant.id)[0]["email"] == "a@example.nl"


def test_plan_rejections_keep_their_row_numbers(make_tenant, import_ok, rejected_rows, contacts_of):
    # address_conflict and id_conflict in an email account matched by ID; numbered after a newline cell.
    tenant = make_tenant(links={"crm": None}, fields={"notes": "text"})
    match = {"by": "external_id", "link": "crm", "column": "id"}
    mapping = {"email": "email", "notes": "notes"}
    import_ok(tenant, [["id", "email", "notes"], ["1001", "a@example.nl", ""], ["1002", "b@example.nl", ""]],
              {"match": match, "mapping": mapping})
    import_ok(tenant, [["email"], ["c@example.nl"]], {"mapping": {"email": "email"}})
    before = contacts_of(tenant.id)

    rows = [
        ["id", "email", "notes"],
        ["1005", "new@example.nl", "first\nsecond\nthird"],  # 2 create
        ["1001", "b@example.nl", "x"],                       # 3 address_conflict: b is 1002's
        ["1003", "a@example.nl", "y"],                       # 4 id_conflict: a has ID 1001
        ["1004", "c@example.nl", "z"],                       # 5 attaches 1004 to c
    ]
    job = import_ok(tenant, rows, {"match": match, "mapping": mapping})
    assert job["report"]["created"] == 1
    assert job["report"]["updated"] == 1
    assert job["report"]["rejected_by_reason"] == {"address_conflict": 1, "id_conflict": 1}
    _, rejected = rejected_rows(tenant, job["id"])
    assert [(r[0], r[1]) for r in rejected] == [("3", "address_conflict"), ("4", "id_conflict")]
    assert [r[3:] for r in rejected] == [rows[2], rows[3]]
    after = {c["email"]: c for c in contacts_of(tenant.id)}
    assert after["a@example.nl"]["ids"] == {"crm": "1001"}
    assert after["a@example.nl"]["attributes"] == before[0]["attributes"]
    assert after["b@example.nl"]["ids"] == {"crm": "1002"}
    assert after["c@example.nl"]["ids"] == {"crm": "1004"}
    assert after["new@example.nl"]["ids"] == {"crm": "1005"}


def test_ambiguous_address_when_matching_by_email_in_an_external_id_account(make_tenant, import_ok,
                                                                             rejected_rows, contacts_of):
    tenant = make_tenant("club", "external_id", links={"crm": None}, fields={"first_name": "text"})
    import_ok(tenant, [["nr", "email"], ["1", "fam@example.nl"], ["2", "fam@example.nl"],
                       ["3", "solo@example.nl"]],
              {"match": {"by": "external_id", "link": "crm", "column": "nr"}, "mapping": {"email": "email"}})
    before = contacts_of(tenant.id)
    rows = [["email", "first_name"], ["solo@example.nl", "Solo"], ["Fam@example.nl", "Fam"],
            ["fam@example.nl", "Fam2"]]
    job = import_ok(tenant, rows, {"mapping": {"email": "email", "first_name": "first_name"}})
    # The two rows of one address are merged, and the merged group is rejected: both rows count.
    assert job["report"]["updated"] == 1
    assert job["report"]["rejected_by_reason"] == {"ambiguous_address": 2}
    _, rejected = rejected_rows(tenant, job["id"])
    assert [(r[0], r[1]) for r in rejected] == [("3", "ambiguous_address"), ("4", "ambiguous_address")]
    after = contacts_of(tenant.id)
    assert [c["attributes"] for c in after] == [{}, {}, {"first_name": "Solo"}]
    assert [c["updated_at"] for c in after[:2]] == [c["updated_at"] for c in before[:2]]


def test_a_rejected_row_changes_nothing_and_takes_no_part_in_a_merge(make_tenant, import_ok,
                                                                     rejected_rows, contacts_of):
    tenant = make_tenant(fields=FIELDS)
    import_ok(tenant, [["email", "first_name", "amount"], ["an@example.nl", "An", "5"]],
              {"mapping": {"email": "email", "first_name": "first_name", "amount": "amount"}})
    before = contacts_of(tenant.id)

    rows = [
        ["email", "first_name", "amount", "status"],
        ["an@example.nl", "Changed", "abc", "unsubscribed"],  # 2 rejected: nothing of it is applied
        ["bo@example.nl", "Bo", "1", ""],                      # 3 created
        ["bo@example.nl", "Bob", "1,2,3", "bounced"],          # 4 rejected: not merged into row 3
        ["cor@example.nl", "Cor", "", "nope"],                 # 5 rejected
        ["cor@example.nl", "Cor", "7", ""],                    # 6 created, alone
    ]
    job = import_ok(tenant, rows, {"mapping": {c: c for c in rows[0]}})
    assert job["report"]["merged_in_file"] == 0
    assert job["report"]["created"] == 2
    assert job["report"]["rejected"] == 3
    _, rejected = rejected_rows(tenant, job["id"])
    assert [r[0] for r in rejected] == ["2", "4", "5"]
    after = {c["email"]: c for c in contacts_of(tenant.id)}
    assert after["an@example.nl"] == before[0]
    assert after["bo@example.nl"]["attributes"] == {"first_name": "Bo", "amount": 1}
    assert after["bo@example.nl"]["status"] == "active"
    assert after["cor@example.nl"]["attributes"] == {"first_name": "Cor", "amount": 7}


def test_valid_rows_of_one_key_merge_in_file_order(make_tenant, import_ok, contacts_of):
    tenant = make_tenant(fields=FIELDS)
    rows = [["email", "first_name", "amount", "member"],
            ["an@example.nl", "An", "1", ""],
            [" AN@example.nl", "", "2", "ja"],
            ["an@example.nl", "Anne", "", ""]]
    job = import_ok(tenant, rows, {"mapping": {c: c for c in rows[0]}})
    assert job["report"]["created"] == 1
    assert job["report"]["merged_in_file"] == 2
    contact = contacts_of(tenant.id)[0]
    assert contact["attributes"] == {"first_name": "Anne", "amount": 2, "member": True}
    assert contact["address_key"] == "an@example.nl"


@pytest.mark.parametrize(("date_format", "cell", "stored"), [
    ("%m/%d/%Y", "12/31/1999", "1999-12-31"),
    ("%d.%m.%y", "31.12.99", "1999-12-31"),
    ("%Y%m%d", "20030201", "2003-02-01"),
])
def test_date_format_setting(date_format, cell, stored, make_tenant, import_ok, rejected_rows,
                             contacts_of):
    tenant = make_tenant(fields={"birthday": "date"})
    rows = [["email", "birthday"], ["an@example.nl", cell], ["bo@example.nl", "31-12-1999"]]
    job = import_ok(tenant, rows, {"mapping": {"email": "email", "birthday": "birthday"},
                                   "date_format": date_format})
    assert contacts_of(tenant.id)[0]["attributes"] == {"birthday": stored}
    # With a date_format, other spellings are not guessed at.
    _, rejected = rejected_rows(tenant, job["id"])
    assert [(r[0], r[1]) for r in rejected] == [("3", "invalid_value")]
    assert "column 'birthday'" in rejected[0][2] and date_format in rejected[0][2]


def test_day_first_dates_without_date_format(make_tenant, import_ok, rejected_rows, contacts_of):
    tenant = make_tenant(fields={"birthday": "date"})
    rows = [["email", "birthday"], ["a@example.nl", "31-12-1999"], ["b@example.nl", "31/12/1999"],
            ["c@example.nl", "1999-12-31"], ["d@example.nl", "12/31/1999"], ["e@example.nl", "gisteren"]]
    job = import_ok(tenant, rows, {"mapping": {"email": "email", "birthday": "birthday"}})
    assert [c["attributes"]["birthday"] for c in contacts_of(tenant.id)] == ["1999-12-31"] * 3
    _, rejected = rejected_rows(tenant, job["id"])
    # Day-first: 12/31/1999 has no 31st month.
    assert [(r[0], r[1]) for r in rejected] == [("5", "invalid_value"), ("6", "invalid_value")]


def test_rejected_csv_of_a_dry_run_and_of_another_account(make_tenant, import_ok, rejected_rows, client):
    tenant = make_tenant()
    other = make_tenant("other")
    job = import_ok(tenant, [["email"], ["bad"], ["ok@example.nl"]],
                    {"mapping": {"email": "email"}, "dry_run": True})
    assert job["report"]["rejected"] == 1
    _, rejected = rejected_rows(tenant, job["id"])
    assert [(r[0], r[1]) for r in rejected] == [("2", "invalid_email")]
    response = client.get(f"/api/v1/imports/{job['id']}/rejected.csv", headers=other.auth())
    assert response.status_code == 404
