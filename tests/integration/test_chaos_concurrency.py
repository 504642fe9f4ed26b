"""The send guarantees under load, end to end (issue 11, "Concurrency"): `safeguard serve` with several
gunicorn processes (tests/served.py: a process group of its own, stopped whatever happens), 16
mailing-system clients checking overlapping batches by contact and by address, confirming and
releasing what they were cleared for, while imports move contacts between inboxes and events opt
contacts out, all at once, for a bounded time, on SQLite and PostgreSQL.

Afterwards: no inbox holds two active clearances of a mailing, counted both by the `address` each
`send` answer carried and by the ledger; no answer was a 5xx; `database is locked` appears in no
answer and no server log; and no contact was cleared after the event that opted it out committed.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailing_helpers import BY_CRM, EVERYONE, HEADER, create_mailing, create_segment, make_account
from served import HttpClient, free_port, safeguard_command, serving
from sqlalchemy import bindparam, text

from service import background
from service.domain.contacts import lookup_key

CLIENTS = 16
LOAD_SECONDS = 20
HOMES = 90  # inboxes; the contacts share them, and move between them
CONTACTS = 200
MAILINGS = 3


@dataclass
class Load:
    """Everything the actors saw, in the order they saw it (times: this process's monotonic clock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: list[tuple[str, int, str]] = field(default_factory=list)  # (what, status, body)
    # mailing, contact, address, when the check was asked
    sends: list[tuple[int, int, str, float]] = field(default_factory=list)
    released: list[tuple[int, int]] = field(default_factory=list)  # mailing, contact
    opted_out: dict[int, float] = field(default_factory=dict)  # contact named by an event -> answered at
    skips: Counter = field(default_factory=Counter)
    moves: int = 0

    def answered(self, what: str, status: int, body: bytes) -> Any:
        with self.lock:
            self.answers.append((what, status, body.decode("utf-8", "replace")))
        return json.loads(body) if status == 200 else None


def _address(home: int) -> str:
    return f"home{home}@example.nl"


def _rows(rng: random.Random) -> list[list[str]]:
    return [[f"C{n}", _address(rng.randrange(HOMES)), f"Name{n}", "Utrecht", "", ""] for n in range(CONTACTS)]


def _guarded(run: Any, failures: list[BaseException]) -> Any:
    """`run`, its failure (an actor's assertion, a connection refused) kept for the test to report."""
    def call(*args: Any) -> None:
        try:
            run(*args)
        except BaseException as error:
            failures.append(error)
    return call


def _checker(server: HttpClient, key: str, mailings: list[int], ids: list[int], load: Load, seed: int,
             until: float) -> None:
    """A mailing-system worker: check a batch, then confirm most of what it was cleared for and release
    the rest (a delivery that failed before sending)."""
    rng = random.Random(seed)
    while time.monotonic() < until:
        mailing = rng.choice(mailings)
        if rng.random() < 0.5:
            body: dict = {"contacts": rng.sample(ids, 12)}
        else:  # by address, typed as people type them
            body = {"addresses": [rng.choice([a, a.upper(), f" {a}"]) for a in
                                  (_address(h) for h in rng.sample(range(HOMES), 10))]}
        asked = time.monotonic()
        answer = server.request("POST", f"/api/v1/mailings/{mailing}/check", key=key, payload=body)
        result = load.answered("check", answer.status, answer.body)
        if result is None:
            continue
        cleared = [r for r in result["results"] if r["verdict"] == "send"]
        with load.lock:
            load.sends += [(mailing, r["contact"], r["address"], asked) for r in cleared]
            load.skips.update(r["reason"] for r in result["results"] if r["verdict"] == "skip")
        back = [r["contact"] for r in cleared if rng.random() < 0.3]
        sent = [r["contact"] for r in cleared if r["contact"] not in back]
        for action, contacts in (("release", back), ("confirm", sent)):
            if not contacts:
                continue
            answer = server.request("POST", f"/api/v1/mailings/{mailing}/{action}", key=key,
                                    payload={"contacts": contacts})
            counted = load.answered(action, answer.status, answer.body)
            if counted is not None:
                assert counted == {"released" if action == "release" else "confirmed": len(contacts)}, counted
                if action == "release":
                    with load.lock:
                        load.released += [(mailing, c) for c in contacts]


def _importer(server: HttpClient, key: str, load: Load, until: float) -> None:
    """A CRM sync: now and then an import moves a few contacts to other inboxes (saying `active`, which
    must not make an opted-out contact mailable again) and adds a few at inboxes others may hold."""
    rng = random.Random(17)
    added = 0
    while time.monotonic() < until:
        rows = [[f"C{n}", _address(rng.randrange(HOMES)), f"Name{n}", "Utrecht", "", "active"]
                for n in rng.sample(range(CONTACTS), 15)]
        rows += [[f"N{added + n}", _address(rng.randrange(HOMES)), "New", "Utrecht", "", ""]
                 for n in range(3)]
        added += 3
        content = "\r\n".join(",".join(row) for row in [HEADER, *rows]).encode() + b"\r\n"
        status, job = server.upload("/api/v1/imports?wait=true", key, content,
                                    {"has_header": True, "delimiter": ",", **BY_CRM})
        load.answered("import", status, json.dumps(job).encode())
        if status == 200 and job["status"] == "succeeded":
            load.moves += job["report"]["updated"]
            assert job["report"]["created"] == 3, job["report"]
        time.sleep(0.3)


def _reporter(server: HttpClient, key: str, ids: list[int], load: Load, until: float) -> None:
    """The mailing system's event feed: unsubscribes by contact, bounces and complaints by address."""
    rng = random.Random(23)
    targets = rng.sample(ids, len(ids) // 3)
    while targets and time.monotonic() < until:
        contact = targets.pop()
        event = rng.choice([{"type": "unsubscribe", "contact": contact},
                            {"type": "hard_bounce", "address": _address(rng.randrange(HOMES))},
                            {"type": "complaint", "address": _address(rng.randrange(HOMES))}])
        answer = server.request("POST", "/api/v1/events", key=key, payload={"events": [event]})
        result = load.answered("events", answer.status, answer.body)
        if result is not None and "contact" in event and result["results"][0]["status"] == "applied":
            with load.lock:
                load.opted_out.setdefault(contact, time.monotonic())
        time.sleep(0.15)


def _moment(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_sixteen_clients_imports_and_events_against_a_served_instance(
        app, client, make_tenant, import_rows, engine, database_url, tmp_path: Path):
    account = make_account(make_tenant, import_rows, engine, _rows(random.Random(5)), name="chaos")
    segment = create_segment(client, account, EVERYONE)
    mailings = [create_mailing(client, account, [segment], name=f"m{n}") for n in range(MAILINGS)]
    ids = sorted(account.ids.values())
    send_key, manage_key = account.tenant.keys["send"], account.tenant.keys["manage"]
    background.shutdown(app)  # the test's own app (for the set-up) must not run the served imports

    port, log = free_port(), tmp_path / "server.log"
    env = {**os.environ, "DATABASE_URL": database_url, "SAFEGUARD_UPLOAD_DIR": str(tmp_path / "uploads"),
           "SAFEGUARD_POLL_SECONDS": "0.2", "SAFEGUARD_GRACE_SECONDS": "5"}
    load = Load()
    with serving([*safeguard_command(), "serve", "--port", str(port), "--workers", "4"], port=port, env=env,
                 log=log, cwd=tmp_path) as server:
        until = time.monotonic() + LOAD_SECONDS
        failures: list[BaseException] = []
        plans = [(_checker, (send_key, mailings, ids, load, n, until)) for n in range(CLIENTS)]
        plans += [(_importer, (manage_key, load, until)), (_reporter, (send_key, ids, load, until))]
        actors = [threading.Thread(target=_guarded(run, failures), args=(HttpClient(server.base), *args))
                  for run, args in plans]
        for actor in actors:
            actor.start()
        for actor in actors:
            actor.join(timeout=LOAD_SECONDS + 300)
        assert not any(actor.is_alive() for actor in actors), "an actor hung"
    server_log = log.read_text(errors="replace")
    tracebacks = [line[:4000] for line in server_log.splitlines() if "Traceback" in line]
    assert failures == [], failures[:3]

    # No 5xx, no refusal, and nobody (answers or logs) saw SQLite's lock.
    refused = [(what, status, body[:300]) for what, status, body in load.answers if status != 200]
    assert refused == [], refused[:5]
    failed_imports = [body[:300] for what, _, body in load.answers
                      if what == "import" and json.loads(body)["status"] != "succeeded"]
    assert failed_imports == [], (failed_imports[:3], tracebacks[:3])
    locked = [body[:300] for _, _, body in load.answers if "locked" in body.lower()]
    assert locked == [] and "database is locked" not in server_log.lower(), (locked[:3], server_log[-3000:])
    assert tracebacks == [], tracebacks[:3]

    # The load did what it is for: clearances, fights over inboxes, moves and opt-outs, all at once.
    assert len(load.sends) > 100 and load.skips["duplicate_address"] > 0 and load.moves > 0, (
        len(load.sends), load.skips, load.moves)
    assert load.released and load.opted_out, "no releases or no events during the load"

    with engine.connect() as conn:
        ledger = conn.execute(text(
            "SELECT mailing_id, contact_id, address_key, address, state, claimed_at FROM send_ledger "
            "WHERE mailing_id IN :m").bindparams(bindparam("m", expanding=True)),
            {"m": mailings}).mappings().all()
        opted_out_at = {contact: _moment(at) for contact, at in conn.execute(text(
            "SELECT contact_id, MIN(at) FROM contact_status_history WHERE account_id = :a "
            "AND source = 'event' GROUP BY contact_id"), {"a": account.id})}
        moved = conn.execute(text(
            "SELECT count(*) FROM send_ledger l JOIN contacts c ON c.id = l.contact_id "
            "WHERE l.mailing_id IN :m AND l.state IN ('claimed', 'sent') AND c.address_key <> l.address_key"
        ).bindparams(bindparam("m", expanding=True)), {"m": mailings}).scalar_one()

    # Every send answered is one claim in the ledger, at the address it answered.
    assert Counter((m, c, a) for m, c, a, _ in load.sends) == Counter(
        (row["mailing_id"], row["contact_id"], row["address"]) for row in ledger)
    # One active clearance per inbox and mailing, by the answers (sends not released) ...
    active = Counter((m, c) for m, c, _, _ in load.sends) - Counter(load.released)
    assert all(n == 1 for n in active.values()), "a contact holds two clearances of one mailing"
    address_of = {(m, c): lookup_key(a) for m, c, a, _ in load.sends}
    by_answer = Counter((m, address_of[(m, c)]) for m, c in active)
    assert [slot for slot, n in by_answer.items() if n > 1] == [], "an inbox holds two clearances (answers)"
    # ... and by the ledger, by its key and by the address it keeps.
    live = [row for row in ledger if row["state"] in ("claimed", "sent")]
    assert Counter((row["mailing_id"], row["contact_id"]) for row in live) == active
    for slot in (lambda row: row["address_key"], lambda row: lookup_key(row["address"])):
        doubled = [k for k, n in Counter((row["mailing_id"], slot(row)) for row in live).items() if n > 1]
        assert doubled == [], "an inbox holds two clearances (ledger)"
    print(f"sends {len(load.sends)}, released {len(load.released)}, skips {dict(load.skips)}, "
          f"moves {load.moves}, opted out {len(load.opted_out)}/{len(opted_out_at)}, moved holders {moved}")
    assert moved > 0, "no cleared contact moved while it held its clearance: the race was not run"

    # Consent: no clearance after the opt-out committed (the server's clock), and no send answered to a
    # check asked after the event was answered (this process's clock).
    late = [(row["contact_id"], row["claimed_at"]) for row in ledger if row["contact_id"] in opted_out_at
            and _moment(row["claimed_at"]) >= opted_out_at[row["contact_id"]]]
    assert late == [], late[:5]
    after = [(c, m) for m, c, _, asked in load.sends if c in load.opted_out and asked > load.opted_out[c]]
    assert after == [], after[:5]

