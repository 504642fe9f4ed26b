"""An import's warnings in the page's language.

importer/guards.py writes each warning as an English sentence with its code (the API's words),
and the job stores beside it the sentence's words (importer.said's JSON), which a page says in its
language. Imports stored before the words have only the sentence: a page reads its figures and
names back by the code's pattern; a sentence no pattern knows is shown as it is, in English.
"""

from __future__ import annotations

import re
from typing import Any

from service.words import gettext, lazy_gettext, ngettext, say_stored

# code -> (the English sentence as a pattern, the page's sentence with the same names)
PATTERNS = {
    "id_column_mismatch": (
        r"Column '(?P<column>.*)' does not look like (?P<link>.*)'s IDs: only (?P<known>\d+) of "
        r"(?P<staged>\d+) IDs are known, while (?P<addresses>\d+) of the unknown rows have addresses "
        r"that already exist; "
        r"(?P<consequence>.*)\. Check that the column holds exactly the IDs of the linked system\.",
        lazy_gettext("Column '%(column)s' does not look like the IDs of %(link)s: only %(known)s of "
                     "%(staged)s IDs are known, while %(addresses)s of the unknown rows have addresses "
                     "that already exist; %(consequence)s. Check that the column holds exactly the IDs "
                     "of the linked system.")),
    "match_by_id_in_email_account": (
        r"This account deduplicates by e-mail address, but the import matches by (?P<link>.*)'s ID; rows "
        r"whose address belongs to another contact are rejected\.",
        lazy_gettext("This account deduplicates by e-mail address, but the import matches by the ID of "
                     "%(link)s; rows whose address belongs to another contact are rejected.")),
    "different_link": (
        r"The previous import used the link '(?P<previous>.*)'; this one uses '(?P<link>.*)'\. Each link has "
        r"its own IDs: make sure the column holds this link's IDs\.",
        lazy_gettext("The previous import used the link '%(previous)s'; this one uses '%(link)s'. Each link "
                     "has its own IDs: make sure the column holds this link's IDs.")),
    "match_by_email_in_external_id_account": (
        r"This account deduplicates by external ID, but the import matches by e-mail address: "
        r"(?P<created>\d+) contacts would be created without an external ID and (?P<ambiguous>\d+) rows "
        r"are ambiguous "
        r"\(several contacts share the address\)\. Import by external ID instead\.",
        lazy_gettext("This account deduplicates by external ID, but the import matches by e-mail address: "
                     "%(created)s contacts would be created without an external ID and %(ambiguous)s rows "
                     "are ambiguous (several contacts share the address). Import by external ID instead.")),
    "created_without_external_id": (
        r"(?P<created>\d+) contacts would be created without an external ID\.",
        lazy_gettext("%(created)s contacts would be created without an external ID.")),
    "ambiguous_address": (
        r"(?P<ambiguous>\d+) rows match addresses that several contacts share\.",
        lazy_gettext("%(ambiguous)s rows match addresses that several contacts share.")),
    "created_shared_address": (
        r"(?P<shared>\d+) new contacts share their address with another contact; mailings send such an "
        r"address one copy unless they opt in to per-contact copies\.",
        lazy_gettext("%(shared)s new contacts share their address with another contact; mailings send such "
                     "an address one copy unless they opt in to per-contact copies.")),
    "status_kept": (
        r"(?P<kept>\d+) rows say active(?P<empty> \(or leave the status empty\))? for contacts that "
        r"unsubscribed or bounced: those contacts keep their status, since an import never re-subscribes "
        r"anyone; the rest of these rows applies\. Re-subscribe a contact explicitly, with the person's "
        r"consent\.",
        lazy_gettext("%(kept)s rows say active%(empty)s for contacts that unsubscribed or bounced: those "
                     "contacts keep their status, since an import never re-subscribes anyone; the rest of "
                     "these rows applies. Re-subscribe a contact explicitly, with the person's consent.")),
    "possible_typo_domain": (
        r"Some domains look like misspelt providers: (?P<listed>.*?)(?: and (?P<more>\d+) more)?\."
        r"(?: (?P<typo_count>\d+) rows? ha(?:s|ve) such a domain: rows? (?P<typo_rows>[\d, ]+?)"
        r"(?: and (?P<more_rows>\d+) more)?\.)? These rows are imported as they are\.",
        lazy_gettext("Some domains look like misspelt providers: %(listed)s%(more)s.%(typo_rows)s These rows "
                     "are imported as they are.")),
    "mixed_script_address": (
        r"(?P<count>\d+) (?:address mixes|addresses mix) scripts within one word, so that they look like "
        r"other addresses \(a Cyrillic letter for a Latin one that looks the same\): (?P<rows>.*?)"
        r"(?: and (?P<more>\d+) more)?\. These rows are imported as they are; check them\.",
        lazy_gettext("Addresses that mix scripts within one word (%(count)s) look like other addresses (a "
                     "Cyrillic letter for a Latin one that looks the same): %(rows)s%(more)s. These rows are "
                     "imported as they are; check them.")),
    "possible_duplicate_person": (
        r"(?P<count>\d+) groups? of contacts at one address ha(?:s|ve) the same name and, where known, birth "
        r"date under different IDs of (?P<link>.*), possibly the same person: (?P<groups>.*?)"
        r"(?: and (?P<more>\d+) more)?\. Check them in the linked system\.",
        lazy_gettext("Possibly the same person (%(count)s): contacts at one address with the same name and, "
                     "where known, birth date under different IDs of %(link)s: %(groups)s%(more)s. Check "
                     "them in the linked system.")),
}
# The parts of a sentence that are words themselves.
CONSEQUENCES = {
    r"(\d+) rows would attach these IDs to existing contacts or be rejected":
        lazy_gettext("%(count)s rows would attach these IDs to existing contacts or be rejected"),
    r"(\d+) double contacts would arise \(the same person under two IDs\)":
        lazy_gettext("%(count)s double contacts would arise (the same person under two IDs)"),
    r"these rows would not find their contacts()": lazy_gettext("these rows would not find their contacts"),
}


def _consequence(english: str) -> str:
    for pattern, words in CONSEQUENCES.items():
        if found := re.fullmatch(pattern, english):
            return str(words) % {"count": found.group(1)} if found.group(1) else str(words)
    return english


def warning_words(warning: dict[str, Any]) -> str:
    """The warning's sentence in the page's language (as it is when its pattern does not fit)."""
    said_again = say_stored(warning.get("message"), warning.get("words"))
    if said_again is not None and warning.get("words"):
        return said_again
    message = str(warning.get("message", ""))
    known = PATTERNS.get(str(warning.get("code")))
    found = re.fullmatch(known[0], message) if known else None
    if known is None or found is None:
        return message
    names = {name: value or "" for name, value in found.groupdict().items()}
    if "consequence" in names:
        names["consequence"] = _consequence(names["consequence"])
    if names.get("empty"):
        names["empty"] = " " + gettext("(or leave the status empty)")
    if names.get("rows"):  # "row 3 addr (Latin, Cyrillic), row 9 ...": "row" in the page's language
        names["rows"] = re.sub(r"(?:^|(?<=, ))row (\d+) ",
                               lambda row: gettext("row %(number)s", number=row.group(1)) + " ",
                               names["rows"])
    if names.get("groups"):  # "K1 and K7 (address), K2, K5 and K8 (...)": "and" in the page's language
        names["groups"] = re.sub(r" and ([^,()]+?) \(",
                                 lambda last: " " + gettext("and %(last)s", last=last.group(1)) + " (",
                                 names["groups"])
    if names.get("more"):
        names["more"] = " " + gettext("and %(count)s more", count=names["more"])
    if names.get("typo_rows"):  # "4 rows have such a domain: rows 2, 5, 9 and 1 more."
        more_rows = names["more_rows"] and " " + gettext("and %(count)s more", count=names["more_rows"])
        names["typo_rows"] = " " + ngettext("%(num)s row has such a domain: %(rows)s",
                                            "%(num)s rows have such a domain: %(rows)s",
                                            int(names["typo_count"]),
                                            rows=ngettext("row %(list)s", "rows %(list)s",
                                                          names["typo_rows"].count(",") + 1,
                                                          list=names["typo_rows"])) + more_rows + "."
    return str(known[1]) % names
