"""The hostile-input corpus (issue 11): files and requests an attacker or a careless tool sends, each
answered clearly, on SQLite and PostgreSQL.

Three tables drive it: FILES (tests/hostile/corpus/, plus a few made here), REQUESTS (every JSON
body, query string, path id, page form and header part given deep JSON, NULs, bytes that are not
UTF-8, lone surrogates, numbers beyond any column, wrong types, bidi and zero-width characters and
bombs other than gzip ones, which the limits suite owns) and DOWNLOADS (every CSV the product writes,
read for cells a spreadsheet would run). Every case asserts a clear answer (a 4xx with the JSON
envelope, a page's 4xx, or rows rejected with a reason), that the service still answers, and that
nothing changed that should not have: every table's count and the accounts' contacts and ledgers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from service.spreadsheet import FORMULA_STARTS
from tests.hostile.conftest import World
from tests.integration.page_helpers import csrf_token, signed_in
from tests.integration.test_api_errors import assert_error

CORPUS = Path(__file__).parent / "corpus"
SETTINGS = {
    "mapping": {"email": "email", "first_name": "first_name"},
    "create_fields": {"first_name": "text"},
}
DEEP = 100_000


def deep(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


# --- files ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a file must come to: refused (`status` 400 with `code`, its message naming `mentions`), or
    imported with `created` contacts and `rejected` rows by reason (their names `names`, verbatim)."""

    status: int = 200
    code: str | None = None
    mentions: str = ""
    created: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] | None = None  # address: first_name as stored


def refused(code: str, mentions: str = "") -> Outcome:
    return Outcome(400, code, mentions)


FILES: dict[str, Outcome] = {
    "unbalanced_quote.csv": refused("unreadable_file", "row 2"),
    "quote_bomb.csv": refused("unreadable_file", "quoted"),
    "bom_in_the_middle.csv": Outcome(created=1, rejected={"invalid_email": 1}),
    "bom_inside_a_name.csv": Outcome(created=1, names={"ann@example.nl": "A\ufeffnn"}),
    "mixed_line_ends.csv": Outcome(
        created=3, names={"ann@example.nl": "Ann", "bob@example.nl": "Bob", "cor@example.nl": "Cor"}
    ),
    "cr_inside_a_quoted_cell.csv": Outcome(created=1, names={"ann@example.nl": "A\rB"}),
    "empty.csv": refused("unreadable_file", "empty"),
    "only_blank_lines.csv": refused("unreadable_file", "empty"),
    "only_a_header.csv": Outcome(),
    "only_a_header_no_newline.csv": Outcome(),
    "only_quotes.csv": refused("invalid_settings", "not in the file"),
    "sep_line_only.csv": refused("invalid_settings", "not in the file"),
    "duplicate_header_names.csv": Outcome(created=1, names={"ann@example.nl": "Ann"}),
    "ragged_rows.csv": Outcome(created=1, rejected={"malformed_row": 1}, names={"ann@example.nl": ""}),
    "utf8_then_invalid_bytes.csv": refused("unreadable_file", "encoding"),
    "utf16_with_bom.csv": Outcome(created=1, names={"ann@example.nl": "Ann"}),
    "nul_in_a_cell.csv": refused("unreadable_file", "binary"),
    "nul_in_the_header.csv": refused("unreadable_file", "binary"),
    "bidi_and_zero_width_addresses.csv": Outcome(created=1, rejected={"invalid_email": 4}),
    "combining_address.csv": Outcome(created=1, names={"\u0107or@example.nl": "Cor"}),  # NFC, as validated
    "bidi_zero_width_combining_names.csv": Outcome(
        created=3,
        names={
            "ann@example.nl": "\u202eAnn",
            "bob@example.nl": "B\u200bo\u200db",
            "cor@example.nl": "Co\u0301\u0301\u0301r",
        },
    ),
    "formula_addresses.csv": Outcome(rejected={"invalid_email": 4}),
    "formula_cells_untrimmed.csv": Outcome(rejected={"invalid_email": 3}),
    "workbook.xlsx": refused("unreadable_file", "spreadsheet"),
    "legacy_workbook.xls": refused("unreadable_file", "spreadsheet"),
    "binary.bin": refused("unreadable_file", "binary"),
}
# Made here rather than committed (a line of 1,000 characters, or every byte that is no UTF-8).
MADE: dict[str, tuple[bytes, Outcome]] = {
    "header_of_1000_characters.csv": (
        b"email,first_name," + b"h" * 1000 + b"\r\nann@example.nl,Ann,x\r\n",
        Outcome(created=1, names={"ann@example.nl": "Ann"}),
    ),
    "cell_of_1000_characters.csv": (
        b"email,first_name\r\nann@example.nl," + "é".encode() * 1000 + b"\r\n",
        Outcome(created=1, names={"ann@example.nl": "é" * 1000}),
    ),
    "cesu_surrogate_bytes.csv": (
        b"email,first_name\r\nann@example.nl,J\xc3\xb6rg\r\nbob@example.nl,\xed\xa0\x80\r\n",
        refused("unreadable_file", "encoding"),
    ),
}


def _file(name: str) -> tuple[bytes, Outcome]:
    return MADE[name] if name in MADE else ((CORPUS / name).read_bytes(), FILES[name])


def test_the_corpus_directory_is_the_files_table() -> None:
    assert {p.name for p in CORPUS.iterdir()} == set(FILES), "list each corpus file in FILES"


def _stored_names(world: World, tenant) -> dict[str, str]:  # type: ignore[no-untyped-def]
    contacts = world.client.get("/api/v1/contacts", headers=tenant.auth()).json["contacts"]
    return {c["email"]: c["fields"].get("first_name", "") for c in contacts}


@pytest.fixture
def untouched(world: World):  # type: ignore[no-untyped-def]
    """The two accounts of the world (contacts, ledgers) are as they were, and the service answers."""
    before = [world.snapshot(party.tenant.id) for party in (world.victim, world.intruder)]
    yield
    assert [world.snapshot(party.tenant.id) for party in (world.victim, world.intruder)] == before
    assert world.client.get("/healthz").status_code == 200
    assert world.client.get("/api/v1/account", headers=world.victim.auth()).status_code == 200


@pytest.mark.parametrize("name", sorted(FILES) + sorted(MADE))
def test_a_hostile_file_is_read_right_or_refused_clearly(world: World, untouched, name: str) -> None:
    content, outcome = _file(name)
    tenant = world.new_tenant(f"file {name}")
    upload = {"file": (io.BytesIO(content), name), "settings": json.dumps(SETTINGS)}
    response = world.client.post(
        "/api/v1/imports?wait=true", data=upload, headers=tenant.auth(), content_type="multipart/form-data"
    )
    if outcome.status != 200:
        error = assert_error(response, outcome.status, outcome.code)
        assert outcome.mentions in error["message"], error
        assert _stored_names(world, tenant) == {}
        return
    assert response.status_code == 200, response.json
    job = response.json
    assert job["status"] == "succeeded", job
    assert (job["report"]["created"], job["report"]["rejected_by_reason"]) == (
        outcome.created,
        outcome.rejected,
    )
    names = _stored_names(world, tenant)
    assert len(names) == outcome.created
    if outcome.names is not None:
        assert names == outcome.names
    if outcome.rejected:
        rejected = world.client.get(f"/api/v1/imports/{job['id']}/rejected.csv", headers=tenant.auth())
        records = list(csv.reader(io.StringIO(rejected.get_data(as_text=True))))
        assert len(records) == 1 + sum(outcome.rejected.values())
        assert all(record[1] in outcome.rejected and record[2] for record in records[1:]), records
        assert_spreadsheet_safe(records)


def test_inspecting_the_corpus_never_fails_unclearly(world: World, untouched) -> None:
    """/imports/inspect reads every file of the corpus: a 200 with columns, or a 400 with the envelope."""
    tenant = world.new_tenant("inspector")
    for name in sorted(FILES) + sorted(MADE):
        content, outcome = _file(name)
        response = world.client.post(
            "/api/v1/imports/inspect",
            data={"file": (io.BytesIO(content), name)},
            headers=tenant.auth(),
            content_type="multipart/form-data",
        )
        if outcome.code == "unreadable_file":
            assert outcome.mentions in assert_error(response, 400, "unreadable_file")["message"], name
        else:
            assert response.status_code == 200 and isinstance(response.json["columns"], list), name


# --- requests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One hostile request. `body` is raw text or bytes (sent as JSON), or an object; `path` and
    `body` may name the victim's ids as {contact_id}, {mailing_id}, ... `scope` "page" sends it as the
    victim's signed-in user (a form when `form` is given). The answer must be `status` with the
    envelope and `code` (pages: the status), its message naming `mentions`; or, given `each`, a 200
    whose every result passes `each` (a batch answered item by item)."""

    method: str
    path: str
    scope: str = "manage"
    body: Any = None
    form: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    status: int = 400
    code: str | None = None
    mentions: str = ""
    each: Callable[[dict[str, Any]], bool] | None = None


def invalid_event(result: dict[str, Any]) -> bool:
    return result["status"] == "invalid" and bool(result.get("message"))


def skipped(result: dict[str, Any]) -> bool:
    return result["verdict"] == "skip" and bool(result.get("reason"))


def unknown_or_invalid(result: dict[str, Any]) -> bool:
    return result["status"] in ("unknown_contact", "unknown_mailing", "invalid")


# Every JSON body of the API, with a good body to spoil.
BODIES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "links": ("POST", "/api/v1/links", "manage", {"name": "shop", "label": "Shop"}),
    "fields": ("POST", "/api/v1/fields", "manage", {"name": "city", "type": "text"}),
    "segments": ("POST", "/api/v1/segments", "manage", {"name": "s", "rules": {"all": []}}),
    "patch segment": ("PATCH", "/api/v1/segments/{segment_id}", "manage", {"name": "s2"}),
    "mailings": ("POST", "/api/v1/mailings", "manage", {"name": "m", "include": ["{segment_id}"]}),
    "check": ("POST", "/api/v1/mailings/{mailing_id}/check", "send", {"contacts": ["{contact_id}"]}),
    "release": ("POST", "/api/v1/mailings/{mailing_id}/release", "send", {"contacts": ["{contact_id}"]}),
    "confirm": ("POST", "/api/v1/mailings/{mailing_id}/confirm", "send", {"contacts": ["{contact_id}"]}),
    "events": ("POST", "/api/v1/events", "send", {"events": []}),
    "patch contact": ("PATCH", "/api/v1/contacts/{contact_id}", "manage", {"fields": {"first_name": "X"}}),
    "resubscribe": ("POST", "/api/v1/contacts/{contact_id}/resubscribe", "manage", {"consent": "asked"}),
    "unsubscribe": ("POST", "/api/v1/contacts/{contact_id}/unsubscribe", "manage", {"detail": "asked"}),
    "lift erasure": ("POST", "/api/v1/erasures/lift", "admin", {"address": "x@example.nl"}),
    "keys": ("POST", "/api/v1/keys", "admin", {"name": "k", "scope": "send"}),
    "dedup apply": ("POST", "/api/v1/dedup/apply", "admin", {"to": "email"}),
    "dedup undo": ("POST", "/api/v1/dedup/undo", "admin", {"change_id": "{change_id}"}),
}


def spoiled(name: str, extra: str, **expect: Any) -> Hostile:
    """A good body of BODIES with `extra` (raw JSON text) added as one more member."""
    method, path, scope, good = BODIES[name]
    body = json.dumps(good)[:-1] + ", " + extra + "}"
    return Hostile(method, path, scope, body, **expect)


MULTIPART = "multipart/form-data; boundary=XX"


def multipart(filename: bytes) -> bytes:
    """A multipart body of one small file under the raw bytes `filename`, and good settings."""
    return (
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: text/csv\r\n\r\nemail\r\nann@example.nl\r\n--XX\r\n'
        b'Content-Disposition: form-data; name="settings"\r\n\r\n{"mapping": {"email": "email"}}'
        b"\r\n--XX--\r\n"
    )


def raw_body(name: str, body: bytes | str, **expect: Any) -> Hostile:
    method, path, scope, _ = BODIES[name]
    return Hostile(method, path, scope, body, **expect)


REQUESTS: dict[str, Hostile] = {}
for _name in BODIES:
    REQUESTS[f"deep json in {_name}"] = spoiled(
        _name, '"deep": ' + deep(), code="invalid_json", mentions="deep"
    )
    REQUESTS[f"bytes not utf-8 in {_name}"] = raw_body(
        _name, b'{"name": "\xff\xfe"}', code="invalid_json", mentions="UTF-8"
    )
    REQUESTS[f"key given twice in {_name}"] = spoiled(
        _name, '"name": "a", "name": "b"', code="invalid_json", mentions="twice"
    )
    REQUESTS[f"NaN literal in {_name}"] = spoiled(_name, '"n": NaN', code="invalid_json", mentions="NaN")
    REQUESTS[f"Infinity literal in {_name}"] = spoiled(_name, '"n": -Infinity', code="invalid_json")
    REQUESTS[f"a number of 5000 digits in {_name}"] = spoiled(
        _name, '"n": ' + "9" * 5000, code="invalid_json"
    )
    if _name != "events":  # an event is answered on its own (below)
        REQUESTS[f"lone surrogate in {_name}"] = spoiled(
            _name, '"s": "\\ud800"', code="invalid_json", mentions="surrogate"
        )
        REQUESTS[f"escaped NUL in {_name}"] = spoiled(
            _name, '"s": "a\\u0000"', code="invalid_json", mentions="NUL"
        )

REQUESTS |= {
    # NULs, lone surrogates and bidi characters in each text part
    "NUL in a contact's address": Hostile(
        "PATCH",
        "/api/v1/contacts/{contact_id}",
        body={"email": "a\x00@x.nl"},
        code="invalid_json",
        mentions="NUL",
    ),
    "NUL in a contact's field": Hostile(
        "PATCH", "/api/v1/contacts/{contact_id}", body={"fields": {"first_name": "A\x00"}}, mentions="NUL"
    ),
    "NUL in a contact's external id": Hostile(
        "PATCH", "/api/v1/contacts/{contact_id}", body={"external_ids": {"crm": "K\x00"}}, mentions="NUL"
    ),
    "NUL in a consent": Hostile(
        "POST", "/api/v1/contacts/{contact_id}/resubscribe", body={"consent": "\x00"}, mentions="NUL"
    ),
    "NUL in a key's name": Hostile(
        "POST", "/api/v1/keys", "admin", body={"name": "k\x00", "scope": "send"}, mentions="NUL"
    ),
    "NUL in an erasure's address": Hostile(
        "POST", "/api/v1/erasures/lift", "admin", body={"address": "a\x00@x.nl"}, mentions="NUL"
    ),
    "NUL in an event's address": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=200,
        each=invalid_event,
        body={"events": [{"type": "unsubscribe", "address": "a\x00@x.nl"}]},
    ),
    "surrogate in an event's address": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=200,
        each=invalid_event,
        body='{"events": [{"type": "unsubscribe", "address": "\\ud800@victim.example"}]}',
    ),
    "surrogate in an event's detail": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=200,
        each=invalid_event,
        body='{"events": [{"type": "unsubscribe", "contact": {contact_id}, "detail": "\\udfff"}]}',
    ),
    "surrogate in a check's addresses": Hostile(
        "POST",
        "/api/v1/mailings/{mailing_id}/check",
        "send",
        body='{"addresses": ["\\ud800@victim.example"]}',
        code="invalid_json",
        mentions="surrogate",
    ),
    "surrogate in a rule's value": Hostile(
        "POST",
        "/api/v1/segments",
        body='{"name": "s", "rules": {"field": "email", "op": "eq", "value": "\\ud800"}}',
        code="invalid_json",
        mentions="surrogate",
    ),
    "surrogate in a contact's field": Hostile(
        "PATCH",
        "/api/v1/contacts/{contact_id}",
        body='{"fields": {"first_name": "\\udbff"}}',
        code="invalid_json",
        mentions="surrogate",
    ),
    "NUL in the Idempotency-Key": Hostile(
        "POST",
        "/api/v1/mailings/{mailing_id}/check",
        "send",
        body={"contacts": [1]},
        headers={"Idempotency-Key": "a\x00"},
        code="invalid_characters",
        mentions="Idempotency-Key",
    ),
    "NUL in the Authorization header": Hostile(
        "GET",
        "/api/v1/account",
        "none",
        headers={"Authorization": "Bearer sg_\x00"},
        code="invalid_characters",
    ),
    "bidi override in a contact's address": Hostile(
        "PATCH",
        "/api/v1/contacts/{contact_id}",
        body={"email": "anna\u202e@victim.example"},
        code="invalid_email",
    ),
    "zero-width space in a contact's address": Hostile(
        "PATCH",
        "/api/v1/contacts/{contact_id}",
        body={"email": "an\u200bna@victim.example"},
        code="invalid_email",
    ),
    "bidi and zero-width addresses in a check": Hostile(
        "POST",
        "/api/v1/mailings/{mailing_id}/check",
        "send",
        status=200,
        each=skipped,
        body={
            "addresses": [
                "anna\u202e@victim.example",
                "an\u200bna@victim.example",
                "anna@victim.example\u2066",
            ]
        },
    ),
    # query strings and path ids
    "query not utf-8 in an address lookup": Hostile(
        "GET", "/api/v1/contacts?address=%FF%FE", code="invalid_characters", mentions="UTF-8"
    ),
    "query not utf-8 in an external id lookup": Hostile(
        "GET", "/api/v1/contacts?external_id.crm=K%C0", code="invalid_characters"
    ),
    "query not utf-8 on a page": Hostile("GET", "/contacts?q=%FF", "page"),
    "NUL in a page's query": Hostile("GET", "/contacts?status=%00", "page"),
    "NUL in a preview's representative": Hostile(
        "GET", "/api/v1/segments/{segment_id}/preview?representative=a%00", code="invalid_characters"
    ),
    "deep representative in a preview's query": Hostile(
        "GET",
        "/api/v1/segments/{segment_id}/preview?representative=%7B%22rule%22%3A%22prefer%22%2C%22when%22%3A"
        + "%5B" * 20_000
        + "%7D",
        status=413,
        code="limit_exceeded",
        mentions="deep",
    ),
    "deep representative in a send list's query": Hostile(
        "GET",
        "/api/v1/segments/{segment_id}/recipients?representative=%7B%22a%22%3A" + "%5B" * 20_000 + "%7D",
        status=413,
        code="limit_exceeded",
        mentions="deep",
    ),
    "deep representative in the dedup preview": Hostile(
        "GET",
        "/api/v1/dedup/preview?to=email&representative=%7B%22a%22%3A" + "%5B" * 20_000 + "%7D",
        status=413,
        code="limit_exceeded",
    ),
    "deep representative on a segment's page": Hostile(
        "GET", "/segments/{segment_id}?representative=%7B%22a%22%3A" + "%5B" * 20_000 + "%7D", "page"
    ),
    "escaped NUL in a representative's value": Hostile(
        "GET",
        "/api/v1/segments/{segment_id}/preview?representative="
        + quote('{"rule": "prefer", "when": {"field": "email", "op": "eq", "value": "\\u0000"}}'),
        code="invalid_request",
        mentions="NUL",
    ),
    "contact id 2**63 in the path": Hostile("GET", f"/api/v1/contacts/{2**63}", status=404, code="not_found"),
    "contact id of 5000 digits in the path": Hostile(
        "GET", "/api/v1/contacts/" + "9" * 5000, status=404, code="not_found"
    ),
    "contact id -1 in the path": Hostile("GET", "/api/v1/contacts/-1", status=404, code="not_found"),
    "import id 2**63-1 in the path": Hostile(
        "GET", f"/api/v1/imports/{2**63 - 1}/rejected.csv", status=404, code="not_found"
    ),
    "mailing id 2**63 on a page": Hostile("GET", f"/mailings/{2**63}", "page", status=404),
    "contacts page after 2**63": Hostile("GET", f"/contacts?after={2**63}", "page", status=200),
    "contacts page before -2**63-1": Hostile("GET", f"/contacts?before={-(2**63) - 1}", "page", status=200),
    "contacts page after 30 digits": Hostile(
        "GET", "/contacts?after=" + "9" * 30 + "&q=anna", "page", status=200
    ),
    "cursor of 5000 digits": Hostile("GET", "/api/v1/contacts?cursor=" + "9" * 5000, code="invalid_request"),
    "limit NaN": Hostile("GET", "/api/v1/segments/{segment_id}/recipients?limit=NaN", code="invalid_request"),
    "limit 1.5": Hostile("GET", "/api/v1/contacts?limit=1.5", code="invalid_request"),
    "limit -1": Hostile("GET", "/api/v1/contacts?limit=-1", code="invalid_request"),
    "cursor a superscript digit": Hostile("GET", "/api/v1/contacts?cursor=%C2%B2", code="invalid_request"),
    # numbers beyond any column, and wrong types, in bodies
    "rule number 2**63": Hostile(
        "POST",
        "/api/v1/segments",
        body={"name": "s", "rules": {"field": "score", "op": "gt", "value": 2**63}},
        code="invalid_request",
        mentions="rules.value",
    ),
    "rule number -1e308": Hostile(
        "POST",
        "/api/v1/segments",
        body={"name": "s", "rules": {"field": "score", "op": "lt", "value": -1e308}},
        code="invalid_request",
        mentions="rules.value",
    ),
    "rule numbers 2**63 in a list": Hostile(
        "POST",
        "/api/v1/segments",
        body={"name": "s", "rules": {"field": "score", "op": "in", "value": [1, 2**63]}},
        code="invalid_request",
        mentions="value[1]",
    ),
    "representative rule number 2**63 in dedup apply": Hostile(
        "POST",
        "/api/v1/dedup/apply",
        "admin",
        body={
            "to": "email",
            "representative": {"rule": "prefer", "when": {"field": "score", "op": "gt", "value": 2**63}},
        },
        code="invalid_request",
        mentions="representative.when",
    ),
    "representative rule number 2**63 in a mailing": Hostile(
        "POST",
        "/api/v1/mailings",
        body={
            "name": "m",
            "include": ["{segment_id}"],
            "representative": {"rule": "prefer", "when": {"field": "score", "op": "gt", "value": 2**63}},
        },
        code="invalid_request",
        mentions="representative.when",
    ),
    "field number 2**63": Hostile(
        "PATCH", "/api/v1/contacts/{contact_id}", body={"fields": {"score": 2**63}}, code="invalid_value"
    ),
    "field number 1e308": Hostile(
        "PATCH", "/api/v1/contacts/{contact_id}", body={"fields": {"score": 1e308}}, code="invalid_value"
    ),
    "check ids 2**63, 0 and -1": Hostile(
        "POST",
        "/api/v1/mailings/{mailing_id}/check",
        "send",
        status=200,
        each=skipped,
        body={"contacts": [2**63, 0, -1]},
    ),
    "release id 2**63": Hostile(
        "POST", "/api/v1/mailings/{mailing_id}/release", "send", status=200, body={"contacts": [2**63]}
    ),
    "mailing include 2**63": Hostile(
        "POST", "/api/v1/mailings", body={"name": "m", "include": [2**63]}, code="invalid_request"
    ),
    "event contact 2**63": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=200,
        each=unknown_or_invalid,
        body={"events": [{"type": "unsubscribe", "contact": 2**63}]},
    ),
    "event mailing 2**63": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=200,
        each=unknown_or_invalid,
        body={"events": [{"type": "hard_bounce", "contact": "{contact_id}", "mailing": 2**63}]},
    ),
    "event in the year 99999": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=200,
        each=invalid_event,
        body={
            "events": [
                {"type": "hard_bounce", "contact": "{contact_id}", "occurred_at": "99999-01-01T00:00:00Z"}
            ]
        },
    ),
    "event at a time of 2**63 seconds": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=200,
        each=invalid_event,
        body={"events": [{"type": "hard_bounce", "contact": "{contact_id}", "occurred_at": 2**63}]},
    ),
    "event contact true": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=200,
        each=invalid_event,
        body={"events": [{"type": "unsubscribe", "contact": True}]},
    ),
    "event contact 1.5": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=200,
        each=invalid_event,
        body={"events": [{"type": "unsubscribe", "contact": 1.5}]},
    ),
    "events a string": Hostile("POST", "/api/v1/events", "send", body={"events": "x"}, code="invalid_json"),
    "events of wrong types": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=200,
        each=invalid_event,
        body={"events": [1, None, [], "x", {"type": 5, "contact": 1}]},
    ),
    "undo change id 1.0": Hostile(
        "POST", "/api/v1/dedup/undo", "admin", body={"change_id": 1.0}, code="invalid_request"
    ),
    "check contacts a string": Hostile(
        "POST", "/api/v1/mailings/{mailing_id}/check", "send", body={"contacts": "1"}, code="invalid_request"
    ),
    "mailing include a string": Hostile(
        "POST", "/api/v1/mailings", body={"name": "m", "include": "1"}, code="invalid_request"
    ),
    "segment rules a string": Hostile(
        "POST", "/api/v1/segments", body={"name": "s", "rules": "all"}, code="invalid_request"
    ),
    "segment name a number": Hostile(
        "POST", "/api/v1/segments", body={"name": 5, "rules": {"all": []}}, code="invalid_request"
    ),
    "contact fields a list": Hostile(
        "PATCH", "/api/v1/contacts/{contact_id}", body={"fields": []}, code="invalid_request"
    ),
    "contact email a number": Hostile(
        "PATCH", "/api/v1/contacts/{contact_id}", body={"email": 5}, code="invalid_request"
    ),
    "text field given an object": Hostile(
        "PATCH",
        "/api/v1/contacts/{contact_id}",
        body={"fields": {"first_name": {"a": 1}}},
        code="invalid_value",
    ),
    "number field given true": Hostile(
        "PATCH", "/api/v1/contacts/{contact_id}", body={"fields": {"score": True}}, code="invalid_value"
    ),
    "key scope a list": Hostile(
        "POST", "/api/v1/keys", "admin", body={"name": "k", "scope": ["admin"]}, code="invalid_request"
    ),
    "a body that is JSON null": raw_body("unsubscribe", "null", code="invalid_json"),
    "a body that is a list": raw_body("patch contact", "[]", code="invalid_json"),
    "a body with trailing text": raw_body(
        "segments", '{"name": "s", "rules": {"all": []}} x', code="invalid_json"
    ),
    "a body with a byte-order mark": raw_body(
        "segments", b'\xef\xbb\xbf{"name": "s", "rules": {"all": []}}', code="invalid_json"
    ),
    "a body in UTF-16": raw_body(
        "segments", '{"name": "s", "rules": {"all": []}}'.encode("utf-16"), code="invalid_json"
    ),
    # bombs other than gzip ones
    "10,000 sibling rules": Hostile(
        "POST",
        "/api/v1/segments",
        body={"name": "s", "rules": {"any": [{"field": "email", "op": "eq", "value": "a"}] * 10_000}},
        status=413,
        code="limit_exceeded",
        mentions="500 conditions",
    ),
    "an in-list of 10,001 values": Hostile(
        "POST",
        "/api/v1/segments",
        body={"name": "s", "rules": {"field": "email", "op": "in", "value": ["a"] * 10_001}},
        code="invalid_request",
    ),
    "a check of 10,001 contacts": Hostile(
        "POST",
        "/api/v1/mailings/{mailing_id}/check",
        "send",
        body={"contacts": list(range(1, 10_002))},
        status=413,
        code="limit_exceeded",
        mentions="SAFEGUARD_MAX_BATCH",
    ),
    "a batch of 10,001 events": Hostile(
        "POST",
        "/api/v1/events",
        "send",
        status=413,
        code="limit_exceeded",
        mentions="SAFEGUARD_MAX_BATCH",
        body={"events": [{"type": "unsubscribe", "address": "x@y.nl"}] * 10_001},
    ),
    "an Idempotency-Key of 100,000 characters": Hostile(
        "POST",
        "/api/v1/mailings/{mailing_id}/check",
        "send",
        body={"contacts": [1]},
        headers={"Idempotency-Key": "k" * 100_000},
        code="invalid_request",
        mentions="Idempotency-Key",
    ),
    "a key name of a million characters": Hostile(
        "POST",
        "/api/v1/keys",
        "admin",
        body={"name": "k" * 1_000_000, "scope": "send"},
        code="invalid_request",
    ),
    "a key of 100,000 characters": Hostile(
        "GET",
        "/api/v1/account",
        "none",
        status=401,
        code="unauthorized",
        headers={"Authorization": "Bearer " + "x" * 100_000},
    ),
    "a catastrophic id_pattern": Hostile(
        "POST",
        "/api/v1/links",
        body={"name": "shop", "label": "Shop", "id_pattern": "(?=a)(a+)+$"},
        code="invalid_request",
        mentions="id_pattern",
    ),
    # multipart: a file name that is not UTF-8 (Werkzeug drops the whole body), or has a line break
    "an upload's name not UTF-8": Hostile(
        "POST",
        "/api/v1/imports/inspect",
        content_type=MULTIPART,
        body=multipart(b"\xff\xfe.csv"),
        code="missing_file",
        mentions="UTF-8",
    ),
    "an import's name not UTF-8": Hostile(
        "POST",
        "/api/v1/imports?wait=true",
        content_type=MULTIPART,
        body=multipart(b"J\xf6rg.csv"),
        code="missing_file",
        mentions="UTF-8",
    ),
    "an upload's name with a line break": Hostile(
        "POST",
        "/api/v1/imports?wait=true",
        content_type=MULTIPART,
        body=multipart(b"a\r\nb.csv"),
        code="missing_file",
    ),
    "an upload's name of 5000 characters is cut": Hostile(
        "POST", "/api/v1/imports/inspect", status=200, content_type=MULTIPART, body=multipart(b"a" * 5000)
    ),
    "an upload named ../../etc/passwd is only a name": Hostile(
        "POST",
        "/api/v1/imports/inspect",
        status=200,
        content_type=MULTIPART,
        body=multipart(b"../../etc/passwd"),
    ),
    # page forms
    "deep rules in the segment form": Hostile(
        "POST", "/segments/new", "page", form={"name": "s", "rules": deep()}
    ),
    "escaped NUL in the segment form's rules": Hostile(
        "POST",
        "/segments/new",
        "page",
        form={"name": "s", "rules": '{"field": "email", "op": "eq", "value": "\\u0000"}'},
    ),
    "surrogate in the segment form's rules": Hostile(
        "POST",
        "/segments/new",
        "page",
        form={"name": "s", "rules": '{"field": "email", "op": "eq", "value": "\\ud800"}'},
    ),
    "a superscript digit as a mailing's segment": Hostile(
        "POST", "/mailings/new", "page", form={"name": "m", "include": "\u00b2"}
    ),
    "a superscript digit as the change to undo": Hostile(
        "POST", "/dedup/undo", "page", form={"change_id": "\u00b2", "confirm": "yes"}
    ),
    "a change id of 30 digits to undo": Hostile(
        "POST", "/dedup/undo", "page", status=404, form={"change_id": "9" * 30, "confirm": "yes"}
    ),
    "NUL in a page form": Hostile("POST", "/mailings/new", "page", form={"name": "m\x00", "include": "1"}),
}


def _filled(text: str, ids: dict[str, int]) -> str:
    """Put the victim's ids in for {name} (and for "{name}", a JSON string standing for the id)."""
    for name, value in ids.items():
        text = text.replace('"{' + name + '}"', str(value)).replace("{" + name + "}", str(value))
    return text


def _send(world: World, case: Hostile):  # type: ignore[no-untyped-def]
    victim = world.victim
    path = _filled(case.path, victim.ids)
    if case.scope == "page":
        user = victim.user
        if case.form is None:
            return user.open(path, method=case.method)
        form = {**case.form, "csrf_token": csrf_token(user.get("/segments/new"))}
        return user.open(path, method=case.method, data=form)
    headers = {**({} if case.scope == "none" else victim.auth(case.scope)), **case.headers}
    body = case.body
    if body is not None and not isinstance(body, str | bytes):
        body = json.dumps(body)
    if isinstance(body, str):
        body = _filled(body, victim.ids)
    return world.client.open(
        path, method=case.method, data=body, content_type=case.content_type, headers=headers
    )


@pytest.fixture(scope="module")
def score_field(world: World) -> None:
    """A number field on the victim's account, for the number cases."""
    response = world.client.post(
        "/api/v1/fields", json={"name": "score", "type": "number"}, headers=world.victim.auth()
    )
    assert response.status_code in (201, 409), response.json


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_a_hostile_request_is_answered_clearly_and_changes_nothing(
    world: World, score_field, untouched, name: str
) -> None:
    case = REQUESTS[name]
    before = world.counts()
    response = _send(world, case)
    if case.scope == "page":
        assert response.status_code == case.status, (response.status_code, response.data[:300])
        assert "Traceback" not in response.get_data(as_text=True)
    elif case.each is not None:
        assert response.status_code == case.status, response.data[:300]
        results = response.json["results"]
        assert results and all(case.each(result) for result in results), results
    elif case.status >= 400:
        error = assert_error(response, case.status, case.code)
        assert case.mentions in error["message"], error
    else:
        assert response.status_code == case.status, response.data[:300]
    assert world.counts() == before


def test_the_corpus_is_at_least_fifty_files_and_requests() -> None:
    assert len(FILES) + len(MADE) + len(REQUESTS) >= 50
    assert {name for name in BODIES} == {
        n.removeprefix("deep json in ") for n in REQUESTS if n.startswith("deep json in ")
    }


# --- every CSV download -----------------------------------------------------------------------------

# Names as a spreadsheet would run them. The importer and edits trim cells, so a leading tab or CR
# only reaches a download through rejected.csv, which keeps the rows as they were read.
FORMULAS = ["=1+1", "+31 6 1234", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x")']
UNTRIMMED = ["\t=1+1", "\r=1+1"]


@dataclass
class Formulas:
    tenant: Any
    user: Any
    ids: dict[str, int]


@pytest.fixture(scope="module")
def formulas(world: World) -> Formulas:
    """An account whose contacts, IDs and rejected rows look like formulas, cleared for a mailing."""
    tenant = world.new_tenant("formulas")
    client = world.client
    assert (
        client.post(
            "/api/v1/links", json={"name": "crm", "label": "=label"}, headers=tenant.auth()
        ).status_code
        == 201
    )
    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        [
            ["email", "first_name"],
            *([f"ann{i}@example.nl", name] for i, name in enumerate(FORMULAS)),
            *(["not-an-address", name] for name in UNTRIMMED),
            ["=cmd|' /C calc'!A0", "Bob"],
        ]
    )
    settings = {**SETTINGS, "has_header": True}
    job = client.post(
        "/api/v1/imports?wait=true",
        headers=tenant.auth(),
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(buffer.getvalue().encode()), "f.csv"), "settings": json.dumps(settings)},
    ).json
    assert job["report"]["created"] == len(FORMULAS) and job["report"]["rejected"] == 3, job
    contacts = client.get("/api/v1/contacts", headers=tenant.auth()).json["contacts"]
    for contact in contacts:
        edit = client.patch(
            f"/api/v1/contacts/{contact['id']}",
            headers=tenant.auth(),
            json={"external_ids": {"crm": "=" + str(contact["id"])}},
        )
        assert edit.status_code == 200, edit.json
    segment = client.post(
        "/api/v1/segments", json={"name": "=all", "rules": {"all": []}}, headers=tenant.auth()
    ).json["id"]
    mailing = client.post(
        "/api/v1/mailings", json={"name": "=m", "include": [segment]}, headers=tenant.auth()
    ).json["id"]
    check = client.post(
        f"/api/v1/mailings/{mailing}/check",
        json={"contacts": [c["id"] for c in contacts]},
        headers=tenant.auth("send"),
    )
    assert check.status_code == 200
    user = signed_in(world.app, world.engine, tenant.id, "formulas@example.nl")
    return Formulas(tenant, user, {"import_id": job["id"], "segment_id": segment, "mailing_id": mailing})


# Every CSV the product writes: (how, path). The test below checks that this is every one.
DOWNLOADS = [
    ("api", "/api/v1/imports/{import_id}/rejected.csv"),
    ("api", "/api/v1/contacts/export"),
    ("api", "/api/v1/contacts/export?delimiter=%3B&bom=true"),
    ("api", "/api/v1/segments/{segment_id}/recipients?format=csv"),
    ("api", "/api/v1/mailings/{mailing_id}/recipients?format=csv"),
    ("api", "/api/v1/mailings/{mailing_id}/ledger?format=csv"),
    ("page", "/imports/{import_id}/rejected.csv"),
    ("page", "/contacts/export.csv"),
    ("page", "/segments/{segment_id}/recipients.csv"),
    ("page", "/mailings/{mailing_id}/recipients.csv"),
    ("page", "/mailings/{mailing_id}/ledger.csv"),
]


def assert_spreadsheet_safe(records: list[list[str]]) -> None:
    for record in records:
        for cell in record:
            assert not cell.startswith(FORMULA_STARTS), record


def _records(text: str) -> list[list[str]]:
    text = text.removeprefix("\ufeff")
    delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def test_the_downloads_are_every_csv_of_the_app(world: World) -> None:
    from service.api.routing import ENDPOINTS

    made = {"/api/v1" + e.path for e in ENDPOINTS if e.content_type == "text/csv" or "format" in e.query}
    made |= {
        r.rule.replace("<int:", "{").replace(">", "}")
        for r in world.app.url_map.iter_rules()
        if r.rule.endswith(".csv")
    }
    assert made == {path.split("?")[0] for _, path in DOWNLOADS}, "list each CSV download in DOWNLOADS"


@pytest.mark.parametrize(("how", "path"), DOWNLOADS)
def test_every_csv_download_is_spreadsheet_safe(
    world: World, formulas: Formulas, untouched, how: str, path: str
) -> None:
    url = _filled(path, formulas.ids)
    client = world.client if how == "api" else formulas.user
    response = client.get(url, headers=formulas.tenant.auth() if how == "api" else {})
    assert response.status_code == 200 and response.mimetype == "text/csv", response.data[:300]
    records = _records(response.get_data(as_text=True))
    assert len(records) > 1, records
    assert_spreadsheet_safe(records)
    cells = {cell for record in records for cell in record}
    if "rejected" in path:
        assert {"'" + value for value in UNTRIMMED} <= cells, records
        assert "'=cmd|' /C calc'!A0" in cells
    elif "ledger" not in path:
        assert {"'" + name for name in FORMULAS} <= cells, records


def test_the_command_line_exports_are_spreadsheet_safe(
    world: World, formulas: Formulas, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from service.cli import Context, main

    url = str(world.engine.url.render_as_string(hide_password=False))
    for args in (
        ["contacts", "export", formulas.tenant.name],
        ["segments", "export", str(formulas.ids["segment_id"]), "--account", formulas.tenant.name],
    ):
        context = Context()
        result = CliRunner().invoke(
            main,
            args,
            obj=context,
            env={"DATABASE_URL": url, "SAFEGUARD_UPLOAD_DIR": str(tmp_path)},
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        records = _records(result.stdout)
        assert len(records) == len(FORMULAS) + 1
        assert_spreadsheet_safe(records)
        if context._app is not None:
            context._app.extensions["safeguard.engine"].dispose()
