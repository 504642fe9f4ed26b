"""The OpenAPI document is exact (issue 11 finding 17): headers as headers, every answer typed, every
status it can give, enums from the code's own vocabularies, typed query parameters, ISO 8601 dates,
and every row of DESIGN.md's contract table present with its names."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from importer.vocabulary import (
    ContactStatus,
    DedupMode,
    FieldType,
    ImportPhase,
    RejectionReason,
    StatusSource,
)
from service.api.routing import ENDPOINTS
from service.downloads import DELIMITERS
from service.models import EventStatus, EventType, ImportStatus, LedgerState, Scope, SkipReason, Verdict

DOCUMENT = "/api/v1/openapi.json"
DESIGN = Path(__file__).resolve().parents[3] / "shared" / "DESIGN.md"
# The contract section of DESIGN.md, kept with the tests: a clone of the repository alone (CI) checks
# against it, and where DESIGN.md lies beside the repository the copy must be the same.
CONTRACT_COPY = Path(__file__).with_name("design_contract.md")
CONTRACT_HEADING = "## The HTTP contract (v1)"
# Query parameters that are free text (a name, an address, a rule as JSON).
TEXT_QUERY = {"address", "external_id.<link>", "link", "representative", "personalized_by"}
# Contract rows not built yet (issue 13, items 4-6); the test fails once one is, so that its names
# are then checked too.
NOT_BUILT: set[str] = set()
ROWS = [["KlantNr", "E-mail", "Stad"], ["1", "ann@example.com", "Utrecht"], ["2", "bob@example.com", "Delft"],
        ["3", "Bob@Example.com", "Delft"]]
SETTINGS = {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
            "mapping": {"E-mail": "email", "Stad": "city"}, "has_header": True, "delimiter": ","}


@pytest.fixture
def document(client) -> dict:  # type: ignore[no-untyped-def]
    return client.get(DOCUMENT).json


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [(method, path, operation) for path, operations in document["paths"].items()
            for method, operation in operations.items()]


def _schema(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _properties(document: dict, schema: dict) -> dict[str, Any]:
    """The properties of an object schema (of every branch of an anyOf)."""
    schema = _schema(document, schema)
    found = dict(schema.get("properties", {}))
    for branch in schema.get("anyOf", []):
        found.update(_properties(document, branch))
    return found


def _answer(document: dict, method: str, path: str, status: str = "200") -> dict:
    return document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def test_idempotency_key_is_a_header_parameter(document):
    check = document["paths"]["/api/v1/mailings/{mailing_id}/check"]["post"]
    parameters = {p["name"]: p for p in check["parameters"]}
    assert parameters["Idempotency-Key"]["in"] == "header"
    assert parameters["Idempotency-Key"]["schema"] == {"type": "string", "minLength": 1, "maxLength": 200}
    assert "idempotency_conflict" in check["responses"]["409"]["description"]
    for method, path, operation in _operations(document):
        for parameter in operation["parameters"]:
            assert "(" not in parameter["name"], (method, path, parameter)


def test_the_dedup_answers_are_typed(document):
    preview = _properties(document, _answer(document, "get", "/api/v1/dedup/preview"))
    assert {"to", "representative", "shared_addresses", "merged_away", "conflicts", "examples",
            "link", "without_id"} <= set(preview)
    applied = _properties(document, _answer(document, "post", "/api/v1/dedup/apply"))
    assert set(applied) == {"change_id", "from", "to", "merged"}
    assert _schema(document, applied["from"])["enum"] == list(DedupMode)
    assert set(_properties(document, _answer(document, "post", "/api/v1/dedup/undo"))) == {
        "change_id", "restored", "dedup_mode"}
    changes = _properties(document, _answer(document, "get", "/api/v1/dedup/changes"))["changes"]
    change = _properties(document, changes["items"])
    assert change["created_at"] == {"format": "date-time", "title": "Created At", "type": "string"}
    for method, path, operation in _operations(document):
        for status, answer in operation["responses"].items():
            for media_type, content in answer.get("content", {}).items():
                if media_type == "application/json":
                    assert content["schema"] != {"type": "string"}, (method, path, status)


def test_409_413_and_503_are_documented_where_they_occur(document):
    conflicts = {("post", "/api/v1/links"), ("post", "/api/v1/fields"), ("post", "/api/v1/segments"),
                 ("post", "/api/v1/mailings"), ("get", "/api/v1/dedup/preview"),
                 ("post", "/api/v1/dedup/apply"), ("post", "/api/v1/dedup/undo"),
                 ("post", "/api/v1/mailings/{mailing_id}/check"), ("patch", "/api/v1/contacts/{contact_id}"),
                 ("post", "/api/v1/contacts/{contact_id}/resubscribe")}
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        assert ("409" in responses) == ((method, path) in conflicts) or (method, path) not in conflicts, \
            (method, path)
        if (method, path) in conflicts:
            assert "409" in responses, (method, path)
        if "requestBody" in operation:
            assert responses["413"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
        if method != "get":
            assert "Retry-After" in responses["503"]["headers"], (method, path)
    events = document["paths"]["/api/v1/events"]["post"]["responses"]
    assert "413" in events


def test_post_imports_documents_its_200_when_waited_for(document):
    imports = document["paths"]["/api/v1/imports"]["post"]
    for status in ("200", "202"):
        assert _answer(document, "post", "/api/v1/imports", status) == {
            "$ref": "#/components/schemas/ImportPublic"}
    wait = {p["name"]: p for p in imports["parameters"]}["wait"]
    assert wait["schema"] == {"type": "boolean"}


@pytest.mark.parametrize(("model", "field", "vocabulary"), [
    ("ImportPublic", "status", ImportStatus), ("ImportProgress", "phase", ImportPhase),
    ("ContactPublic", "status", ContactStatus), ("CheckResult", "verdict", Verdict),
    ("CheckResult", "reason", SkipReason), ("LedgerEntryPublic", "state", LedgerState),
    ("LedgerEntryPublic", "event", EventType), ("EventResult", "status", EventStatus),
    ("KeyCreate", "scope", Scope), ("KeyCreated", "scope", Scope), ("KeyPublic", "scope", Scope),
    ("FieldCreate", "type", FieldType), ("FieldPublic", "type", FieldType),
    ("AccountPublic", "dedup_mode", DedupMode), ("StatusChangePublic", "source", StatusSource),
    ("DedupUndone", "dedup_mode", DedupMode),
])
def test_enums_come_from_the_code(document, model, field, vocabulary):
    schema = document["components"]["schemas"][model]["properties"][field]
    branches = schema.get("anyOf", [schema])  # an optional one: the enum or null
    enums = [_schema(document, branch)["enum"] for branch in branches if branch.get("type") != "null"]
    assert enums == [list(vocabulary)]


def test_rejection_reasons_are_an_enum(document):
    report = document["components"]["schemas"]["ImportReport"]["properties"]["rejected_by_reason"]
    assert report["propertyNames"] == {"enum": list(RejectionReason)}


def test_query_parameters_have_their_real_types(document):
    limits = {e.method + " /api/v1" + e.path: e.page_limit for e in ENDPOINTS if e.page_limit}
    assert limits["get /api/v1/contacts"] == 1000
    for method, path, operation in _operations(document):
        for parameter in operation["parameters"]:
            if parameter["in"] != "query":
                continue
            name, schema = parameter["name"], parameter["schema"]
            if name == "limit":
                assert schema == {"type": "integer", "minimum": 1, "maximum": limits[f"{method} {path}"]}
            elif name == "cursor":
                assert schema == {"type": "integer", "minimum": 0}
            elif name in ("wait", "bom", "allow_shared_address"):
                assert schema == {"type": "boolean"}
            elif name == "format":
                assert schema == {"type": "string", "enum": ["json", "csv"]}
            elif name == "to":
                assert schema["enum"] == list(DedupMode) and parameter["required"]
            elif name == "status":
                assert schema["enum"] == list(ContactStatus)
            elif name == "delimiter":
                assert schema["enum"] == list(DELIMITERS)
            else:
                assert name in TEXT_QUERY and schema == {"type": "string"}, (method, path, name)


def test_paged_lists_and_csv_lists_document_both_answers(document):
    for path in ("/api/v1/segments/{segment_id}/recipients", "/api/v1/mailings/{mailing_id}/recipients",
                 "/api/v1/mailings/{mailing_id}/ledger"):
        content = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/csv"}


def test_every_date_is_iso_8601_in_the_document(document):
    for name, schema in document["components"]["schemas"].items():
        for prop, definition in schema.get("properties", {}).items():
            if prop == "at" or prop.endswith("_at"):
                branches = definition.get("anyOf", [definition])
                assert {"type": "string", "format": "date-time"} in [
                    {k: b.get(k) for k in ("type", "format")} for b in branches], (name, prop)


HTTP_DATE = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")


def _dates(value: Any, key: str = "") -> list[tuple[str, str]]:
    """Every (key, string) of an answer whose key names a moment, or whose string looks like a date."""
    if isinstance(value, dict):
        return [d for k, v in value.items() for d in _dates(v, str(k))]
    if isinstance(value, list):
        return [d for v in value for d in _dates(v, key)]
    if isinstance(value, str) and (key == "at" or key.endswith("_at") or HTTP_DATE.match(value)):
        return [(key, value)]
    return []


def test_every_date_in_every_answer_is_iso_8601(client, make_tenant, post_import):
    """Each JSON answer with a date, from real data: ISO 8601 (GET /dedup/changes gave HTTP dates)."""
    tenant = make_tenant(dedup_mode="external_id", links={"crm": None}, fields={"city": "text"})
    job = post_import(tenant, ROWS, SETTINGS).json
    contact = client.get("/api/v1/contacts", headers=tenant.auth()).json["contacts"][0]["id"]
    segment = client.post("/api/v1/segments", headers=tenant.auth(),
                          json={"name": "all", "rules": {"all": []}}).json["id"]
    mailing = client.post("/api/v1/mailings", headers=tenant.auth(), json={"name": "m", "include": [segment]})
    mailing_id = mailing.json["id"]
    assert client.post(f"/api/v1/mailings/{mailing_id}/check", headers=tenant.auth("send"),
                       json={"contacts": [contact]}).status_code == 200
    assert client.post(f"/api/v1/contacts/{contact}/unsubscribe", headers=tenant.auth()).status_code == 200
    applied = client.post("/api/v1/dedup/apply", headers=tenant.auth("admin"), json={"to": "email"})
    assert applied.status_code == 200, applied.json
    answers = [mailing.json, job] + [client.get(path, headers=tenant.auth(scope)).json for path, scope in [
        ("/api/v1/dedup/changes", "manage"), (f"/api/v1/imports/{job['id']}", "manage"),
        (f"/api/v1/contacts/{contact}", "manage"), (f"/api/v1/contacts/{contact}/history", "manage"),
        ("/api/v1/segments", "manage"), ("/api/v1/mailings", "manage"), ("/api/v1/keys", "admin"),
        (f"/api/v1/mailings/{mailing_id}/ledger", "manage"),
        (f"/api/v1/segments/{segment}/recipients", "manage"),
    ]]
    found = [date for answer in answers for date in _dates(answer)]
    assert {key for key, _ in found} >= {"created_at", "updated_at", "claimed_at", "at", "last_used_at"}
    for key, value in found:
        assert not HTTP_DATE.match(value), (key, value)
        assert datetime.fromisoformat(value).tzinfo is not None, (key, value)  # ISO 8601, with its zone


def test_every_endpoint_in_the_code_is_in_the_document_and_back(app, document):
    rules = [rule for rule in app.url_map.iter_rules()
             if rule.rule.startswith("/api/v1/") and rule.rule != DOCUMENT]
    in_code = {(method.lower(), re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule))
               for rule in rules for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert in_code == {(method, path) for method, path, _ in _operations(document)}
    assert len(in_code) == len(ENDPOINTS)


Shape = dict[str, Any]  # a contract cell's names: name -> the names inside it (None: a plain value)
NAME = re.compile(r'"[^"]*"|[A-Za-z_][A-Za-z0-9_]*')
TOKENS = re.compile(r'"[^"]*"|[A-Za-z_][A-Za-z0-9_]*|\.\.\.|\S')


def _shape(text: str) -> Shape:
    """The names of a contract cell's `{...}` groups, nested: `{a, b?: [{c}], d: {e}}` gives
    {a: None, b: {c: None}, d: {e: None}}; values (`send|skip`) and `...` are skipped."""
    tokens = TOKENS.findall(text.replace("\\|", "/"))  # `send\|skip`: one value, not two names
    shape: Shape = {}
    position = 0

    def value(i: int) -> tuple[Any, int]:
        """Read a value from tokens[i]: the names of a {...} or a [{...}], else None."""
        if tokens[i] == "{":
            return group(i)
        if tokens[i] == "[":
            inner, depth, i = None, 1, i + 1
            while depth:
                if tokens[i] == "{" and depth == 1 and inner is None:
                    inner, i = group(i)
                    continue
                depth += {"[": 1, "]": -1}.get(tokens[i], 0)
                i += 1
            return inner, i
        while tokens[i] not in (",", "}"):
            i += 1
        return None, i

    def group(i: int) -> tuple[Shape, int]:
        names: Shape = {}
        i += 1  # past {
        while tokens[i] != "}":
            token = tokens[i]
            if NAME.fullmatch(token):
                name = token.strip('"')
                names[name] = None
                if i + 1 < len(tokens) and tokens[i + 1] == "?":
                    i += 1
                if tokens[i + 1] == ":":
                    names[name], i = value(i + 2)
                    continue
            i += 1
        return names, i + 1

    while position < len(tokens):
        if tokens[position] == "{":
            names, position = group(position)
            shape.update(names)
        else:
            position += 1
    return shape


def _unnamed(document: dict, shape: Shape, schema: dict, where: str) -> list[str]:
    """The names of `shape` that `schema` (an object, an array of them, or either or null) lacks."""
    schema = _schema(document, schema)
    for branch in schema.get("anyOf", []):
        if branch.get("type") != "null" and "$ref" in branch or "items" in branch:
            schema = _schema(document, branch)
    if "items" in schema:
        schema = _schema(document, schema["items"])
    properties = _properties(document, schema)
    if not properties and "additionalProperties" in schema:
        return []  # a map: `fields: {name: value}` names its keys by what they are
    missing = []
    for name, inner in shape.items():
        if name not in properties:
            missing.append(f"{where}.{name}")
        elif inner:
            missing += _unnamed(document, inner, properties[name], f"{where}.{name}")
    return missing


def _contract_rows() -> list[tuple[list[str], str, str]]:
    text = CONTRACT_COPY.read_text(encoding="utf-8")
    if DESIGN.exists():
        design = CONTRACT_HEADING + DESIGN.read_text(encoding="utf-8").split(CONTRACT_HEADING, 1)[1]
        assert text == design, f"DESIGN.md's contract changed: copy its section into {CONTRACT_COPY.name}"
    rows = []
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        endpoints = re.findall(r"`([A-Z]+ /[^`]+)`", cells[0])
        rows.append((endpoints, cells[2], cells[3]))
    assert len(rows) > 30
    return rows


def test_every_row_of_the_design_contract_is_documented_with_its_names(document):
    paths = {re.sub(r"{[a-z_]+}", "{id}", path): path for path in document["paths"]}
    missing: list[str] = []
    for endpoints, body, answer in _contract_rows():
        for endpoint in endpoints:
            method, path = endpoint.split(" ", 1)
            if not path.startswith("/api/v1/"):
                continue  # the probes: outside the API and its document
            if endpoint in NOT_BUILT:
                assert path not in paths or method.lower() not in document["paths"][paths[path]], \
                    f"{endpoint} is built: take it out of NOT_BUILT"
                continue
            if path not in paths or method.lower() not in document["paths"][paths[path]]:
                missing.append(endpoint)
                continue
            operation = document["paths"][paths[path]][method.lower()]
            parameters = {(p["in"], p["name"]) for p in operation["parameters"]}
            missing += [f"{endpoint} ?{name}=" for name in re.findall(r"\?([a-z_.<>]+)=", body)
                        if ("query", name) not in parameters]
            missing += [f"{endpoint} header {name}" for name in re.findall(r"header `([A-Za-z-]+)`", body)
                        if ("header", name) not in parameters]
            # A row naming PATCH and DELETE together ({name?, rules?}; 204) gives its body to the PATCH.
            if body.startswith("`{") and method != "DELETE":
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                missing += _unnamed(document, _shape(body.split(";")[0]), schema, f"{endpoint} body")
            if "{" in answer and answer.split("`")[0].strip() in ("", "201", "import:", "JSON"):
                status = "201" if answer.startswith("201") else "200"
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                missing += _unnamed(document, _shape(answer.split(";")[0]), schema, f"{endpoint} answer")
    assert not missing, missing


def test_a_field_takes_the_label_the_contract_names(client, make_tenant):
    """DESIGN.md's `POST /fields {name, type, label?}`: the label was refused as an unknown key."""
    tenant = make_tenant()
    created = client.post("/api/v1/fields", headers=tenant.auth(),
                          json={"name": "city", "type": "text", "label": "City of residence"})
    assert created.status_code == 201, created.json
    assert created.json["label"] == "City of residence"
    plain = client.post("/api/v1/fields", headers=tenant.auth(), json={"name": "vip", "type": "boolean"})
    assert plain.status_code == 201 and plain.json["label"] is None
    fields = {f["name"]: f for f in client.get("/api/v1/account", headers=tenant.auth()).json["fields"]}
    assert fields["city"]["label"] == "City of residence" and fields["vip"]["label"] is None
