"""What an import by a link can take from the link's past: its last mapping and its ID column.

A link's last import is its last successful real import (a dry run is a try, not what was kept).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from importer.aliases import looks_like_id_column, normalise
from importer.id_patterns import IdPatternError, id_matcher
from importer.said import said
from service.errors import InvalidInput
from service.models import ExternalId, ImportJob, ImportStatus, Link

RECENT_IMPORTS = 200  # how far back to look for the link's last import; older ones are forgotten


@dataclass(frozen=True)
class LinkMemory:
    """The link's last import's mapping (column: field) and the column that held its IDs."""

    mapping: dict[str, str] = field(default_factory=dict)
    id_column: str | None = None


def own_link(links: Sequence[Link], name: str) -> Link:
    """The account's link of that name; InvalidInput naming it when the account has none."""
    link = next((each for each in links if each.name == name), None)
    if link is None:
        raise InvalidInput(said("this account has no link named '%(name)s'",
                                name=name), code="unknown_link", part="link")
    return link


def remembered(session: Session, account_id: int, link_name: str) -> LinkMemory:
    """The mapping and ID column of the link's last successful real import (empty when none)."""
    jobs = session.exec(
        select(ImportJob.settings)
        .where(col(ImportJob.account_id) == account_id, col(ImportJob.status) == ImportStatus.SUCCEEDED,
               col(ImportJob.dry_run).is_(False))
        .order_by(col(ImportJob.id).desc()).limit(RECENT_IMPORTS))
    for settings in jobs:
        match: Any = settings.get("match") or {}
        if match.get("by") == "external_id" and match.get("link") == link_name:
            mapping = settings.get("mapping") or {}
            return LinkMemory({str(k): str(v) for k, v in mapping.items()}, match.get("column"))
    return LinkMemory()


def id_column(session: Session, link: Link, columns: list[str], sample_rows: list[list[str]],
              previous: str | None) -> str | None:
    """The column that most likely holds the link's IDs: the one named like its last import's ID
    column; else one whose sample values are mostly IDs the link knows; else one named like a
    customer number (KlantNr, CustomerID) whose values fit the link's id_pattern; else one whose
    values all fit a pattern. None when no column fits."""
    samples = [[row[i].strip() for row in sample_rows if i < len(row) and row[i].strip()]
               for i in range(len(columns))]
    wanted = {value for values in samples for value in values}
    known = set(session.exec(select(ExternalId.value).where(
        col(ExternalId.link_id) == link.id, col(ExternalId.value).in_(wanted)))) if wanted else set()
    fits = _pattern_test(link.id_pattern)

    def score(index: int) -> int:
        column, values = columns[index], samples[index]
        if previous is not None and normalise(column) == normalise(previous):
            return 4
        if values and 2 * sum(value in known for value in values) > len(values):
            return 3
        fitting = fits is None or (bool(values) and all(map(fits, values)))
        if looks_like_id_column(column) and fitting:
            return 2
        return 1 if fits is not None and fitting else 0

    scores = [score(index) for index in range(len(columns))]
    best = max(scores, default=0)
    return columns[scores.index(best)] if best else None


def _pattern_test(pattern: str | None) -> Callable[[str], bool] | None:
    if not pattern:
        return None
    try:
        return id_matcher(pattern)
    except IdPatternError:  # stored before RE2 refused it: no help from it
        return None
