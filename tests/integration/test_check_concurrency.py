"""The pre-send check under concurrent workers: several OS processes (the 'spawn' context), each with
its own app and engine on the same database (a SQLite file, a PostgreSQL schema), check overlapping
batches of the same mailings at once. The guarantees are then read back from the send ledger table."""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lock_helpers import wait_until_blocked_by
from mailing_helpers import (
    IN_UTRECHT,
    check_worker,
    create_mailing,
    create_segment,
    ledger_table,
    make_account,
    pin_times,
    run_clients,
    skip,
)
from sqlalchemy import text

WORKERS = 4
BATCH = 40
MODES = {
    "collapse": {},
    "opt_in": {"allow_shared_address": True},
    "personalized": {"allow_shared_address": True, "personalized_by": ["first_name"]},
}


def _run_workers(database_url: str, tmp_path: Path, send_key: str,
                 plans: list[list[tuple[int, str | None, list[int]]]]) -> list[list[dict]]:
    """Run one process per plan, released together at a barrier; return each process's answers."""
    return run_clients(check_worker, [(database_url, str(tmp_path / "uploads"), send_key, plan)
                                      for plan in plans], tmp_path)


def _households(rng: random.Random, addresses: int) -> list[list[str]]:
    """Households of 1 to 5 contacts at one inbox; some unsubscribed, some bounced, some outside
    Utrecht; first names repeat (in other cases) so that personalisation has work to do."""
    rows, n = [], 0
    for a in range(addresses):
        for _ in range(rng.choice([1, 2, 2, 3, 3, 4, 5])):
            address = f"home{a}@example.nl"
            rows.append([f"C{n}", rng.choice([address, address.upper()]),
                         rng.choice(["Anna", "anna", "Bert", "Carl", ""]),
                         rng.choice(["Utrecht"] * 5 + ["Amsterdam"]), "",
                         rng.choice([""] * 12 + ["unsubscribed", "bounced"])])
            n += 1
    return rows


def _mailable(rows: list[list[str]], ids: dict[str, int]) -> dict[int, tuple[str, str | None]]:
    """contact id -> (address key, lower-cased first name) of everyone the mailings may send to."""
    bounced = {email.lower() for _, email, _, _, _, status in rows if status == "bounced"}
    return {ids[crm]: (email.lower(), first.lower() or None)
            for crm, email, first, city, _, status in rows
            if city == "Utrecht" and status == "" and email.lower() not in bounced}


def _slot(mode: str, mailable: dict[int, tuple[str, str | None]], contact: int) -> object:
    """What one clearance occupies, by the contract: the address, the contact, or the address
    and the personalisation."""
    if mode == "collapse":
        return mailable[contact][0]
    if mode == "opt_in":
        return contact
    return mailable[contact]


def _overlapped(answers: list[list[dict]], mailing: int) -> bool:
    """Did checks of this mailing by different processes run at the same time?"""
    spans = [(a["started"], a["ended"], n) for n, worker in enumerate(answers) for a in worker
             if a["mailing"] == mailing]
    return any(s1 < e2 and s2 < e1 and n1 != n2 for s1, e1, n1 in spans for s2, e2, n2 in spans)


def test_concurrent_workers_keep_the_send_guarantees(client, make_tenant, import_rows, engine, database_url,
                                                     tmp_path):
    rng = random.Random(4242)
    rows = _households(rng, 90)
    account = make_account(make_tenant, import_rows, engine, rows, name="households")
    assert len(account.ids) == len(rows)
    segment = create_segment(client, account, IN_UTRECHT)
    mailings = {mode: create_mailing(client, account, [segment], name=mode, **settings)
                for mode, settings in MODES.items()}
    retried = create_mailing(client, account, [segment], name="retried")
    everyone = sorted(account.ids.values())
    mailable = _mailable(rows, account.ids)

    # Each worker checks everyone for each mailing, in an order of its own, in batches, going
    # round the mailings; then all of them send the same keyed batches of `retried` (a retry storm).
    plans = []
    for _ in range(WORKERS):
        batches = {}
        for mode, mailing in mailings.items():
            order = list(everyone)
            rng.shuffle(order)
            batches[mode] = [(mailing, None, order[i:i + BATCH]) for i in range(0, len(order), BATCH)]
        plans.append([request for round_ in zip(*batches.values(), strict=True) for request in round_])
    storm = list(everyone)
    random.Random(7).shuffle(storm)
    storm_plan = [(retried, f"retry-{i}", storm[i:i + 60]) for i in range(0, len(storm), 60)]
    plans = [plan + storm_plan for plan in plans]

    answers = _run_workers(database_url, tmp_path, account.tenant.keys["send"], plans)
    for worker in answers:
        for answer in worker:
            assert answer["status"] == 200, answer
            assert [r["contact"] for r in answer["body"]["results"]] == answer["batch"]

    wrong_duplicate_of = []
    for mode, mailing in mailings.items():
        assert _overlapped(answers, mailing), f"{mode}: the workers' checks did not run at the same time"
        results = [r for worker in answers for a in worker if a["mailing"] == mailing
                   for r in a["body"]["results"]]
        slots = Counter({_slot(mode, mailable, c) for c in mailable})
        if mode != "opt_in":
            assert len(slots) < len(mailable), "the data has no shared slots to fight over"

        ledger = ledger_table(engine, mailing)
        assert {row["state"] for row in ledger} == {"claimed"}, mode
        cleared = [row["contact_id"] for row in ledger]
        assert len(cleared) == len(set(cleared)), f"{mode}: a contact was cleared twice"
        assert set(cleared) <= set(mailable), f"{mode}: an unmailable contact was cleared"
        assert Counter(_slot(mode, mailable, c) for c in cleared) == slots, \
            f"{mode}: not every slot was cleared exactly once"
        if mode == "collapse":
            per_address = Counter(row["address_key"] for row in ledger)
            assert per_address == Counter({key for key, _ in mailable.values()}), \
                "an address holds two clearances, or a mailable address none"

        # Every `send` answered is one claim in the ledger, and there is no claim without one.
        sent = [r["contact"] for r in results if r["verdict"] == "send"]
        assert sorted(sent) == sorted(cleared), mode
        holder = {_slot(mode, mailable, c): c for c in cleared}
        for r in results:
            contact = r["contact"]
            if r["verdict"] == "send":
                continue
            if contact not in mailable:
                assert r["reason"] in ("not_in_mailing", "unsubscribed", "bounced"), (mode, r)
            elif r["reason"] == "already_claimed":
                assert holder[_slot(mode, mailable, contact)] == contact, (mode, r)
            else:
                assert r["reason"] == "duplicate_address" and mode != "opt_in", (mode, r)
                # Nothing was released: the contact that held the slot then holds it now.
                if r.get("duplicate_of") != holder[_slot(mode, mailable, contact)]:
                    wrong_duplicate_of.append((mode, r, holder[_slot(mode, mailable, contact)]))

    # The retry storm: one answer per key, whichever process asked, and only its claims.
    first = [a["body"] for a in answers[0] if a["mailing"] == retried]
    for worker in answers[1:]:
        assert [a["body"] for a in worker if a["mailing"] == retried] == first
    sent = [r["contact"] for body in first for r in body["results"] if r["verdict"] == "send"]
    cleared = [row["contact_id"] for row in ledger_table(engine, retried)]
    assert sorted(sent) == sorted(cleared)
    assert Counter(mailable[c][0] for c in cleared) == Counter({key for key, _ in mailable.values()})

    # Last, as it concerns the answers rather than the ledger: a skip's duplicate_of is the contact
    # that holds the address (the contract), also when the batch's own pick lost a race.
    assert wrong_duplicate_of == [], (
        f"{len(wrong_duplicate_of)} duplicate_address skips name a contact that does not hold the "
        f"address; (mode, answer, actual holder): {wrong_duplicate_of[:5]}")


# PostgreSQL only: SQLite runs one check at a time (BEGIN IMMEDIATE), so there is no race to lose.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lost_race_is_answered_with_the_contact_that_won(client, make_tenant, import_rows, engine,
                                                            database_url):
    """Deterministic form of a race between two workers (PostgreSQL, where checks run side by side):
    a check of [A, C] reads the ledger and picks A (the representative); before it writes A's claim,
    another worker's claim for B at the same inbox commits. A then loses the race, and C, which the
    check skipped in favour of A, must be told the contact that really holds the inbox: B. D, at an
    inbox nobody else claimed, keeps its claim although the batch's first insert failed on A's."""
    account = make_account(make_tenant, import_rows, engine, [
        ["A", "inbox@example.nl", "", "Utrecht", "", ""],
        ["B", "inbox@example.nl", "", "Utrecht", "", ""],
        ["C", "inbox@example.nl", "", "Utrecht", "", ""],
        ["D", "alone@example.nl", "", "Utrecht", "", ""],
    ], name="race")
    for name, day in (("A", 3), ("B", 2), ("C", 1)):
        pin_times(engine, account[name], updated=day)  # A is the representative
    mailing = create_mailing(client, account, [create_segment(client, account, IN_UTRECHT)])

    answers: list = []
    with engine.connect() as blocker:
        transaction = blocker.begin()
        # Hold back every write to the ledger (reads go on): the check will wait at its claim.
        blocker.execute(text("LOCK TABLE send_ledger IN SHARE MODE"))
        batch = {"contacts": [account["A"], account["C"], account["D"]]}
        worker = threading.Thread(target=lambda: answers.append(client.post(
            f"/api/v1/mailings/{mailing}/check", json=batch, headers=account.auth("send"))))
        worker.start()
        wait_until_blocked_by(engine, blocker, "the check (at its claim)", within=20)
        # Meanwhile another worker cleared B: its claim (slot = the address key) commits first.
        blocker.execute(text(
            "INSERT INTO send_ledger (mailing_id, contact_id, address_key, slot, state, claimed_at) "
            "VALUES (:m, :c, 'inbox@example.nl', 'inbox@example.nl', 'claimed', :now)"),
            {"m": mailing, "c": account["B"], "now": datetime.now(UTC)})
        transaction.commit()
        worker.join(timeout=30)
    [response] = answers
    assert response.status_code == 200, response.json
    a_verdict, c_verdict, d_verdict = response.json["results"]
    assert a_verdict == skip(account["A"], "duplicate_address", account["B"])  # A lost the race to B
    assert d_verdict["verdict"] == "send" and d_verdict["contact"] == account["D"]
    assert sorted((row["contact_id"], row["state"]) for row in ledger_table(engine, mailing)) == sorted([
        (account["B"], "claimed"), (account["D"], "claimed")])
    assert c_verdict == skip(account["C"], "duplicate_address", account["B"]), (
        "C is told that A holds the inbox, but A lost the race: B holds it")


def test_served_workers_clear_each_address_once(client, make_tenant, import_rows, engine, database_url,
                                                 tmp_path):
    """End to end: `safeguard serve` with three gunicorn worker processes (tests/served.py: a process
    group of its own, stopped also when the test fails); four mailing-system clients check overlapping
    batches over HTTP at once and confirm what they were cleared for."""
    from concurrent.futures import ThreadPoolExecutor

    from served import HttpClient, free_port, safeguard_command, serving

    rows = _households(random.Random(99), 50)
    account = make_account(make_tenant, import_rows, engine, rows, name="served")
    mailing = create_mailing(client, account, [create_segment(client, account, IN_UTRECHT)])
    mailable = _mailable(rows, account.ids)
    key = account.tenant.keys["send"]
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SAFEGUARD_UPLOAD_DIR": str(tmp_path / "uploads")}
    with serving([*safeguard_command(), "serve", "--port", str(port), "--workers", "3"], port=port, env=env,
                 log=tmp_path / "server.log", cwd=tmp_path) as server:
        barrier = threading.Barrier(4)

        def mailing_system(seed: int) -> list[dict]:
            http = HttpClient(server.base)
            order = sorted(account.ids.values())
            random.Random(seed).shuffle(order)
            barrier.wait(timeout=30)
            results = []
            for i in range(0, len(order), 25):
                status, body = http.json("POST", f"/api/v1/mailings/{mailing}/check", key=key,
                                         payload={"contacts": order[i:i + 25]})
                assert status == 200, body
                results += body["results"]
                cleared = [r["contact"] for r in body["results"] if r["verdict"] == "send"]
                status, body = http.json("POST", f"/api/v1/mailings/{mailing}/confirm", key=key,
                                         payload={"contacts": cleared})
                assert status == 200 and body == {"confirmed": len(cleared)}, body
            return results

        with ThreadPoolExecutor(4) as pool:
            results = [r for answer in pool.map(mailing_system, range(4)) for r in answer]

    ledger = ledger_table(engine, mailing)
    assert {row["state"] for row in ledger} == {"sent"}
    assert Counter(row["address_key"] for row in ledger) == Counter({a for a, _ in mailable.values()})
    assert set(row["contact_id"] for row in ledger) <= set(mailable)
    assert sorted(r["contact"] for r in results if r["verdict"] == "send") == sorted(
        row["contact_id"] for row in ledger)
