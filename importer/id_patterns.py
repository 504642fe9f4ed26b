"""A link's id_pattern, matched with RE2: time linear in the ID's length, whatever the pattern.

Python's `re` backtracks: `^(a+)+$` takes seconds for one ID of 27 characters, doubling with
each more, so one hostile pattern and one row could hold an import worker for ever. RE2 has no
backtracking; the price is that it refuses what needs it (backreferences, lookarounds), which a
link is told when it is created. `\\d` and `\\w` are ASCII in RE2, as IDs are.
"""

from __future__ import annotations

from collections.abc import Callable

import re2

from importer.said import foreign, said

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the user's answer, not a log line


class IdPatternError(ValueError):
    """The pattern cannot be used; the message says why."""


def id_matcher(pattern: str) -> Callable[[str], bool]:
    """A test of whether an ID fully matches the pattern; IdPatternError when RE2 cannot compile it."""
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        reason = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        raise IdPatternError(said("%(reason)s (backreferences and lookarounds are not supported)",
                                  reason=foreign(reason, "RE2 cannot read this pattern"))) from None
    return lambda value: compiled.fullmatch(value) is not None
