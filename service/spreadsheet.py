"""Cells that are safe to open in a spreadsheet: the one rule every CSV the product writes uses."""

from __future__ import annotations

# A cell starting with one of these is a formula to a spreadsheet (OWASP's list, with tab and CR).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """Keep a cell from being read as a formula: a leading ' makes it text (applied twice, once)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
