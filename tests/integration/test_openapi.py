"""The OpenAPI document matches the code: every route, its methods, scopes and body schemas."""

from __future__ import annotations

import re

import pytest

from service.models import FieldCreate, LinkCreate

IGNORED_METHODS = {"HEAD", "OPTIONS"}
DOCUMENT = "/api/v1/openapi.json"


@pytest.fixture
def document(client) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(DOCUMENT)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _api_rules(app) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.rule != DOCUMENT:
            routes.setdefault(_openapi_path(rule.rule), set()).update(
                m.lower() for m in rule.methods - IGNORED_METHODS)
    return routes


def test_the_document_is_served_without_a_key(client):
    response = client.get(DOCUMENT)
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.")


def test_every_route_is_documented_with_its_methods(app, document):
    routes = _api_rules(app)
    assert len(routes) >= 8
    documented = {path: set(operations) for path, operations in document["paths"].items()}
    assert documented == routes


def test_path_parameters_are_declared(document):
    for path, operations in document["paths"].items():
        names = set(re.findall(r"{([a-z_]+)}", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)
            assert all(p["required"] for p in operation["parameters"] if p["in"] == "path")


def test_the_documented_scope_is_the_enforced_scope(app, document):
    notes = {None: "any key", "manage": "a manage (or admin) key", "send": "a send key",
             "admin": "an admin key"}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == DOCUMENT:
            continue
        view = app.view_functions[rule.endpoint]
        assert hasattr(view, "required_scope"), f"{rule.rule} is not guarded by a key check"
        for method in rule.methods - IGNORED_METHODS:
            operation = document["paths"][_openapi_path(rule.rule)][method.lower()]
            assert notes[view.required_scope] in operation["description"], (rule.rule, method)


def _resolve(document: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]


@pytest.mark.parametrize(("path", "model"), [("/api/v1/links", LinkCreate), ("/api/v1/fields", FieldCreate)])
def test_body_schemas_come_from_the_models(document, path, model):
    body = document["paths"][path]["post"]["requestBody"]
    schema = _resolve(document, body["content"]["application/json"]["schema"])
    # The document keeps the models' shared definitions (enums) under components/schemas.
    expected = model.model_json_schema(ref_template="#/components/schemas/{model}")
    assert set(schema["properties"]) == set(model.model_fields) == set(expected["properties"])
    assert sorted(schema["required"]) == sorted(n for n, f in model.model_fields.items() if f.is_required())
    assert schema["properties"] == expected["properties"]
    for name, definition in expected.get("$defs", {}).items():
        assert document["components"]["schemas"][name] == definition


def test_body_schemas_say_what_the_server_checks(document):
    schemas = document["components"]["schemas"]
    link_name = schemas["LinkCreate"]["properties"]["name"]
    assert link_name["pattern"] == "^[a-z][a-z0-9_]*$"
    assert (link_name["minLength"], link_name["maxLength"]) == (1, 50)
    field_type = _resolve(document, schemas["FieldCreate"]["properties"]["type"])
    assert sorted(field_type["enum"]) == ["boolean", "date", "number", "text"]


@pytest.mark.parametrize(("path", "method", "status", "model"), [
    ("/api/v1/account", "get", "200", "AccountPublic"),
    ("/api/v1/links", "post", "201", "LinkPublic"),
    ("/api/v1/fields", "post", "201", "FieldPublic"),
    ("/api/v1/imports", "post", "202", "ImportPublic"),
    ("/api/v1/imports/{import_id}", "get", "200", "ImportPublic"),
    ("/api/v1/contacts", "get", "200", "ContactList"),
    ("/api/v1/contacts/{contact_id}", "get", "200", "ContactPublic"),
])
def test_answers_reference_their_models(document, path, method, status, model):
    response = document["paths"][path][method]["responses"][status]
    schema = response["content"]["application/json"]["schema"]
    assert schema == {"$ref": f"#/components/schemas/{model}"}
    assert model in document["components"]["schemas"]


def test_every_reference_resolves(document):
    text = str(document)
    for name in set(re.findall(r"#/components/schemas/([A-Za-z0-9_]+)", text)):
        assert name in document["components"]["schemas"], name


def test_the_documented_answer_matches_a_real_answer(client, make_tenant, document):
    """The keys of a real GET /account and POST /links answer are those the document lists."""
    tenant = make_tenant()
    schemas = document["components"]["schemas"]
    account = client.get("/api/v1/account", headers=tenant.auth()).json
    assert set(account) == set(schemas["AccountPublic"]["properties"])
    link = client.post("/api/v1/links", json={"name": "crm", "label": "Nr"}, headers=tenant.auth()).json
    assert set(link) == set(schemas["LinkPublic"]["properties"])


def test_errors_are_documented_with_the_envelope(document):
    error = document["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error"]
    for operations in document["paths"].values():
        for operation in operations.values():
            for status in ("400", "401", "404"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def test_the_contact_endpoints_document_their_bodies_and_enums(document):
    paths = document["paths"]
    schemas = document["components"]["schemas"]
    patch = paths["/api/v1/contacts/{contact_id}"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ContactPatch")
    assert set(schemas["ContactPatch"]["properties"]) == {"email", "fields", "external_ids"}
    assert "address_conflict" in patch["responses"]["409"]["description"]
    assert "204" in paths["/api/v1/contacts/{contact_id}"]["delete"]["responses"]
    resubscribe = paths["/api/v1/contacts/{contact_id}/resubscribe"]["post"]
    assert "address_bounced" in resubscribe["responses"]["409"]["description"]
    status = {p["name"]: p["schema"] for p in paths["/api/v1/contacts"]["get"]["parameters"]}["status"]
    assert status["enum"] == ["active", "unsubscribed", "bounced"]
    export = {p["name"]: p["schema"] for p in paths["/api/v1/contacts/export"]["get"]["parameters"]}
    assert export["delimiter"]["enum"] == [",", ";", "\t", "tab"]
    assert export["bom"] == {"type": "boolean"}
    sources = schemas["StatusSource"]["enum"]
    assert sources == ["import", "event", "api", "merge", "undo"]
    assert paths["/api/v1/erasures/lift"]["post"]["description"] == "Needs an admin key."
