"""Crash safety (issue 11, "Crash safety"): processes killed with SIGKILL (their whole process group, so no
clean-up of any kind runs) at several points of a large import and of a dedup change, on SQLite and
PostgreSQL. After each kill the account is exactly as before, compared by a full dump of what it holds
(contacts, external IDs, fields, history, events, the ledger, segments and mailings, dedup changes and
merges); the job queue retries a killed import at most three times and then fails it; a rerun succeeds.

An import runs in `safeguard worker` processes (tests/served.py), killed while it reads the file, once
every row is checked and staged, and inside its apply transaction once it writes contacts; the
workers' scratch copies of the upload are removed afterwards. A dedup change runs as `safeguard dedup`
and is killed as soon as it holds the account, and half-way through (on PostgreSQL once it writes
the merges or, undoing, the external IDs; on SQLite, which shows no more, by a part of a whole run's
time, tried again sooner when the change got through first), applying and undoing.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from mailing_helpers import BY_CRM, EVERYONE, HEADER, create_mailing, create_segment, make_account
from served import safeguard_command, started
from sqlalchemy import Engine, text

from service import background
from service.db import is_sqlite
from service.domain.dedup_change import CHANGE_LOCK
from service.domain.job_queue import MAX_ATTEMPTS

KNOWN = 400  # contacts the account has before the big import; it updates, moves and opts out some
ROWS = 120_000
SHARED = 2_000  # addresses shared by two or three contacts, for the dedup change to merge
WAIT = 180  # seconds: generous, the machine may be loaded

# What an account holds, table by table; rows of `imports`, `uploads` and keys are bookkeeping.
ACCOUNT_TABLES = ("contacts", "external_ids", "fields", "links", "contact_status_history", "contact_events",
                  "segments", "mailings", "erasures", "dedup_changes")
BY_MAILING = ("send_ledger", "check_requests")
BY_CHANGE = ("dedup_merges", "dedup_survivors")


def dump(engine: Engine, account_id: int) -> dict[str, list[tuple]]:
    """Every row the account holds, as text, table by table, in id order."""
    where = {table: "account_id = :a" for table in ACCOUNT_TABLES}
    mailings = "SELECT id FROM mailings WHERE account_id = :a"
    changes = "SELECT id FROM dedup_changes WHERE account_id = :a"
    where |= {table: f"mailing_id IN ({mailings})" for table in BY_MAILING}
    where |= {table: f"change_id IN ({changes})" for table in BY_CHANGE}
    where["accounts"] = "id = :a"
    with engine.connect() as conn:
        return {table: [tuple(_as_text(value) for value in row) for row in conn.execute(
            text(f"SELECT * FROM {table} WHERE {condition} ORDER BY 1"), {"a": account_id})]
            for table, condition in where.items()}


def _as_text(value: object) -> str:
    """A value as text; JSON in one spelling (SQLite keeps the text it was given, spaces or none)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _assert_same(engine: Engine, account_id: int, before: dict[str, list[tuple]], when: str) -> None:
    after = dump(engine, account_id)
    changed = {table: (len(before[table]), len(after[table]))
               for table in before if after[table] != before[table]}
    assert changed == {}, f"{when}: the account changed (table: rows before, after): {changed}"


def _job(engine: Engine, job_id: int) -> dict:
    with engine.connect() as conn:
        job = dict(conn.execute(text(
            "SELECT status, phase, rows_done, attempts, error, upload_id, report FROM imports WHERE id = :i"),
            {"i": job_id}).mappings().one())
    if isinstance(job["report"], str):  # SQLite answers JSON as text
        job["report"] = json.loads(job["report"])
    return job


def _until(what: str, ready: Callable[[], Any], process: subprocess.Popen | None = None,
           seconds: float = WAIT) -> Any:
    """Poll `ready` until it answers something true; fail if `process` ended first or time runs out."""
    deadline = time.monotonic() + seconds
    while not (found := ready()):
        assert process is None or process.poll() is None, f"the process ended before {what}"
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.01)
    return found


def _kill(process: subprocess.Popen) -> None:
    """SIGKILL the process and its whole group (an import's row checker with it)."""
    assert process.poll() is None, "the process ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "SAFEGUARD_UPLOAD_DIR": str(tmp_path / "scratch"),
            "SAFEGUARD_LEASE_SECONDS": "3", "SAFEGUARD_POLL_SECONDS": "0.2", "SAFEGUARD_GRACE_SECONDS": "5"}


def _big_file() -> bytes:
    """The known contacts renamed, a third moved and a tenth opted out; then new contacts."""
    lines = [",".join(HEADER)]
    for n in range(KNOWN):
        email = f"moved{n}@example.nl" if n % 3 == 0 else f"known{n}@example.nl"
        lines.append(f"C{n},{email},Changed{n},Utrecht,,{'unsubscribed' if n % 10 == 0 else ''}")
    lines += [f"N{n},new{n}@example{n % 89}.nl,New {n},Zwolle,true," for n in range(ROWS - KNOWN)]
    return ("\r\n".join(lines) + "\r\n").encode()


def _submit(client, account, content: bytes) -> int:  # type: ignore[no-untyped-def]
    settings = {"has_header": True, "delimiter": ",", **BY_CRM, "create_fields": {"source": "text"}}
    response = client.post("/api/v1/imports", data={"file": (io.BytesIO(content), "big.csv"),
                                                     "settings": json.dumps(settings)},
                           headers=account.auth(), content_type="multipart/form-data")
    assert response.status_code == 202, response.json
    return int(response.json["id"])


def _kill_points(engine: Engine) -> list[tuple[str, Callable[[dict], bool], float]]:
    """Where each attempt dies: (name, when the job's row and the database show it, then how long to wait).

    Robust to a fast machine as to a slow one: no point hangs on catching a progress write. Reading:
    a moment after the attempt began to read. Staged: as soon as the job says `applying`, written once
    every row is checked and staged, when the apply begins by planning. Applying: once the apply
    transaction writes contacts (PostgreSQL shows its lock; on SQLite, the write lock held)."""
    applying = _writing(engine, "locktype = 'relation' AND relation = 'contacts'::regclass "
                                "AND mode = 'RowExclusiveLock'")
    return [("reading", lambda j: j["phase"] == "reading", 0.3),
            ("staged", lambda j: j["phase"] == "applying", 0.0),
            ("applying", lambda j: j["phase"] == "applying" and applying(), 0.2)]


def _attempt_at(engine: Engine, job_id: int, attempt: int, reached: Callable[[dict], bool]) -> dict | None:
    """The job's row once this attempt is at its kill point, else None."""
    job = _job(engine, job_id)
    assert job["status"] in ("queued", "running"), f"the import ended before it could be killed: {job}"
    return job if job["attempts"] == attempt and reached(job) else None


def _known_account(client, make_tenant, import_rows, engine):  # type: ignore[no-untyped-def]
    """An account with contacts, IDs, fields, opt-outs (history, events), segments and a mailing's ledger."""
    rows = [[f"C{n}", f"known{n}@example.nl", f"Name{n}", "Utrecht", "", "bounced" if n % 50 == 0 else ""]
            for n in range(KNOWN)]
    account = make_account(make_tenant, import_rows, engine, rows, name="crashes")
    mailing = create_mailing(client, account, [create_segment(client, account, EVERYONE)])
    checked = client.post(f"/api/v1/mailings/{mailing}/check",
                          json={"contacts": list(account.ids.values())[:60]},
                          headers={**account.auth("send"), "Idempotency-Key": "k1"})
    assert checked.status_code == 200, checked.json
    events = client.post("/api/v1/events",
                         json={"events": [{"type": "unsubscribe", "contact": account["C7"]}]},
                         headers=account.auth("send"))
    assert events.status_code == 200 and events.json["results"][0]["status"] == "applied", events.json
    return account


def test_an_import_killed_three_times_changes_nothing_then_fails_and_a_rerun_succeeds(
        app, client, make_tenant, import_rows, engine, database_url, tmp_path):
    account = _known_account(client, make_tenant, import_rows, engine)
    background.shutdown(app)  # from here on, the `safeguard worker` processes run the imports
    content = _big_file()
    job_id = _submit(client, account, content)
    before = dump(engine, account.id)
    env, command = _env(database_url, tmp_path), [*safeguard_command(), "worker"]

    for attempt, (point, reached, delay) in enumerate(_kill_points(engine), start=1):
        with started(command, env=env, log=tmp_path / f"worker{attempt}.log") as worker:
            job = _until(f"reached '{point}'", partial(_attempt_at, engine, job_id, attempt, reached), worker)
            time.sleep(delay)
            assert _job(engine, job_id)["status"] == "running", f"the import ended before '{point}'"
            _kill(worker)
        assert job["attempts"] == attempt, job
        assert _job(engine, job_id)["status"] == "running"  # as the dead worker left it
        _assert_same(engine, account.id, before, f"killed at '{point}'")

    assert MAX_ATTEMPTS == 3
    with started(command, env=env, log=tmp_path / "worker4.log") as worker:
        ended = _until("failed", lambda: (j := _job(engine, job_id))["status"] != "running" and j, worker)
        assert (ended["status"], ended["attempts"], ended["report"]) == ("failed", 3, None), ended
        assert "interrupted 3 times" in ended["error"], ended
        _assert_same(engine, account.id, before, "after the import failed")
        # The killed workers' copies of the upload do not fill the disk: the next worker removed them.
        assert list((tmp_path / "scratch").iterdir()) == []
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM upload_chunks")).scalar_one() == 0  # released
            assert conn.execute(text("SELECT count(*) FROM import_rejections WHERE import_id = :i"),
                                {"i": job_id}).scalar_one() == 0

        rerun = _submit(client, account, content)
        done = _until("done", lambda: (j := _job(engine, rerun))["status"] not in ("queued", "running") and j,
                      worker)
    assert (done["status"], done["attempts"]) == ("succeeded", 1), done
    assert (done["report"]["created"], done["report"]["updated"]) == (ROWS - KNOWN, KNOWN), done
    with engine.connect() as conn:
        status = dict(conn.execute(text("SELECT e.value, c.status FROM contacts c JOIN external_ids e "
                                        "ON e.contact_id = c.id WHERE c.account_id = :a"),
                                   {"a": account.id}).all())
        email = conn.execute(text("SELECT email FROM contacts WHERE id = :c"),
                             {"c": account["C3"]}).scalar_one()
    # The file applied once: moves and opt-outs; and the opt-outs from before stay (bounced, C7).
    assert email == "moved3@example.nl" and status["C10"] == status["C7"] == "unsubscribed", status
    assert all(status[f"C{n}"] != "active" for n in range(0, KNOWN, 50)), status
    assert sum(value.startswith("N") for value in status) == ROWS - KNOWN

def _writing(engine: Engine, holding: str) -> Callable[[], bool]:
    """Whether another process is inside a write transaction: on PostgreSQL, one holding the lock that
    the SQL `holding` counts in pg_locks; on SQLite, one holding the database's write lock."""
    if is_sqlite(engine):
        path = engine.url.database
        assert path

        def locked_file() -> bool:
            probe = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError as error:
                assert "locked" in str(error), error
                return True
            finally:
                probe.close()
        return locked_file

    def locked() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(text(
                f"SELECT count(*) FROM pg_locks WHERE granted AND pid <> pg_backend_pid() AND {holding}"
            )).scalar_one())
    return locked


def _but_updated_at(dumped: dict[str, list[tuple]]) -> list[tuple]:
    """The contacts, but when each last changed (a merge sets it to its own time)."""
    return [row[:-1] for row in dumped["contacts"]]  # updated_at is the last column


@dataclass
class DedupRuns:
    """`safeguard dedup` processes for one account, each in a process group of its own."""

    env: dict[str, str]
    folder: Path
    held: Callable[[], bool]  # inside a change's transaction
    runs: int = 0

    def start(self, *args: str) -> tuple[subprocess.Popen, Path]:
        self.runs += 1
        log = self.folder / f"dedup{self.runs}.log"
        with log.open("wb") as output:
            return subprocess.Popen([*safeguard_command(), "dedup", *args], env=self.env, stdout=output,
                                    stderr=subprocess.STDOUT, start_new_session=True), log

    def run(self, *args: str) -> tuple[dict, float]:
        """Run a command to its success; its JSON answer, and about how long its transaction took."""
        process, log = self.start(*args)
        _until("the command began its transaction", lambda: self.held() or process.poll() is not None)
        began = time.monotonic()
        assert process.wait(timeout=WAIT) == 0, log.read_text(errors="replace")
        output = log.read_text()
        return json.loads(output[output.index("{"):]), time.monotonic() - began

    def killed(self, args: tuple[str, ...], inside: Callable[[], bool], after: float) -> dict | None:
        """Kill the command once `inside` shows it in its transaction and `after` more seconds have gone;
        None if it was killed there, its answer if it ended first."""
        process, log = self.start(*args)
        try:
            _until("the command reached its kill point", lambda: inside() or process.poll() is not None)
            time.sleep(after)
            if inside():
                _kill(process)
                return None
            process.wait(timeout=WAIT)  # it got through first: let it end by itself
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        assert process.returncode == 0, log.read_text(errors="replace")
        output = log.read_text()
        return json.loads(output[output.index("{"):])


def _mid_way(engine: Engine, held: Callable[[], bool], table: str) -> Callable[[], bool]:
    """Half-way through a change: on PostgreSQL, holding the account and writing `table`; on SQLite
    (which shows no more), holding the write lock, and the test waits a part of a whole run's time."""
    if is_sqlite(engine):
        return held
    writing = _writing(engine, f"locktype = 'relation' AND relation = '{table}'::regclass "
                               "AND mode = 'RowExclusiveLock'")
    return lambda: held() and writing()


def test_a_dedup_change_killed_applying_or_undoing_changes_nothing_and_a_rerun_succeeds(
        client, make_tenant, import_rows, engine, database_url, tmp_path):
    rows = []
    for n in range(SHARED):
        for k in range(2 + n % 2):
            rows.append([f"C{n}-{k}", f"shared{n}@example{n % 31}.nl", f"Name{k}" if k else "",
                         "Utrecht" if k else "", "", "unsubscribed" if n % 40 == k else ""])
    account = make_account(make_tenant, import_rows, engine, rows, name="merging")
    held = _writing(engine, f"locktype = 'advisory' AND classid = {CHANGE_LOCK} AND objid = {account.id}")
    changes = DedupRuns(_env(database_url, tmp_path), tmp_path, held)
    apply = ("apply", "merging", "--to", "email", "--yes")

    def apply_killed(inside: Callable[[], bool], wait: float, when: str) -> None:
        """Kill an apply at `inside` (+ `wait`); when it got through first, undo it and try sooner."""
        for _ in range(4):
            before = dump(engine, account.id)
            ended = changes.killed(apply, inside, wait)
            if ended is None:
                _assert_same(engine, account.id, before, when)
                return
            changes.run("undo", "merging", str(ended["change_id"]))
            wait /= 2
        raise AssertionError(f"the apply always ended before it could be killed ({when})")

    def undo_killed(change: int, inside: Callable[[], bool], wait: float, when: str) -> int:
        """Kill an undo likewise (applying again when it got through); the change left to undo."""
        for _ in range(4):
            before = dump(engine, account.id)
            if changes.killed(("undo", "merging", str(change)), inside, wait) is None:
                _assert_same(engine, account.id, before, when)
                return change
            change, wait = changes.run(*apply)[0]["change_id"], wait / 2
        raise AssertionError(f"the undo always ended before it could be killed ({when})")

    # Killed as soon as it holds the account; then run whole.
    original = dump(engine, account.id)
    apply_killed(held, 0.0, "apply killed at its start")
    applied, takes = changes.run(*apply)
    assert applied["merged"] == SHARED + SHARED // 2, applied
    merged = dump(engine, account.id)

    # Killed half-way (on SQLite by time, a third of a whole run), then run whole: the undo brings
    # every contact back as it was, and the apply makes the same merge again.
    wait = 0.0 if not is_sqlite(engine) else takes / 3
    change = undo_killed(applied["change_id"], _mid_way(engine, held, "external_ids"), wait,
                         "undo killed half-way")
    undone, _ = changes.run("undo", "merging", str(change))
    assert undone["restored"] == applied["merged"], undone
    for table in ("contacts", "external_ids"):
        assert dump(engine, account.id)[table] == original[table], table
    apply_killed(_mid_way(engine, held, "dedup_merges"), wait, "apply killed half-way")
    again, _ = changes.run(*apply)
    assert again["merged"] == applied["merged"], again
    assert _but_updated_at(dump(engine, account.id)) == _but_updated_at(merged)
