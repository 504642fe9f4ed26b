"""The benchmark account loaded once per database and size, reused by the send-list benchmarks.

Importing a million rows takes a minute; the segment, send-list and check benchmarks only read
the contacts (and write claims to mailings of their own), so the loaded database is kept.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from benchmarks.generate import CURRENT, Profile
from benchmarks.setup_account import fresh_account, import_settings, new_job
from importer.pipeline import run_import
from service.db import make_engine, upgrade_database

# Some contacts unsubscribed and some bounced, spread evenly, so that previews have to leave
# them out (a bounce excluding every contact at its address).
UNSUBSCRIBE_EVERY = 50
BOUNCE_EVERY = 199


def load_once(url: str, contacts_file: Path, rows: int, profile: Profile = CURRENT) -> str:
    """Make sure `url` holds the loaded benchmark account; return the URL."""
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            loaded = conn.execute(text(
                "SELECT count(*) FROM contacts c JOIN accounts a ON a.id = c.account_id "
                "WHERE a.name = 'bench'")).scalar_one()
        if loaded < 0.9 * rows:
            engine.dispose()
            engine, account = fresh_account(url, profile)
            result = run_import(engine, account, import_settings(profile), contacts_file,
                                import_id=new_job(engine, account))
            assert result.report["created"] > 0.9 * rows, result.report
            with engine.begin() as conn:
                conn.execute(text(f"UPDATE contacts SET status = 'unsubscribed' "
                                  f"WHERE id % {UNSUBSCRIBE_EVERY} = 0"))
                conn.execute(text(f"UPDATE contacts SET status = 'bounced' WHERE id % {BOUNCE_EVERY} = 0"))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        if engine.dialect.name == "postgresql":
            # What autovacuum does on a server that runs it (this machine's has it off): the
            # visibility map makes index-only scans read no table pages, and the benchmarks of
            # dedup changes leave a million dead rows behind them.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return url
