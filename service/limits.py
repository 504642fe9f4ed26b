"""The limits that protect every instance: taken from the app's config, and said as refusals.

Each limit is a setting (service/config.py). Past one, the refusal is a TooLarge (413) with the code
`limit_exceeded` and a message that names the limit and the setting that raises it; a background
import fails with that message as its error. The engines know nothing of settings: the importer
raises LimitExceeded naming a ReadLimits field, the segment engine RuleLimitExceeded naming a
RuleLimits field, and this module says which setting each one is (service/request_checks.py
applies the request body's limit and the rule limits to every request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from importer.reading import FileUnreadable, LimitExceeded, ReadLimits
from importer.said import grouped, message_of, said
from segments.rules import RuleLimitExceeded, RuleLimits
from service.errors import DomainError, InvalidInput, TooLarge

CODE = "limit_exceeded"

# What the OpenAPI document says each endpoint's 413 is about.
FILE_LIMITS = ("the file's decompressed size (SAFEGUARD_MAX_FILE_MB), its expansion when compressed "
               "(SAFEGUARD_MAX_EXPANSION), its rows (SAFEGUARD_MAX_ROWS), columns (SAFEGUARD_MAX_COLUMNS) "
               "and a line's length (SAFEGUARD_MAX_LINE_KB)")
RULE_LIMITS = "the rule tree's depth (SAFEGUARD_MAX_RULE_DEPTH) and size (SAFEGUARD_MAX_RULE_CONDITIONS)"
BATCH_LIMIT = "contacts or addresses per batch (SAFEGUARD_MAX_BATCH)"

# The setting behind each limit (ReadLimits' and RuleLimits' fields, and the service's own).
SETTINGS = {
    "max_file_bytes": "SAFEGUARD_MAX_FILE_MB",
    "max_expansion": "SAFEGUARD_MAX_EXPANSION",
    "max_rows": "SAFEGUARD_MAX_ROWS",
    "max_columns": "SAFEGUARD_MAX_COLUMNS",
    "max_line_chars": "SAFEGUARD_MAX_LINE_KB",
    "max_depth": "SAFEGUARD_MAX_RULE_DEPTH",
    "max_conditions": "SAFEGUARD_MAX_RULE_CONDITIONS",
    "max_batch": "SAFEGUARD_MAX_BATCH",
    "max_body_bytes": "SAFEGUARD_MAX_BODY_MB",
}


def read_limits(config: Mapping[str, Any]) -> ReadLimits:
    """How much of a contact file the importer reads at most, from the app's config."""
    return ReadLimits(
        max_file_bytes=config.get("MAX_FILE_BYTES", ReadLimits.max_file_bytes),
        max_expansion=config.get("MAX_EXPANSION", ReadLimits.max_expansion),
        max_rows=config.get("MAX_ROWS", ReadLimits.max_rows),
        max_columns=config.get("MAX_COLUMNS", ReadLimits.max_columns),
        max_line_chars=config.get("MAX_LINE_CHARS", ReadLimits.max_line_chars),
    )


def rule_limits(config: Mapping[str, Any]) -> RuleLimits:
    """How deep and large a rule tree may be, from the app's config."""
    return RuleLimits(max_depth=config.get("MAX_RULE_DEPTH", RuleLimits.max_depth),
                      max_conditions=config.get("MAX_RULE_CONDITIONS", RuleLimits.max_conditions))


def described(message: str, limit: str) -> str:
    """The refusal's message: what is over which limit, and the setting that raises it."""
    return said("%(message)s (the limit %(setting)s; an operator can raise it)", message=message,
                setting=SETTINGS[limit])


def over_limit(message: str, limit: str) -> TooLarge:
    """The refusal for input past one of the limits."""
    return TooLarge(described(message, limit), code=CODE)


def check_batch(count: int, most: int, what: str) -> None:
    """Refuse a batch (of a check, a release, a confirm, events) of more than `most` items."""
    if count > most:
        raise over_limit(said("a batch has at most %(most)s %(what)s, this one has %(count)s",
                              most=grouped(most), what=what, count=grouped(count)), "max_batch")


def file_refusal(error: FileUnreadable) -> DomainError:
    """A file the importer will not read: over a limit (413), or unreadable (400)."""
    if isinstance(error, LimitExceeded):
        return over_limit(message_of(error), error.limit)
    return InvalidInput(message_of(error), code="unreadable_file")


def rule_refusal(error: RuleLimitExceeded) -> TooLarge:
    """A rule tree past a limit (the message names the part where the parse stopped)."""
    return over_limit(message_of(error), error.limit)


def failure_message(error: FileUnreadable) -> str:
    """Why a background import failed, naming the limit and its setting when it was one."""
    if isinstance(error, LimitExceeded):
        return described(message_of(error), error.limit)
    return message_of(error)
