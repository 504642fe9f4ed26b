"""The account's imports, newest first, and the numbers people call them by.

Real imports are numbered 1, 2, 3, ... per account in the order they were made; dry runs are not
numbered (they write nothing, and numbering them made the real imports' numbers skip). The number is
counted from the ids, not stored: imports are never deleted, so it never changes, and two imports
started at once cannot get the same one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from service.models import ImportJob


def _number_of(job: Any) -> Any:
    """The number of `job` (a row or the table's alias) among its account's real imports."""
    earlier = ImportJob.__table__.alias("earlier")  # type: ignore[attr-defined]
    return (select(func.count()).select_from(earlier)
            .where(earlier.c.account_id == job.account_id, earlier.c.id <= job.id,
                   earlier.c.dry_run == False)  # noqa: E712 (SQL, not Python)
            .scalar_subquery())


def import_number(session: Session, job: ImportJob) -> int | None:
    """The import's number among its account's real imports; None for a dry run."""
    if job.dry_run:
        return None
    return int(session.execute(select(_number_of(job))).scalar_one())


def import_numbers(session: Session, account_id: int, ids: list[int]) -> dict[int, int]:
    """The numbers of the account's real imports among `ids` (dry runs have none)."""
    if not ids:
        return {}
    rows = session.exec(select(ImportJob.id, _number_of(ImportJob)).where(
        col(ImportJob.account_id) == account_id, col(ImportJob.id).in_(ids),
        col(ImportJob.dry_run).is_(False))).all()
    return {int(job_id): int(number) for job_id, number in rows}


def import_page(session: Session, account_id: int, *, before: int, limit: int, real_only: bool = False
                ) -> tuple[list[tuple[ImportJob, int | None]], int | None]:
    """A page of the account's imports (`real_only`: without dry runs), newest first, each with its
    number (None for a dry run), and the cursor of the next page (None on the last). `before` 0
    starts at the newest."""
    query = select(ImportJob, _number_of(ImportJob)).where(col(ImportJob.account_id) == account_id)
    if real_only:
        query = query.where(col(ImportJob.dry_run).is_(False))
    if before:
        query = query.where(col(ImportJob.id) < before)
    rows = session.exec(query.order_by(col(ImportJob.id).desc()).limit(limit + 1)).all()
    page = [(job, None if job.dry_run else int(number)) for job, number in rows[:limit]]
    next_cursor = page[-1][0].id if len(rows) > limit else None
    return page, next_cursor
