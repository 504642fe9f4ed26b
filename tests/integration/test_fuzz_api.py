"""Property-based fuzzing of the API against its own OpenAPI document (schemathesis), both databases.

Every operation of /api/v1/openapi.json gets generated requests, valid (positive) and invalid
(negative), sent through the app's WSGI interface (no server to start or kill; the same app object
the tests use) with a key of the scope the operation needs, on an account with data (contacts, a
link, a field, a segment, a mailing with clearances, an import), so that the operations reach their
real code paths and not only their 404s. Each answer must not be a 500, must have a documented status
and content type, and its body must match the documented schema.

The budget is bounded and derandomized (the same examples every run, so CI is repeatable):
EXAMPLES per operation and mode, no shrinking (a failure is reported as generated).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from conftest import csv_bytes
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.api.routing import ENDPOINTS

EXAMPLES = 40  # per operation and generation mode: about 2 minutes per database on 2 cores
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
ROWS = [["KlantNr", "E-mail", "Stad"], ["1", "ann@example.com", "Utrecht"],
        ["2", "bob@example.com", "Delft"], ["3", "Bob@Example.com", "Delft"],
        ["4", "=1+1@example.com", "=HYPERLINK(1)"], ["5", "eve@example.org", ""]]
SETTINGS = {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
            "mapping": {"E-mail": "email", "Stad": "city"}, "has_header": True, "delimiter": ","}
# Values that fit the account, drawn besides the generated ones (valid requests): a random link name,
# rule tree, change id or import file would only ever be refused.
REAL_QUERY = {"link": ["crm"], "representative": ["oldest", "most_recently_updated"]}


def _scope_of(method: str, path: str) -> str:
    for endpoint in ENDPOINTS:
        if (endpoint.method, "/api/v1" + endpoint.path) == (method.lower(), path):
            return str(endpoint.scope or "manage")
    raise AssertionError(f"{method} {path} is not a declared endpoint")


@pytest.fixture
def world(client, make_tenant, post_import) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An account with data, and the ids its operations may be called with."""
    tenant = make_tenant(dedup_mode="external_id", links={"crm": None}, fields={"city": "text"})
    job = post_import(tenant, ROWS, SETTINGS)
    assert job.status_code == 200 and job.json["status"] == "succeeded", job.json
    contacts = [c["id"] for c in client.get("/api/v1/contacts", headers=tenant.auth()).json["contacts"]]
    segment = client.post("/api/v1/segments", headers=tenant.auth(),
                          json={"name": "everyone", "rules": {"all": []}}).json["id"]
    mailing = client.post("/api/v1/mailings", headers=tenant.auth(),
                          json={"name": "news", "include": [segment]}).json["id"]
    checked = client.post(f"/api/v1/mailings/{mailing}/check", headers=tenant.auth("send"),
                          json={"contacts": contacts[:3]})
    assert checked.status_code == 200, checked.json
    spare_segments = [client.post("/api/v1/segments", headers=tenant.auth(),  # for the fuzzer to delete
                                  json={"name": f"spare {n}", "rules": {"all": []}}).json["id"]
                      for n in range(3)]
    # A mailing no check has cleared anyone for: the one that may still be changed and deleted.
    draft = client.post("/api/v1/mailings", headers=tenant.auth(),
                        json={"name": "draft", "include": [segment]}).json["id"]
    spare_keys = [client.post("/api/v1/keys", headers=tenant.auth("admin"),  # for the fuzzer to revoke
                              json={"name": f"spare {n}", "scope": "send"}).json["id"] for n in range(3)]

    def latest_change() -> list[Any]:
        changes = client.get("/api/v1/dedup/changes", headers=tenant.auth()).json["changes"]
        return [changes[0]["change_id"]] if changes else [1]

    bodies: dict[tuple[str, str], dict[str, Callable[[], list[Any]]]] = {
        ("POST", "/api/v1/segments"): {
            "rules": lambda: [{"all": []}, {"field": "city", "op": "eq", "value": "Delft"}]},
        ("POST", "/api/v1/mailings"): {"include": lambda: [[segment]]},
        ("PATCH", "/api/v1/mailings/{mailing_id}"): {"include": lambda: [[segment]]},
        ("POST", "/api/v1/dedup/apply"): {"link": lambda: ["crm"]},
        ("POST", "/api/v1/dedup/undo"): {"change_id": latest_change},
        ("POST", "/api/v1/imports"): {"file": lambda: [csv_bytes(ROWS)],
                                      "settings": lambda: [json.dumps(SETTINGS)]},
        ("POST", "/api/v1/imports/inspect"): {"file": lambda: [csv_bytes(ROWS)]},
    }
    return {"tenant": tenant, "bodies": bodies, "ids": {
        "import_id": [job.json["id"]], "contact_id": contacts, "segment_id": [segment, *spare_segments],
        "mailing_id": [mailing, draft], "key_id": spare_keys}}


def _fuzz_operation(operation: Any, mode: GenerationMode, auth: dict[str, str],
                    world: dict[str, Any], statuses: set[int]) -> None:
    """Send EXAMPLES generated requests to one operation; raise on the first failed check."""

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def call(case: Any, data: st.DataObject) -> None:
        if mode is GenerationMode.POSITIVE:
            _fit_to_the_account(case, data, world)
        response = case.call_and_validate(headers=auth, checks=CHECKS)
        statuses.add(response.status_code)

    call()


def _fit_to_the_account(case: Any, data: st.DataObject, world: dict[str, Any]) -> None:
    """Replace some generated values by the account's own: ids that exist, its link, a rule tree
    that fits its fields, a CSV file (each drawn, so the generated value still comes too)."""

    def draw(name: str, real: list[Any], generated: Any) -> Any:
        return data.draw(st.sampled_from(real) | st.just(generated), label=name)

    for name, value in (case.path_parameters or {}).items():
        case.path_parameters[name] = draw(name, world["ids"][name], value)
    for name, value in (case.query or {}).items():
        if name in REAL_QUERY:
            case.query[name] = draw(name, REAL_QUERY[name], value)
    if isinstance(case.body, dict):
        for name, real in world["bodies"].get((case.method.upper(), case.path), {}).items():
            value = draw(name, real(), case.body.get(name))
            if value is not None:  # an optional part that was not generated stays away
                case.body[name] = value


def test_every_operation_keeps_to_the_document(app, world):  # type: ignore[no-untyped-def]
    # Hundreds of uploads per operation: past the upload rate limit the fuzzer would meet only 429s
    # (tests/integration/test_sign_in_limits.py tests that limit).
    app.config["UPLOADS_PER_WINDOW"] = 1_000_000
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(ENDPOINTS)
    # The ones that delete last, so that the others still find their data; revoking keys at the very
    # end, since a generated key id may be the fuzzer's own key.
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.path.startswith("/api/v1/keys"),
                                    op.path, op.method))
    failures: list[str] = []
    reached: dict[str, set[int]] = defaultdict(set)
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        auth = world["tenant"].auth(_scope_of(operation.method, operation.path))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_operation(operation, mode, auth, world, reached[label])
            except (Exception, BaseExceptionGroup) as error:  # collected: one report for all
                failures.append(f"{label} ({mode.value}): {error}")
    assert not failures, "\n\n".join(failures)
    # The fuzzing reached the operations' real work, not only their refusals.
    unsuccessful = sorted(label for label, codes in reached.items()
                          if not any(200 <= code < 300 for code in codes))
    assert not unsuccessful, {label: sorted(reached[label]) for label in unsuccessful}
