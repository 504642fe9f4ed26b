"""Checks against the loaded benchmark account with the code of the current directory: timings,
where the time goes, or a replay whose answers two trees can compare byte for byte.

For A/B runs of old and new code (benchmarks/README.md, "The check, second round"): run it from
each tree with the same Python, e.g. `cd /tmp/old && /work/wt/.venv/bin/python
/work/wt/benchmarks/check_once.py URL time 1000 50`. The URL is a database `test_send_speed.py`
loaded (benchmarks/data/loaded-1000000.db, or the BENCH_SCHEMA's search_path on PostgreSQL).

    check_once.py URL time SIZE ROUNDS        median/min/max of ROUNDS checks of SIZE fresh contacts
    ... time SIZE ROUNDS --cleared=N          the same after N other contacts were cleared for the
                                              mailing (checks of 10,000; PostgreSQL: then ANALYZE
                                              send_ledger, as autovacuum would)
    check_once.py URL statements SIZE ROUNDS  the same, with each statement's time (cursor events)
    check_once.py URL profile SIZE ROUNDS     the same under cProfile (the top functions)
    check_once.py URL replay OUT              a fixed sequence of requests; every answer to OUT
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from collections import defaultdict
from typing import Any

sys.path.insert(0, os.getcwd())  # the tree under test, not this file's


class Client:
    def __init__(self, url: str) -> None:
        from sqlalchemy import text
        from sqlmodel import Session, select

        from service import create_app
        from service.domain.api_keys import create_key
        from service.models import Account

        self.app = create_app({"DATABASE_URL": url, "TESTING": True})
        self.client = self.app.test_client()
        self.engine = self.app.extensions["safeguard.engine"]
        with Session(self.engine, expire_on_commit=False) as session:
            account = session.exec(select(Account).where(Account.name == "bench")).one()
            self.manage, self.send = (
                {"Authorization": f"Bearer {create_key(session, account=account, scope=scope)}"}
                for scope in ("manage", "send"))
        with self.engine.connect() as conn:
            self.ids = list(conn.execute(text(
                "SELECT c.id FROM contacts c JOIN accounts a ON a.id = c.account_id "
                "WHERE a.name = 'bench' ORDER BY c.id")).scalars())

    def post(self, path: str, body: dict, headers: dict | None = None) -> Any:
        response = self.client.post(path, json=body, headers=headers or self.send)
        assert response.status_code in (200, 201), (response.status_code, response.get_data()[:300])
        return response

    def mailing(self, rules: dict, **settings: Any) -> int:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        segment = self.post("/api/v1/segments", {"name": name, "rules": rules}, self.manage).json["id"]
        return int(self.post("/api/v1/mailings", {"name": name, "include": [segment], **settings},
                             self.manage).json["id"])


def timed(client: Client, size: int, rounds: int, around: Any = None, cleared: int = 0) -> list[float]:
    mailing = client.mailing({"all": []})
    for start in range(0, cleared, 10_000):  # a mailing well under way
        batch = client.ids[start:min(start + 10_000, cleared)]
        client.post(f"/api/v1/mailings/{mailing}/check", {"contacts": batch})
    if cleared and client.engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with client.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE send_ledger"))
    batches = [client.ids[cleared + i * size:cleared + (i + 1) * size] for i in range(rounds + 3)]
    for batch in batches[:3]:  # warm-up: the kept audience, the plans, the connections
        client.post(f"/api/v1/mailings/{mailing}/check", {"contacts": batch})
    times = []
    for batch in batches[3:]:
        def check(b: list[int] = batch) -> Any:  # the answer read back, as the benchmark does
            return client.post(f"/api/v1/mailings/{mailing}/check", {"contacts": b}).json

        start = time.perf_counter()
        if around is None:
            check()
        else:
            around(check)
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(times), 1), "min": round(min(times), 1),
            "max": round(max(times), 1), "load": round(os.getloadavg()[0], 2)}


def statements(client: Client, size: int, rounds: int) -> None:
    from sqlalchemy import event

    spent: dict[str, list[float]] = defaultdict(list)
    started: dict[int, float] = {}
    counting = False

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if counting:
            spent[" ".join(statement.split())[:90]].append((time.perf_counter() - started[id(cursor)]) * 1000)

    event.listen(client.engine, "before_cursor_execute", before)
    event.listen(client.engine, "after_cursor_execute", after)

    def counted(call: Any) -> None:
        nonlocal counting
        counting = True
        call()
        counting = False

    times = timed(client, size, rounds, counted)
    total = 0.0
    for text, values in sorted(spent.items(), key=lambda item: -sum(item[1])):
        total += sum(values) / rounds
        print(f"{sum(values) / rounds:8.2f} ms/check  x{len(values) / rounds:.0f}  {text}")
    print(f"{total:8.2f} ms/check in statements; request {summary(times)}")


def profile(client: Client, size: int, rounds: int) -> None:
    profiler = cProfile.Profile()
    times = timed(client, size, rounds, lambda call: profiler.runcall(call))
    print(summary(times))
    stats = pstats.Stats(profiler).sort_stats("tottime")
    stats.print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


def replay(client: Client, out: str) -> None:
    """Four mailings, overlapping batches with a repeated id, a check by addresses, a replay of an
    Idempotency-Key, a release and a check again: every answer's bytes, in order."""
    from sqlalchemy import text

    with client.engine.connect() as conn:
        addresses = list(conn.execute(text(
            "SELECT c.email FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE a.name = 'bench' "
            "AND c.id % 997 = 3 ORDER BY c.id LIMIT 400")).scalars())
    addresses += ["nobody@nowhere.example", addresses[0].upper()]
    mailings = [
        client.mailing({"all": []}),
        client.mailing({"all": []}, exclude=[]),
        client.mailing({"all": [{"field": "birth_date", "op": "more_than_days_ago", "value": 40 * 365}]},
                       allow_shared_address=True),
        client.mailing({"all": [{"field": "city", "op": "eq", "value": "Utrecht"}]}, representative="oldest"),
        client.mailing({"all": []}, allow_shared_address=True, personalized_by=["city"]),
    ]
    ids = client.ids
    with open(out, "wb") as answers:
        for n, mailing in enumerate(mailings):
            path = f"/api/v1/mailings/{mailing}/check"
            for start, size in ((0, 1000), (500, 3000), (2000, 9500)):
                batch = ids[start + n:start + n + size] + [ids[start + n], 0, -5, 10**12]
                answers.write(client.post(path, {"contacts": batch}).get_data() + b"\n")
            answers.write(client.post(path, {"addresses": addresses}).get_data() + b"\n")
            key = {**client.send, "Idempotency-Key": f"replay-{n}"}
            for _ in range(2):
                answers.write(client.post(path, {"contacts": ids[20000:21000]}, key).get_data() + b"\n")
            answers.write(client.post(f"/api/v1/mailings/{mailing}/release",
                                      {"contacts": ids[0:400]}).get_data() + b"\n")
            answers.write(client.post(path, {"contacts": ids[0:1200]}).get_data() + b"\n")


def main() -> None:
    url, mode = sys.argv[1:3]
    client = Client(url)
    if mode == "replay":
        replay(client, sys.argv[3])
        return
    size, rounds = int(sys.argv[3]), int(sys.argv[4])
    cleared = next((int(arg.split("=", 1)[1]) for arg in sys.argv[5:] if arg.startswith("--cleared=")), 0)
    if mode == "time":
        times = timed(client, size, rounds, cleared=cleared)
        print(json.dumps({"size": size, "cleared": cleared, **summary(times)}))
    elif mode == "statements":
        statements(client, size, rounds)
    else:
        profile(client, size, rounds)


if __name__ == "__main__":
    main()
