"""Addresses that mix writing systems within one word, as `paypal@pаypal.com` with a Cyrillic "а" does.

Such an address looks like another one and is rarely a person's real address: an import lists them
in a warning (importer/guards.py), and imports them as they are. A part of the address (the local
part, each label of the domain) mixes scripts when its letters come from more than one script,
leaving out the characters every script uses (digits, punctuation, combining marks) and allowing
the scripts that are written together (Japanese, Chinese and Korean with Latin, as Unicode's
"highly restrictive" profile does, UTS #39). Each character's script comes from confusable_homoglyphs'
table of Unicode scripts, remembered per character (the table is searched in Python, 20 times slower).
ASCII addresses (nearly all) are never looked at: one `isascii` each.
"""

from __future__ import annotations

from confusable_homoglyphs.categories import alias

SHARED = frozenset({"COMMON", "INHERITED", "Unknown"})
# Each character's script, once looked up: a file's addresses use few distinct characters.
_SCRIPT_OF = {chr(code): alias(chr(code)) for code in range(128)}
WRITTEN_TOGETHER = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def mixed_scripts(address: str) -> list[str] | None:
    """The scripts mixed in one part of a normalized address (sorted), or None when no part mixes them."""
    if address.isascii():
        return None
    local, _, domain = address.rpartition("@")
    for part in (local, *domain.split(".")):
        if part.isascii():
            continue
        scripts = {_script(char) for char in part} - SHARED
        if len(scripts) > 1 and not any(scripts <= together for together in WRITTEN_TOGETHER):
            return sorted(scripts)
    return None


def _script(char: str) -> str:
    script = _SCRIPT_OF.get(char)
    if script is None:
        script = _SCRIPT_OF[char] = str(alias(char))
    return script
