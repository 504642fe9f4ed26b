"""Import a benchmark file once, with the code of the current directory, and say where the time went.

For A/B runs of old and new code on the same file (benchmarks/README.md): run it from each tree
with the same Python, e.g. `cd /tmp/old && /work/wt/.venv/bin/python /work/wt/benchmarks/import_once.py
sqlite:///x.db business benchmarks/data/business-1000000.csv`. It imports the file into a fresh
account (or, with --again, into the account a previous run left) and prints one JSON line: wall time
of reading and of applying, CPU seconds of this process and of its children (the row checker), the
peak memory of this process and of the row checker, and the report. With --timeline it also prints
what each process did when, each statement's time and the sampled peak of both processes together
(benchmarks/timeline.py). The profiles come from this file's own tree, the importer from the current
directory's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())  # the tree under test, not this file's


def _profiles():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("_bench_generate", Path(__file__).with_name("generate.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_bench_generate"] = module
    spec.loader.exec_module(module)
    return module.PROFILES


def main() -> None:
    url, profile_name, path = sys.argv[1:4]
    again = "--again" in sys.argv[4:]
    with_timeline = "--timeline" in sys.argv[4:]
    profile = _profiles()[profile_name]

    from sqlmodel import Session, select

    from importer.pipeline import run_import
    from importer.settings import parse_settings
    from service.db import make_engine, upgrade_database
    from service.domain.accounts import account_info, create_account, create_field, create_link
    from service.models import Account, ImportJob

    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        account = session.exec(select(Account).where(Account.name == "bench")).first()
        if account is None or not again:
            assert account is None, "a fresh database is needed (or --again)"
            account = create_account(session, name="bench", dedup_mode="external_id")
            create_link(session, account=account, name="crm", label="Customer number")
            for name, type_ in profile.fields.items():
                create_field(session, account=account, name=name, type=type_)
        info = account_info(session, account)
        job = ImportJob(account_id=info.id, filename="bench.csv")
        session.add(job)
        session.commit()
        job_id = job.id
    settings = parse_settings({"match": {"by": "external_id", "link": "crm", "column": profile.id_column},
                               "mapping": profile.mapping})
    if with_timeline:
        sys.path.insert(1, str(Path(__file__).parent))
        import timeline
        timeline.install_importer(engine)
        stop_sampling = threading.Event()
        memory = timeline.sample_memory(stop_sampling)
    phases: dict[str, float] = {}
    start = time.perf_counter()
    start_monotonic = time.monotonic()

    def progress(rows: int, phase: str) -> None:
        phases.setdefault(str(phase), time.perf_counter() - start)

    cpu0 = os.times()
    result = run_import(engine, info, settings, path, import_id=job_id, progress=progress)
    wall = time.perf_counter() - start
    cpu = os.times()
    engine.dispose()
    if with_timeline:
        stop_sampling.set()
        print("peak resident memory, sampled every 50 ms (MB):",
              {k: round(v) for k, v in memory.items()})
        print(timeline.render(timeline.events(), start_monotonic, start_monotonic + wall,
                              apply_from=start_monotonic + phases.get("applying", wall)))
    print(json.dumps({
        "load": os.getloadavg()[0],
        "wall": round(wall, 2),
        "reading": round(phases.get("applying", wall) - phases.get("reading", 0), 2),
        "applying": round(wall - phases.get("applying", wall), 2),
        "cpu_self": round(cpu.user + cpu.system - cpu0.user - cpu0.system, 2),
        "cpu_children": round(cpu.children_user + cpu.children_system - cpu0.children_user
                              - cpu0.children_system, 2),
        "peak_mb_self": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        # The row checker's own peak (the largest child waited for: there is one).
        "peak_mb_checker": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "report": result.report,
        "warnings": result.warnings,
    }, default=str))


if __name__ == "__main__":
    main()
