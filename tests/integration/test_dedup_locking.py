"""While a dedup change holds an account, its imports and checks wait; they never interleave."""

from __future__ import annotations

import threading

import pytest
from lock_helpers import wait_until_blocked_by

from service.domain.dedup_change import hold_account_for_change

# SQLite shows nobody who waits for its write lock: there, a request that is still unanswered this
# long after it started is taken to be waiting. PostgreSQL names the sessions a lock blocks.
SQLITE_GRACE = 0.5
BLOCKED_WITHIN = 30.0


class Holder:
    """Holds an account the way applying a dedup change does, until released."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.conn = engine.connect().execution_options(sqlite_immediate=True)
        self.transaction = None

    def hold(self, account_id: int) -> None:
        self.transaction = self.conn.begin()
        hold_account_for_change(self.conn, account_id)

    def wait_until_someone_waits(self, worker: threading.Thread) -> None:
        """Return once another session waits for this hold (or, on SQLite, seems to)."""
        if self.conn.dialect.name == "sqlite":
            worker.join(timeout=SQLITE_GRACE)
            return
        wait_until_blocked_by(self.engine, self.conn, "a request (for the account's hold)",
                              within=BLOCKED_WITHIN, worker=worker)

    def release(self) -> None:
        self.transaction.commit()


@pytest.fixture
def held(engine):  # type: ignore[no-untyped-def]
    holder = Holder(engine)
    yield holder
    if holder.transaction is not None and holder.transaction.is_active:
        holder.transaction.rollback()
    holder.conn.close()


def _in_background(call):  # type: ignore[no-untyped-def]
    answers: list = []
    worker = threading.Thread(target=lambda: answers.append(call()))
    worker.start()
    return worker, answers


def test_a_check_waits_for_a_change_to_finish(client, make_tenant, import_rows, held):
    tenant = make_tenant("held", "external_id", links={"crm": None})
    import_rows(tenant, [["Nr", "E-mail"], ["1", "a@x.nl"], ["2", "b@x.nl"]],
                {"match": {"by": "external_id", "link": "crm", "column": "Nr"},
                 "mapping": {"E-mail": "email"}})
    segment = client.post("/api/v1/segments", json={"name": "all", "rules": {"all": []}},
                          headers=tenant.auth()).json["id"]
    mailing = client.post("/api/v1/mailings", json={"name": "m", "include": [segment]},
                          headers=tenant.auth()).json["id"]
    contacts = [c["id"] for c in client.get("/api/v1/contacts", headers=tenant.auth()).json["contacts"]]
    held.hold(tenant.id)
    worker, answers = _in_background(lambda: client.post(
        f"/api/v1/mailings/{mailing}/check", json={"contacts": contacts}, headers=tenant.auth("send")))
    held.wait_until_someone_waits(worker)
    assert answers == [], "the check ran while the account was held by a change"
    held.release()
    worker.join(timeout=30)
    [answer] = answers
    assert answer.status_code == 200, answer.json
    assert [r["verdict"] for r in answer.json["results"]] == ["send", "send"]


def test_an_import_waits_for_a_change_or_is_refused_clearly(post_import, make_tenant, held, contacts_of,
                                                             database_url):
    """PostgreSQL queues the import on the account's lock; SQLite, which has one writer at a time,
    refuses a request that must write meanwhile with a 503 to retry. Nothing interleaves."""
    tenant = make_tenant("held", "email")
    held.hold(tenant.id)
    worker, answers = _in_background(lambda: post_import(
        tenant, [["email"], ["a@x.nl"]], {"mapping": {"email": "email"}}))
    held.wait_until_someone_waits(worker)
    assert contacts_of(tenant.id) == [], "the import ran while the account was held"
    if database_url.startswith("sqlite"):
        worker.join(timeout=60)
        [answer] = answers
        assert answer.status_code == 503, answer.json
        assert answer.json["error"]["code"] == "busy" and answer.headers["Retry-After"]
        held.release()
        assert contacts_of(tenant.id) == []
        return
    assert answers == [], "the import did not wait for the change"
    held.release()
    worker.join(timeout=60)
    [answer] = answers
    assert answer.status_code == 200 and answer.json["status"] == "succeeded", answer.json
    assert [c["email"] for c in contacts_of(tenant.id)] == ["a@x.nl"]
