"""Helpers shared by the import test modules."""


def rejections(rejected_rows, tenant, job: dict) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    """(row, reason) of the job's rejected-rows download, in row order."""
    _header, records = rejected_rows(tenant, job["id"])
    return [(int(record[0]), record[1]) for record in records]
