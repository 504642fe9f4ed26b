"""GET /api/v1/imports: the account's imports newest first, each with its report, real imports
numbered 1, 2, 3 and dry runs not numbered; paged by cursor. On SQLite and PostgreSQL."""

from __future__ import annotations

ROWS = [["E-mail", "Stad"], ["ann@example.com", "Utrecht"], ["bob@example.com", "Delft"]]
SETTINGS = {"match": {"by": "email"}, "mapping": {"E-mail": "email"}, "has_header": True, "delimiter": ","}


def _imports(client, tenant, query: str = "") -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/imports{query}", headers=tenant.auth())
    assert response.status_code == 200, response.json
    return response.json


def test_newest_first_with_reports_and_numbers_for_real_imports(client, make_tenant, import_ok) -> None:
    tenant = make_tenant("acme")
    first = import_ok(tenant, ROWS, SETTINGS)
    dry = import_ok(tenant, ROWS, {**SETTINGS, "dry_run": True})
    second = import_ok(tenant, ROWS[:2], SETTINGS, filename="again.csv")

    listed = _imports(client, tenant)
    assert [job["id"] for job in listed["imports"]] == [second["id"], dry["id"], first["id"]]
    assert [(job["number"], job["dry_run"]) for job in listed["imports"]] == \
        [(2, False), (None, True), (1, False)]
    assert listed["next_cursor"] is None
    assert listed["imports"][0]["filename"] == "again.csv"
    assert listed["imports"][0]["report"]["unchanged"] == 1
    assert listed["imports"][1]["report"]["created"] == 0  # the dry run wrote nothing...
    assert listed["imports"][2]["report"]["created"] == 2
    # ...and the one import's own answer says the same numbers
    assert client.get(f"/api/v1/imports/{second['id']}", headers=tenant.auth()).json["number"] == 2
    assert client.get(f"/api/v1/imports/{dry['id']}", headers=tenant.auth()).json["number"] is None
    assert second["number"] == 2 and dry["number"] is None


def test_pages_by_cursor_and_only_the_accounts_own(client, make_tenant, import_ok) -> None:
    tenant, other = make_tenant("acme"), make_tenant("other")
    ids = [import_ok(tenant, ROWS, SETTINGS)["id"] for _ in range(3)]
    import_ok(other, ROWS, SETTINGS)
    assert [job["number"] for job in _imports(client, other)["imports"]] == [1]  # numbered per account

    page = _imports(client, tenant, "?limit=2")
    assert [job["id"] for job in page["imports"]] == ids[:0:-1] and page["next_cursor"] == ids[1]
    rest = _imports(client, tenant, f"?limit=2&cursor={page['next_cursor']}")
    assert [(job["id"], job["number"]) for job in rest["imports"]] == [(ids[0], 1)]
    assert rest["next_cursor"] is None
    past_any_id = _imports(client, tenant, "?cursor=99999999999999999999")
    assert len(past_any_id["imports"]) == 3  # from the top
    for bad in ("?limit=0", "?limit=1001", "?cursor=-1", "?limit=x"):
        response = client.get(f"/api/v1/imports{bad}", headers=tenant.auth())
        assert response.status_code == 400, (bad, response.json)
    assert client.get("/api/v1/imports", headers=tenant.auth("send")).status_code == 403
