"""Changing an account's dedup rule: the impact preview, apply (merging by address) and undo.

The expected figures come from a small model over the contacts as read from the database, not
from the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update

from segments.tables import contacts, external_ids

FIELDS = {"first_name": "text", "city": "text", "points": "number"}
ROWS = [["KlantNr", "E-mail", "first_name", "city", "points", "Status"],
        ["K1", "jan@home.nl", "Jan", "Utrecht", "1", ""],
        ["K2", "JAN@home.nl", "Marie", "", "2", "unsubscribed"],
        ["K3", " jan@home.nl", "", "Ede", "", ""],
        ["K4", "piet@work.nl", "Piet", "", "", ""],
        ["K5", "anna@x.nl", "Anna", "", "", "bounced"],
        ["K6", "Anna@X.nl", "", "Zwolle", "7", ""]]
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
          "mapping": {"E-mail": "email", "first_name": "first_name", "city": "city", "points": "points",
                      "Status": "status"}}
# updated_at per customer number (day of January 2026): decides the default representative.
UPDATED = {"K1": 20, "K2": 10, "K3": 30, "K4": 5, "K5": 1, "K6": 2}
SEVERITY = {"active": 0, "unsubscribed": 1, "bounced": 2}


@pytest.fixture
def family(make_tenant, import_rows, engine):  # type: ignore[no-untyped-def]
    tenant = make_tenant("family", "external_id", links={"crm": None}, fields=FIELDS)
    import_rows(tenant, ROWS, BY_CRM)
    # Through the typed table, so that SQLite stores the times as the service itself does.
    with engine.begin() as conn:
        for number, day in UPDATED.items():
            owner = select(external_ids.c.contact_id).where(external_ids.c.value == number).scalar_subquery()
            conn.execute(update(contacts).where(contacts.c.id == owner)
                         .values(updated_at=datetime(2026, 1, day, tzinfo=UTC)))
    return tenant


def _state(engine, account_id: int) -> dict:  # type: ignore[no-untyped-def]
    """Everything a change may touch, exactly as stored."""
    with engine.connect() as conn:
        contacts = conn.execute(text(
            "SELECT id, dedup_mode, email, address_key, status, attributes, created_at, updated_at "
            "FROM contacts WHERE account_id = :a ORDER BY id"), {"a": account_id}).all()
        ids = conn.execute(text("SELECT id, link_id, contact_id, value, merged FROM external_ids "
                                "WHERE account_id = :a ORDER BY id"), {"a": account_id}).all()
        mode = conn.execute(text("SELECT dedup_mode FROM accounts WHERE id = :a"), {"a": account_id}).scalar()
    normal = [tuple(json.loads(v) if isinstance(v, str) and v.startswith("{") else v for v in row)
              for row in contacts]
    return {"contacts": normal, "ids": [tuple(row) for row in ids], "mode": mode}


def _model(contacts: list[dict]) -> dict:
    """The expected merge: per shared address the survivor (latest updated_at, then lowest id),
    its fields filled from the others in that order, and the most restrictive status."""
    groups: dict[str, list[dict]] = {}
    for contact in contacts:
        groups.setdefault(contact["address_key"], []).append(contact)
    shared = {key: sorted(group, key=lambda c: (-c["updated_at"].timestamp(), c["id"]))
              for key, group in groups.items() if len(group) > 1}
    conflicts: dict[str, int] = {}
    survivors = {}
    for key, group in shared.items():
        fields = {}
        for contact in group:
            for name, value in contact["attributes"].items():
                fields.setdefault(name, value)
        survivors[key] = {"id": group[0]["id"], "fields": fields,
                          "status": max((c["status"] for c in group), key=SEVERITY.get),
                          "merged": [c["id"] for c in group[1:]]}
        names = {n for c in group for n in c["attributes"]} | {"status"}
        for name in names:
            values = {json.dumps(c["attributes"].get(name) if name != "status" else c["status"])
                      for c in group if (c["attributes"].get(name) if name != "status" else c["status"])}
            if len(values) > 1:
                conflicts[name] = conflicts.get(name, 0) + 1
    return {"shared": shared, "survivors": survivors, "conflicts": conflicts}


def _utc(contacts: list[dict]) -> list[dict]:
    """Contacts with updated_at as an aware time (SQLite hands back text without a zone)."""
    for contact in contacts:
        moment = contact["updated_at"]
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        contact["updated_at"] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return contacts


def test_the_preview_to_email_counts_what_would_merge(client, family, contacts_of):
    before = _utc(contacts_of(family.id))
    model = _model(before)
    response = client.get("/api/v1/dedup/preview?to=email", headers=family.auth("manage"))
    assert response.status_code == 200, response.json
    impact = response.json
    merged_away = sum(len(group) - 1 for group in model["shared"].values())
    assert (impact["shared_addresses"], impact["contacts_before"], impact["merged_away"],
            impact["contacts_after"]) == (len(model["shared"]), len(before), merged_away,
                                          len(before) - merged_away) == (2, 6, 3, 3)
    assert {c["field"]: c["addresses"] for c in impact["conflicts"]} == model["conflicts"]
    assert all(c["resolution"] for c in impact["conflicts"])
    example = next(e for e in impact["examples"] if e["address_key"] == "jan@home.nl")
    assert example["survivor"] == model["survivors"]["jan@home.nl"]["id"]
    assert example["after"] == {"status": "unsubscribed",
                                "fields": model["survivors"]["jan@home.nl"]["fields"]}
    assert _state_unchanged(client, family)


def _state_unchanged(client, tenant) -> bool:  # type: ignore[no-untyped-def]
    return client.get("/api/v1/account", headers=tenant.auth()).json["dedup_mode"] == "external_id"


def test_apply_merges_by_the_representative_and_keeps_every_id(client, family, contacts_of, engine):
    before = _utc(contacts_of(family.id))
    model = _model(before)
    by_number = {c["ids"]["crm"]: c["id"] for c in before}
    response = client.post("/api/v1/dedup/apply", json={"to": "email"}, headers=family.auth("admin"))
    assert response.status_code == 200, response.json
    assert response.json["merged"] == 3 and response.json["to"] == "email"
    after = {c["address_key"]: c for c in contacts_of(family.id)}
    assert len(after) == 3
    for key, survivor in model["survivors"].items():
        assert after[key]["id"] == survivor["id"]
        assert after[key]["attributes"] == survivor["fields"]
        assert after[key]["status"] == survivor["status"]
    # Every ID of a merged-away contact now finds its survivor.
    survivor_of = {merged: s["id"] for s in model["survivors"].values() for merged in s["merged"]}
    for number, contact_id in by_number.items():
        found = client.get(f"/api/v1/contacts?external_id.crm={number}", headers=family.auth()).json
        assert [c["id"] for c in found["contacts"]] == [survivor_of.get(contact_id, contact_id)], number
    assert client.get("/api/v1/account", headers=family.auth()).json["dedup_mode"] == "email"
    # The database now refuses a second contact at an address.
    with pytest.raises(Exception), engine.begin() as conn:  # noqa: B017,PT011  (the driver's IntegrityError)
        conn.execute(text("INSERT INTO contacts (account_id, dedup_mode, email, address_key, status, "
                          "attributes, created_at, updated_at) SELECT account_id, dedup_mode, email, "
                          "address_key, status, attributes, created_at, updated_at FROM contacts "
                          "WHERE account_id = :a AND address_key = 'piet@work.nl'"), {"a": family.id})


def test_an_import_by_a_merged_away_id_updates_the_survivor(client, family, contacts_of, import_rows):
    model = _model(_utc(contacts_of(family.id)))
    assert client.post("/api/v1/dedup/apply", json={"to": "email"},
                       headers=family.auth("admin")).status_code == 200
    job = import_rows(family, [["KlantNr", "E-mail", "city"], ["K3", "jan@home.nl", "Amersfoort"]],
                      {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"},
                       "mapping": {"E-mail": "email", "city": "city"}})
    assert (job["report"]["created"], job["report"]["updated"]) == (0, 1), job["report"]
    survivor = next(c for c in contacts_of(family.id) if c["address_key"] == "jan@home.nl")
    assert survivor["id"] == model["survivors"]["jan@home.nl"]["id"]
    assert survivor["attributes"]["city"] == "Amersfoort"
    assert len(contacts_of(family.id)) == 3


def test_undo_restores_the_account_exactly(client, family, engine):
    before = _state(engine, family.id)
    applied = client.post("/api/v1/dedup/apply", json={"to": "email"}, headers=family.auth("admin")).json
    assert _state(engine, family.id) != before
    undone = client.post("/api/v1/dedup/undo", json={"change_id": applied["change_id"]},
                         headers=family.auth("admin"))
    assert undone.status_code == 200, undone.json
    assert undone.json["restored"] == 3
    assert _state(engine, family.id) == before
    again = client.post("/api/v1/dedup/undo", json={"change_id": applied["change_id"]},
                        headers=family.auth("admin"))
    assert again.status_code == 409 and "undone already" in again.json["error"]["message"]
    assert _state(engine, family.id) == before


def test_undo_keeps_what_changed_since_the_merge(client, family, contacts_of, import_rows):
    before = {c["ids"]["crm"]: c for c in contacts_of(family.id)}
    model = _model(_utc(contacts_of(family.id)))
    survivor = model["survivors"]["jan@home.nl"]["id"]
    assert survivor == before["K3"]["id"]  # the most recently updated of jan@home.nl
    applied = client.post("/api/v1/dedup/apply", json={"to": "email"}, headers=family.auth("admin")).json
    # Since the merge, someone changes the survivor's city (its first name and points came from K1).
    import_rows(family, [["E-mail", "city"], ["jan@home.nl", "Amersfoort"]],
                {"match": {"by": "email"}, "mapping": {"E-mail": "email", "city": "city"}})
    assert client.post("/api/v1/dedup/undo", json={"change_id": applied["change_id"]},
                       headers=family.auth("admin")).status_code == 200
    restored = {c["ids"]["crm"]: c for c in contacts_of(family.id)}
    assert set(restored) == set(before)
    assert restored["K3"]["attributes"] == {"city": "Amersfoort"}  # changed since: stays; filled: back
    assert restored["K3"]["status"] == "active"  # the merge's unsubscribed status is taken back
    for number in ("K1", "K2", "K4", "K5", "K6"):  # merged away or untouched: exactly as they were
        assert restored[number] == before[number], number


def test_changes_to_external_id_list_contacts_without_an_id(client, make_tenant, import_rows):
    tenant = make_tenant("shop", "email", links={"crm": None, "shop": None}, fields=FIELDS)
    import_rows(tenant, [["E-mail", "first_name"], ["a@x.nl", "A"], ["b@x.nl", "B"]],
                {"match": {"by": "email"}, "mapping": {"E-mail": "email", "first_name": "first_name"}})
    import_rows(tenant, [["Nr", "E-mail"], ["S1", "a@x.nl"]],
                {"match": {"by": "external_id", "link": "shop", "column": "Nr"},
                 "mapping": {"E-mail": "email"}})
    preview = client.get("/api/v1/dedup/preview?to=external_id&link=shop", headers=tenant.auth()).json
    assert (preview["contacts"], preview["without_id"]) == (2, 1)
    assert [e["email"] for e in preview["examples"]] == ["b@x.nl"]
    by_crm = client.get("/api/v1/dedup/preview?to=external_id&link=crm", headers=tenant.auth()).json
    assert by_crm["without_id"] == 2
    applied = client.post("/api/v1/dedup/apply", json={"to": "external_id", "link": "shop"},
                          headers=tenant.auth("admin"))
    assert applied.status_code == 200 and applied.json["merged"] == 0
    assert client.get("/api/v1/account", headers=tenant.auth()).json["dedup_mode"] == "external_id"
    undone = client.post("/api/v1/dedup/undo", json={"change_id": applied.json["change_id"]},
                         headers=tenant.auth("admin"))
    assert undone.status_code == 200 and undone.json["dedup_mode"] == "email"
    assert client.get("/api/v1/account", headers=tenant.auth()).json["dedup_mode"] == "email"


def test_undo_to_email_is_refused_once_addresses_are_shared(client, make_tenant, import_rows):
    tenant = make_tenant("split", "email", links={"crm": None}, fields=FIELDS)
    applied = client.post("/api/v1/dedup/apply", json={"to": "external_id", "link": "crm"},
                          headers=tenant.auth("admin")).json
    import_rows(tenant, [["Nr", "E-mail"], ["1", "same@x.nl"], ["2", "same@x.nl"]],
                {"match": {"by": "external_id", "link": "crm", "column": "Nr"},
                 "mapping": {"E-mail": "email"}})
    refused = client.post("/api/v1/dedup/undo", json={"change_id": applied["change_id"]},
                          headers=tenant.auth("admin"))
    assert refused.status_code == 409 and "share addresses" in refused.json["error"]["message"]
    assert client.get("/api/v1/account", headers=tenant.auth()).json["dedup_mode"] == "external_id"


def test_scopes_and_tenants(client, family, make_tenant):
    other = make_tenant("other", "external_id", links={"crm": None})
    assert client.get("/api/v1/dedup/preview?to=email", headers=family.auth("send")).status_code == 403
    assert client.post("/api/v1/dedup/apply", json={"to": "email"},
                       headers=family.auth("manage")).status_code == 403
    applied = client.post("/api/v1/dedup/apply", json={"to": "email"}, headers=family.auth("admin")).json
    assert client.post("/api/v1/dedup/undo", json={"change_id": applied["change_id"]},
                       headers=family.auth("manage")).status_code == 403
    assert client.post("/api/v1/dedup/undo", json={"change_id": applied["change_id"]},
                       headers=other.auth("admin")).status_code == 404
    assert client.post("/api/v1/dedup/apply", json={"to": "email"},
                       headers=family.auth("admin")).status_code == 409  # already email
    assert client.get("/api/v1/dedup/preview?to=sms", headers=family.auth()).status_code == 400
    assert client.post("/api/v1/dedup/apply", json={"to": "external_id"},
                       headers=family.auth("admin")).status_code == 400  # no link named


def _history(engine, account_id: int) -> list[tuple]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT contact_id, status_from, status_to, source, source_id FROM contact_status_history "
            "WHERE account_id = :a ORDER BY id"), {"a": account_id})]


def test_a_merge_and_its_undo_record_the_status_changes_they_make(client, family, contacts_of, engine):
    ids = {c["ids"]["crm"]: c["id"] for c in contacts_of(family.id)}
    imported = _history(engine, family.id)
    # The first import: K2 came in unsubscribed, K5 bounced.
    assert [(r[0], r[1], r[2], r[3]) for r in imported] == [(ids["K2"], None, "unsubscribed", "import"),
                                                            (ids["K5"], None, "bounced", "import")]
    applied = client.post("/api/v1/dedup/apply", json={"to": "email"}, headers=family.auth("admin")).json
    change = applied["change_id"]
    merged = _history(engine, family.id)
    # The survivors K3 (jan@home.nl) and K6 (anna@x.nl) take the most restrictive status; the
    # merged-away contacts keep their history although they are gone.
    assert merged[:2] == imported
    assert sorted(merged[2:]) == sorted([(ids["K3"], "active", "unsubscribed", "merge", change),
                                         (ids["K6"], "active", "bounced", "merge", change)])
    assert client.post("/api/v1/dedup/undo", json={"change_id": change},
                       headers=family.auth("admin")).status_code == 200
    undone = _history(engine, family.id)
    assert undone[:4] == merged
    assert sorted(undone[4:]) == sorted([(ids["K3"], "unsubscribed", "active", "undo", change),
                                         (ids["K6"], "bounced", "active", "undo", change)])
    # The contacts that came back have their own history again, under their own ids.
    restored = {c["ids"]["crm"]: c["id"] for c in contacts_of(family.id)}
    assert restored == ids
