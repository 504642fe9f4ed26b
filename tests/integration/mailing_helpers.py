"""Helpers shared by the mailing and pre-send check test modules.

Everything goes through the real API (imports, segments, mailings, checks) except where a test must
pin a value the API does not let a user set (a contact's timestamps, to make a representative rule
decide), and where a test reads the send ledger table itself to check the guarantees.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

FIELDS = {"first_name": "text", "city": "text", "vip": "boolean"}
HEADER = ["KlantNr", "E-mail", "Voornaam", "Stad", "VIP", "Status"]
MAPPING = {"E-mail": "email", "Voornaam": "first_name", "Stad": "city", "VIP": "vip", "Status": "status"}
BY_CRM = {"match": {"by": "external_id", "link": "crm", "column": "KlantNr"}, "mapping": MAPPING}
BY_EMAIL = {"match": {"by": "email"}, "mapping": dict(MAPPING)}

EVERYONE = {"all": []}
IN_UTRECHT = {"field": "city", "op": "eq", "value": "Utrecht"}


@dataclass
class Account:
    """A test account: its Tenant (keys), and its contacts' ids by CRM number (or by address)."""

    tenant: Any
    ids: dict[str, int]

    def __getitem__(self, name: str) -> int:
        return self.ids[name]

    def auth(self, scope: str = "manage") -> dict[str, str]:
        return self.tenant.auth(scope)

    @property
    def id(self) -> int:
        return self.tenant.id


def crm_ids(engine, account_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The account's contacts by their own CRM number."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT e.value, e.contact_id FROM external_ids e JOIN links l ON l.id = e.link_id "
            "WHERE e.account_id = :a AND l.name = 'crm' AND NOT e.merged"), {"a": account_id}).all()
    return {value: contact_id for value, contact_id in rows}


def address_ids(engine, account_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """An email-mode account's contacts by address key."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT address_key, id FROM contacts WHERE account_id = :a"),
                            {"a": account_id}).all()
    return {key: contact_id for key, contact_id in rows}


def make_account(make_tenant, import_rows, engine, rows: list[list[str]], *,  # type: ignore[no-untyped-def]
                 name: str = "acme", mode: str = "external_id", fields: dict | None = None) -> Account:
    """An account with a `crm` link and FIELDS, its contacts imported from rows (HEADER first)."""
    tenant = make_tenant(name, mode, links={"crm": None}, fields=fields or FIELDS)
    if rows:
        import_rows(tenant, [HEADER, *rows], BY_CRM if mode == "external_id" else BY_EMAIL)
    ids = crm_ids(engine, tenant.id) if mode == "external_id" else address_ids(engine, tenant.id)
    return Account(tenant, ids)


def reimport(import_rows, account: Account, rows: list[list[str]]) -> None:  # type: ignore[no-untyped-def]
    """Update contacts by CRM number through an import, as a linked system's next sync would."""
    import_rows(account.tenant, [HEADER, *rows], BY_CRM)


def pin_times(engine, contact_id: int, *, updated: int | None = None,  # type: ignore[no-untyped-def]
              created: int | None = None) -> None:
    """Set a contact's updated_at / created_at to a fixed day of 2020 (1 = 2 January), so that a
    representative rule has a clear answer that does not hang on import timing."""
    base = datetime(2020, 1, 1, 12, 0, tzinfo=UTC)
    values = {}
    if updated is not None:
        values["updated_at"] = base + timedelta(days=updated)
    if created is not None:
        values["created_at"] = base + timedelta(days=created)
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE contacts SET {assignments} WHERE id = :id"), {**values, "id": contact_id})


def create_segment(client, account: Account, rules: dict, name: str | None = None) -> int:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/segments", json={"name": name or f"segment {rules!r}", "rules": rules},
                           headers=account.auth())
    assert response.status_code == 201, response.json
    return response.json["id"]


def create_mailing(client, account: Account, include: list[int], **settings) -> int:  # type: ignore[no-untyped-def]
    body = {"name": settings.pop("name", f"mailing {include} {sorted(settings.items())!r}"),
            "include": include, **settings}
    response = client.post("/api/v1/mailings", json=body, headers=account.auth())
    assert response.status_code == 201, response.json
    return response.json["id"]


def check(client, account: Account, mailing_id: int, contacts: list | None = None, *,  # type: ignore[no-untyped-def]
          addresses: list | None = None, key: str | None = None, scope: str = "send"):
    """POST a check; return the response (not asserted)."""
    body: dict[str, Any] = {}
    if contacts is not None:
        body["contacts"] = contacts
    if addresses is not None:
        body["addresses"] = addresses
    headers = account.auth(scope)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/mailings/{mailing_id}/check", json=body, headers=headers)


def verdicts(client, account: Account, mailing_id: int, contacts: list | None = None,  # type: ignore[no-untyped-def]
             **kwargs) -> list[dict]:
    """POST a check that must succeed; return its results. Every send must name the address it
    cleared; for a check by contact ids that address is left out of the results returned, so that
    tests compare verdicts (tests of the address itself read the response)."""
    response = check(client, account, mailing_id, contacts, **kwargs)
    assert response.status_code == 200, response.json
    results = response.json["results"]
    asked = contacts if contacts is not None else kwargs["addresses"]
    assert len(results) == len(asked), results
    for result in results:
        assert (result["verdict"] == "send") <= ("@" in result.get("address", "")), result
    if contacts is None:
        return results
    return [{k: v for k, v in r.items() if k != "address"} if r["verdict"] == "send" else r
            for r in results]


def send(contact: int | None, address: str | None = None) -> dict:
    """A send verdict; with `address`, as the check answers it (tests of verdicts() leave it out)."""
    return {**({"address": address} if address else {}), "contact": contact, "verdict": "send"}


def skip(contact: int | None, reason: str, duplicate_of: int | None = None) -> dict:
    answer: dict[str, Any] = {"contact": contact, "verdict": "skip", "reason": reason}
    if duplicate_of is not None:
        answer["duplicate_of"] = duplicate_of
    return answer


def post_states(client, account: Account, mailing_id: int, action: str, contacts: list[int]) -> int:  # type: ignore[no-untyped-def]
    """POST release or confirm; return the count it answers."""
    response = client.post(f"/api/v1/mailings/{mailing_id}/{action}", json={"contacts": contacts},
                           headers=account.auth("send"))
    assert response.status_code == 200, response.json
    return response.json["released" if action == "release" else "confirmed"]


def preview(client, account: Account, mailing_id: int) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/mailings/{mailing_id}/preview", headers=account.auth())
    assert response.status_code == 200, response.json
    return response.json


def ledger_table(engine, mailing_id: int) -> list[dict]:  # type: ignore[no-untyped-def]
    """The mailing's ledger rows as stored, in claim order."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, contact_id, address_key, slot, state, claimed_at, sent_at, released_at "
            "FROM send_ledger WHERE mailing_id = :m ORDER BY id"), {"m": mailing_id}).mappings().all()
    return [dict(row) for row in rows]


def states(engine, mailing_id: int) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    """(contact, state) of the mailing's ledger, in claim order."""
    return [(row["contact_id"], row["state"]) for row in ledger_table(engine, mailing_id)]


def active_per_address(engine, mailing_id: int) -> Counter:  # type: ignore[no-untyped-def]
    """How many active clearances (claimed or sent) each address key holds for the mailing."""
    return Counter(row["address_key"] for row in ledger_table(engine, mailing_id)
                   if row["state"] in ("claimed", "sent"))


@contextmanager
def client_process(database_url: str, upload_dir: str, key: str, out_path: str):  # type: ignore[no-untyped-def]
    """In a worker process: its own app, engine and connections, a warm client and the key's
    headers; the answers collected are written to out_path as JSON, whatever happens."""
    import json
    from pathlib import Path

    from service import background, create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "UPLOAD_DIR": upload_dir})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    answers: list[dict] = []
    try:
        assert client.get("/api/v1/account", headers=headers).status_code == 200  # connected and warm
        yield client, headers, answers
    finally:
        Path(out_path).write_text(json.dumps(answers))
        background.shutdown(app)
        app.extensions["safeguard.engine"].dispose()


def check_worker(database_url: str, upload_dir: str, send_key: str,  # type: ignore[no-untyped-def]
                 requests: list[tuple[int, str | None, list[int]]], barrier, out_path: str) -> None:
    """A mailing-system worker in an OS process of its own (run with the 'spawn' context). Waits for
    the others at the barrier, then POSTs each check (mailing id, Idempotency-Key or None, contact
    ids) and writes the answers to out_path as JSON."""
    import time

    with client_process(database_url, upload_dir, send_key, out_path) as (client, headers, answers):
        barrier.wait(timeout=120)
        for mailing_id, key, batch in requests:
            started = time.monotonic()
            response = client.post(f"/api/v1/mailings/{mailing_id}/check", json={"contacts": batch},
                                   headers={**headers, **({"Idempotency-Key": key} if key else {})})
            answers.append({"mailing": mailing_id, "key": key, "batch": batch, "status": response.status_code,
                            "body": response.get_json(), "started": started, "ended": time.monotonic()})


def post_worker(database_url: str, upload_dir: str, key: str,  # type: ignore[no-untyped-def]
                requests: list[tuple[str, dict]], barrier, out_path: str) -> None:
    """Like check_worker, for any POSTs: each (path, JSON body) in turn."""
    with client_process(database_url, upload_dir, key, out_path) as (client, headers, answers):
        barrier.wait(timeout=120)
        for path, body in requests:
            response = client.post(path, json=body, headers=headers)
            answers.append({"path": path, "status": response.status_code, "answer": response.get_json()})


def run_clients(worker, plans: list[tuple], tmp_path) -> list[list[dict]]:  # type: ignore[no-untyped-def]
    """Run `worker` in one OS process per plan (database url, upload dir, key, requests), released
    together at a barrier; return each process's answers."""
    import json
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(plans))
    outputs = [tmp_path / f"worker{n}.json" for n in range(len(plans))]
    processes = [context.Process(target=worker, args=(*plan, barrier, str(out)))
                 for plan, out in zip(plans, outputs, strict=True)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    assert [p.exitcode for p in processes] == [0] * len(processes), "a worker process failed (see its stderr)"
    return [json.loads(out.read_text()) for out in outputs]
