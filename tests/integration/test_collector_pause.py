"""The import and the pre-send check pause the garbage collector without undoing each other's pause.

In a threaded worker an import (the import thread pool) and a check (a request thread) run at
once; the collector is process-wide. Each test holds a pause in another thread across the end of
a real import or check, and the collector must stay off until that thread leaves too.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from collector_threads import held_in_another_thread
from mailing_helpers import EVERYONE, create_mailing, create_segment, make_account, send, verdicts

from service.domain import send_check


@pytest.fixture(autouse=True)
def collecting() -> Iterator[None]:
    assert gc.isenabled()
    yield
    gc.enable()


def test_an_import_that_ends_leaves_the_collector_off_for_another_thread(make_tenant, import_ok):
    tenant = make_tenant()
    with held_in_another_thread():
        job = import_ok(tenant, [["email"], ["an@example.nl"], ["bo@example.nl"]],
                        {"mapping": {"email": "email"}})
        assert job["report"]["created"] == 2
        assert not gc.isenabled()  # the other thread still holds its pause
    assert gc.isenabled()


def test_a_check_that_ends_leaves_the_collector_off_for_a_pause_begun_during_it(
        client, make_tenant, import_rows, engine, monkeypatch):
    account = make_account(make_tenant, import_rows, engine, [["K1", "an@example.nl", "An", "", "", ""]])
    mailing = create_mailing(client, account, [create_segment(client, account, EVERYONE)])
    other = ExitStack()
    real_run_check = send_check._run_check

    def run_check_while_another_thread_pauses(*args: Any) -> dict:
        # Begun while the check holds its pause, held on after the check has answered.
        other.enter_context(held_in_another_thread())
        return real_run_check(*args)

    monkeypatch.setattr(send_check, "_run_check", run_check_while_another_thread_pauses)
    with other:
        assert verdicts(client, account, mailing, [account["K1"]]) == [send(account["K1"])]
        assert not gc.isenabled()
    assert gc.isenabled()
