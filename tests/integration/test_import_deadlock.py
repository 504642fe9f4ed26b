"""An import that PostgreSQL picks as a deadlock's victim runs its apply again instead of failing
(found by tests/integration/test_chaos_concurrency.py: an import's contacts UPDATE and a concurrent
check's FOR SHARE locks met from opposite ends; the import failed "unexpectedly").

Made deterministic here: a transaction standing for a check holds one contact FOR SHARE; the import's
UPDATE of that contact waits for it; then the same transaction asks for what the import holds (the
account's row, which an import locks first), which closes the cycle. Its own deadlock_timeout is long,
so that PostgreSQL breaks the cycle on the import's side."""

from __future__ import annotations

import threading

import pytest
from lock_helpers import wait_until_blocked_by
from mailing_helpers import BY_CRM, HEADER, make_account
from sqlalchemy import text


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has one writer: no cycle
def test_an_import_chosen_as_a_deadlock_victim_applies_again(client, make_tenant, import_rows, post_import,
                                                             engine, contacts_of):
    account = make_account(make_tenant, import_rows, engine, [
        ["A", "a@example.nl", "Anna", "Utrecht", "", ""], ["B", "b@example.nl", "Bert", "Utrecht", "", ""]])
    answers: list = []
    with engine.connect() as blocker:
        transaction = blocker.begin()
        blocker.execute(text("SET LOCAL deadlock_timeout = '30s'"))
        blocker.execute(text("SELECT id FROM contacts WHERE id = :a FOR SHARE"), {"a": account["A"]})
        rows = [HEADER, ["A", "a@example.nl", "Annie", "Utrecht", "", ""],
                ["B", "b@example.nl", "Berta", "Utrecht", "", ""]]
        importing = threading.Thread(target=lambda: answers.append(post_import(
            account.tenant, rows, {"has_header": True, "delimiter": ",", **BY_CRM}).json))
        importing.start()
        wait_until_blocked_by(engine, blocker, "the import (for the contact)")
        # The cycle: this waits for the import, which waits for this. PostgreSQL rolls the import back.
        blocker.execute(text("SELECT id FROM accounts WHERE id = :a FOR UPDATE"), {"a": account.id})
        transaction.commit()
        importing.join(timeout=120)
    [job] = answers
    assert job["status"] == "succeeded", job["error"]
    assert (job["report"]["updated"], job["attempts"]) == (2, 1), job
    names = {c["ids"]["crm"]: c["attributes"]["first_name"] for c in contacts_of(account.id)}
    assert names == {"A": "Annie", "B": "Berta"}
