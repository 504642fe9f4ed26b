"""Renaming, changing and deleting segments over the API, on both databases (DESIGN.md's
`PATCH /api/v1/segments/{id}` and `DELETE /api/v1/segments/{id}`)."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session

from service.domain.segments import lock_segments, remove_segment
from service.errors import Conflict
from service.models import Account, Mailing
from tests.integration.segment_helpers import new_segment, recipients

ROWS = [["E-mail", "Stad"], ["ann@example.nl", "Utrecht"], ["bob@example.nl", "Delft"]]
SETTINGS = {"match": {"by": "email"}, "mapping": {"E-mail": "email", "Stad": "city"}}
IN_UTRECHT = {"field": "city", "op": "eq", "value": "Utrecht"}
IN_DELFT = {"field": "city", "op": "eq", "value": "Delft"}


@pytest.fixture
def tenant(make_tenant, import_rows):  # type: ignore[no-untyped-def]
    tenant = make_tenant("changes", fields={"city": "text"})
    import_rows(tenant, ROWS, SETTINGS)
    return tenant


def _patch(client, tenant, segment_id: int, body: dict):  # type: ignore[no-untyped-def]
    return client.patch(f"/api/v1/segments/{segment_id}", json=body, headers=tenant.auth())


def _emails(client, tenant, segment_id: int) -> set[str]:  # type: ignore[no-untyped-def]
    return {c["email"] for c in recipients(client, tenant, segment_id)}


def test_rename_and_change_the_rules(client, tenant):
    segment_id = new_segment(client, tenant, IN_UTRECHT, name="Utrecht")
    response = _patch(client, tenant, segment_id, {"name": "Delft"})
    assert response.status_code == 200, response.json
    assert (response.json["name"], response.json["rules"]) == ("Delft", IN_UTRECHT)
    response = _patch(client, tenant, segment_id, {"rules": IN_DELFT})
    assert response.status_code == 200, response.json
    assert (response.json["name"], response.json["rules"]) == ("Delft", IN_DELFT)
    assert _emails(client, tenant, segment_id) == {"bob@example.nl"}
    stored = client.get(f"/api/v1/segments/{segment_id}", headers=tenant.auth()).json
    assert (stored["name"], stored["rules"]) == ("Delft", IN_DELFT)


def test_bad_changes_are_refused_and_change_nothing(client, tenant):
    segment_id = new_segment(client, tenant, IN_UTRECHT, name="Utrecht")
    new_segment(client, tenant, IN_DELFT, name="Delft")
    taken = _patch(client, tenant, segment_id, {"name": "Delft"})
    assert (taken.status_code, taken.json["error"]["code"]) == (409, "conflict"), taken.json
    bad = _patch(client, tenant, segment_id, {"rules": {"field": "nope", "op": "eq", "value": 1}})
    assert bad.status_code == 400 and "unknown field 'nope'" in bad.json["error"]["message"], bad.json
    for body in ({"name": ""}, {"colour": "red"}, {"rules": []}):
        assert _patch(client, tenant, segment_id, body).status_code == 400, body
    stored = client.get(f"/api/v1/segments/{segment_id}", headers=tenant.auth()).json
    assert (stored["name"], stored["rules"]) == ("Utrecht", IN_UTRECHT)


def test_delete(client, tenant):
    segment_id = new_segment(client, tenant, IN_UTRECHT)
    response = client.delete(f"/api/v1/segments/{segment_id}", headers=tenant.auth())
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/api/v1/segments/{segment_id}", headers=tenant.auth()).status_code == 404
    again = client.delete(f"/api/v1/segments/{segment_id}", headers=tenant.auth())
    assert again.status_code == 404
    # The name is free again.
    new_segment(client, tenant, IN_DELFT, name="segment reused")


@pytest.mark.parametrize("role", ["include", "exclude"])
def test_a_segment_a_mailing_uses_is_not_deleted_nor_changed(client, tenant, role):
    used = new_segment(client, tenant, IN_UTRECHT, name="used")
    other = new_segment(client, tenant, {"all": []}, name="everyone")
    body = {"name": "Nieuwsbrief", "include": [used]} if role == "include" else \
        {"name": "Nieuwsbrief", "include": [other], "exclude": [used]}
    assert client.post("/api/v1/mailings", json=body, headers=tenant.auth()).status_code == 201
    refused = client.delete(f"/api/v1/segments/{used}", headers=tenant.auth())
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "in_use"), refused.json
    assert "Nieuwsbrief" in refused.json["error"]["message"]
    changed = _patch(client, tenant, used, {"rules": IN_DELFT})
    assert (changed.status_code, changed.json["error"]["code"]) == (409, "in_use"), changed.json
    assert _emails(client, tenant, used) == {"ann@example.nl"}
    # A new name changes nothing the mailing sends; the same rules again are no change either.
    renamed = _patch(client, tenant, used, {"name": "Utrecht (used)", "rules": IN_UTRECHT})
    assert renamed.status_code == 200 and renamed.json["name"] == "Utrecht (used)", renamed.json
    # The segment the mailing does not use can go.
    assert client.delete(f"/api/v1/segments/{other if role == 'include' else used}",
                         headers=tenant.auth()).status_code == (204 if role == "include" else 409)


def test_another_accounts_segment_cannot_be_changed(client, tenant, make_tenant):
    segment_id = new_segment(client, tenant, IN_UTRECHT, name="mine")
    intruder = make_tenant("intruder", fields={"city": "text"})
    assert _patch(client, intruder, segment_id, {"name": "theirs"}).status_code == 404
    assert client.delete(f"/api/v1/segments/{segment_id}", headers=intruder.auth()).status_code == 404
    assert client.get(f"/api/v1/segments/{segment_id}", headers=tenant.auth()).json["name"] == "mine"


def test_a_mailing_being_made_holds_its_segments(engine, client, tenant, database_url):
    """Deleting a segment waits for a mailing being made with it, then sees that mailing (PostgreSQL
    row locks; SQLite's one writer serialises them anyway)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks: SQLite has one writer at a time")
    segment_id = new_segment(client, tenant, IN_UTRECHT, name="held")
    with Session(engine) as making:
        account = making.get(Account, tenant.id)
        assert lock_segments(making, tenant.id, [segment_id], share=True) == {segment_id}
        outcome: list[BaseException | None] = []

        def delete() -> None:
            with Session(engine) as deleting:
                try:
                    remove_segment(deleting, account=deleting.get(Account, tenant.id), segment_id=segment_id)
                    outcome.append(None)
                except Conflict as refused:
                    outcome.append(refused)

        deleter = threading.Thread(target=delete)
        deleter.start()
        deleter.join(timeout=1)
        assert deleter.is_alive(), "the delete did not wait for the mailing being made"
        making.add(Mailing(account_id=account.id, name="made meanwhile", include=[segment_id],
                           representative={"rule": "most_recently_updated"}))
        making.commit()
    deleter.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict) and outcome[0].code == "in_use"
