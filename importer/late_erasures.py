"""Addresses erased while an import ran: rejected at apply, under the import's lock.

The rows are checked against the erasures read when the import started (importer/rows.py). A
person erased while the file was read and staged would be created again by the apply; so, under
the account's write lock (which an erasure waits for), the erasures are read once more and the
planned rows at an address erased since are turned into `erased_address` rejections. Usually
there is none, and this costs one query.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection

from importer.addresses import erased_address_hash
from importer.plan import PLAN
from importer.settings import AccountInfo

# Reads, in the import's transaction, an account's erased-address hashes and their salt.
ErasuresNow = Callable[[Connection, int], tuple[frozenset[str], str]]


def reject_erased_since_start(conn: Connection, account: AccountInfo, erasures_now: ErasuresNow) -> int:
    """Reject the plan's rows whose address was erased after the import started; return how many."""
    hashes, salt = erasures_now(conn, account.id)
    new = hashes - account.erased
    if not new:
        return 0
    erased_rows = [{"row": row_no} for row_no, key in conn.exec_driver_sql(
        f"SELECT row_no, address_key FROM {PLAN} WHERE address_key IS NOT NULL AND action <> 'reject'")
        if erased_address_hash(salt, account.id, key) in new]
    if erased_rows:
        conn.execute(text(f"UPDATE {PLAN} SET action = 'reject', reason = 'erased_address' "
                          "WHERE row_no = :row"), erased_rows)
    return len(erased_rows)
