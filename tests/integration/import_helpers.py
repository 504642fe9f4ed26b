"""Helpers shared by the import test modules."""


def rejections(rejected_rows, tenant, job: dict) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    """(row, reason) of the job's rejected-rows download, in row order."""
    _header, records = rejected_rows(tenant, job["id"])
    return [(int(record[0]), record[1]) for record in records]


def expect(job: dict, *, rows: int, created: int = 0, created_shared_address: int = 0, updated: int = 0,
           unchanged: int = 0, skipped: int = 0, merged_in_file: int = 0,
           rejected: dict[str, int] | None = None, status_kept: int = 0) -> None:
    """Assert the whole report: every count, and the rejections by reason."""
    rejected = rejected or {}
    assert job["report"] == {
        "rows": rows, "created": created, "created_shared_address": created_shared_address,
        "updated": updated, "unchanged": unchanged, "skipped": skipped, "merged_in_file": merged_in_file,
        "rejected": sum(rejected.values()), "rejected_by_reason": rejected, "status_kept": status_kept,
    }, job["report"]
