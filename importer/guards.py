"""The warnings a careful colleague would give about an import, dry or not.

Each warning is a function of what the plan found (`ImportFacts`) that returns the warning as
`{code, message, count}`, or None when it does not apply; `import_warnings` lists them in order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from importer.apply import PlanCounts
from importer.doubles import Doubles
from importer.rows import RowStats
from importer.said import and_more, listed, said
from importer.settings import AccountInfo, ImportSettings, LinkInfo

# The ID column "does not look like the link's IDs" when few of its IDs are known while many of
# the unknown rows' addresses are: the rows are probably the link's contacts under other IDs.
FEW_KNOWN_IDS = 0.2
MANY_KNOWN_ADDRESSES = 0.5
TYPOS_LISTED = 10

@dataclass(frozen=True)
class ImportFacts:
    """What the warnings are decided on: the settings, the account and the plan's outcome.

    `known_address_creates` is how many contacts the import creates at an address that already
    exists in the account: in an external_id account, the double contacts a wrong ID column makes.
    """

    settings: ImportSettings
    account: AccountInfo
    counts: PlanCounts
    typo_domains: Counter[str]
    link_has_ids: bool
    known_address_creates: int
    stats: RowStats | None = None  # the checker's first rows of mixed-script and misspelt addresses
    doubles: Doubles | None = None  # groups at one address possibly one person under several IDs

    @property
    def link(self) -> LinkInfo:
        """The link the import matches by (only when it matches by external ID)."""
        return self.account.links[self.settings.match.link]  # type: ignore[index]

    @property
    def ambiguous(self) -> int:
        """How many rows the plan rejected because several contacts share their address."""
        return self.counts.rejected_by_reason.get("ambiguous_address", 0)

    @property
    def by_email_in_external_id_account(self) -> bool:
        return not self.settings.by_external_id and self.account.dedup_mode == "external_id"


def _warning(code: str, message: str, count: int) -> dict:
    return {"code": code, "message": message, "count": count}


def id_column_mismatch(facts: ImportFacts) -> dict | None:
    """Warn when few of the ID column's IDs are known but many of the unknown rows' addresses are."""
    settings, account, counts = facts.settings, facts.account, facts.counts
    if not settings.by_external_id:
        return None
    unknown = counts.staged - counts.found_by_key
    if not (facts.link_has_ids and counts.staged and counts.found_by_key < FEW_KNOWN_IDS * counts.staged
            and unknown and counts.unfound_with_known_address >= MANY_KNOWN_ADDRESSES * unknown):
        return None
    known_addresses = counts.unfound_with_known_address
    if account.dedup_mode == "email":
        # No doubles in an email account: the rows attach their IDs or are refused.
        affected = known_addresses
        consequence = said("%(count)s rows would attach these IDs to existing contacts or be rejected",
                           count=affected)
    elif facts.known_address_creates:
        affected = facts.known_address_creates
        consequence = said("%(count)s double contacts would arise (the same person under two IDs)",
                           count=affected)
    else:
        affected = 0  # update_only: the rows are skipped, they do not find their contacts
        consequence = said("these rows would not find their contacts")
    return _warning(
        "id_column_mismatch",
        said("Column '%(column)s' does not look like %(link)s's IDs: only %(known)s of %(staged)s IDs are "
             "known, while %(addresses)s of the unknown rows have addresses that already exist; "
             "%(consequence)s. Check that the column holds exactly the IDs of the linked system.",
             column=settings.match.column, link=facts.link.name, known=counts.found_by_key,
             staged=counts.staged, addresses=known_addresses, consequence=consequence),
        affected,
    )


def match_by_id_in_email_account(facts: ImportFacts) -> dict | None:
    """Warn that an email account refuses rows by ID whose address is another contact's."""
    if not facts.settings.by_external_id or facts.account.dedup_mode != "email":
        return None
    return _warning(
        "match_by_id_in_email_account",
        said("This account deduplicates by e-mail address, but the import matches by %(link)s's ID; rows "
             "whose address belongs to another contact are rejected.", link=facts.link.name),
        facts.counts.staged,
    )


def different_link(facts: ImportFacts) -> dict | None:
    """Warn when the import matches by another link than the previous import did."""
    account = facts.account
    if (not facts.settings.by_external_id or account.last_import_link_id is None
            or account.last_import_link_id == facts.link.id):
        return None
    previous = next((other.name for other in account.links.values()
                     if other.id == account.last_import_link_id), said("another link"))
    return _warning(
        "different_link",
        said("The previous import used the link '%(previous)s'; this one uses '%(link)s'. Each link has "
             "its own IDs: make sure the column holds this link's IDs.", previous=previous,
             link=facts.link.name),
        facts.counts.staged,
    )


def match_by_email_in_external_id_account(facts: ImportFacts) -> dict | None:
    """Warn that matching by address in an external_id account creates contacts without IDs."""
    if not facts.by_email_in_external_id_account:
        return None
    created, ambiguous = facts.counts.created, facts.ambiguous
    return _warning(
        "match_by_email_in_external_id_account",
        said("This account deduplicates by external ID, but the import matches by e-mail address: "
             "%(created)s contacts would be created without an external ID and %(ambiguous)s rows are "
             "ambiguous (several contacts share the address). Import by external ID instead.",
             created=created, ambiguous=ambiguous),
        created + ambiguous,
    )


def created_without_external_id(facts: ImportFacts) -> dict | None:
    """Count the contacts an import by address creates in an external_id account."""
    created = facts.counts.created
    if not facts.by_email_in_external_id_account or not created:
        return None
    return _warning("created_without_external_id",
                    said("%(created)s contacts would be created without an external ID.", created=created),
                    created)


def ambiguous_address(facts: ImportFacts) -> dict | None:
    """Count the rows by address that match an address several contacts share."""
    ambiguous = facts.ambiguous
    if not facts.by_email_in_external_id_account or not ambiguous:
        return None
    return _warning("ambiguous_address",
                    said("%(ambiguous)s rows match addresses that several contacts share.",
                         ambiguous=ambiguous),
                    ambiguous)


def created_shared_address(facts: ImportFacts) -> dict | None:
    """Count the new contacts at an address another contact has."""
    shared = facts.counts.created_shared_address
    if not shared:
        return None
    return _warning(
        "created_shared_address",
        said("%(shared)s new contacts share their address with another contact; mailings send such an "
             "address one copy unless they opt in to per-contact copies.", shared=shared),
        shared,
    )


def status_kept(facts: ImportFacts) -> dict | None:
    """Count the rows that would make an unsubscribed or bounced contact active: they may not."""
    kept = facts.counts.status_kept
    if not kept:
        return None
    if facts.settings.empty_clears:
        message = said("%(kept)s rows say active (or leave the status empty) for contacts that unsubscribed "
                       "or bounced: those contacts keep their status, since an import never re-subscribes "
                       "anyone; the rest of these rows applies. Re-subscribe a contact explicitly, with the "
                       "person's consent.", kept=kept)
    else:
        message = said("%(kept)s rows say active for contacts that unsubscribed or bounced: those contacts "
                       "keep their status, since an import never re-subscribes anyone; the rest of these "
                       "rows applies. Re-subscribe a contact explicitly, with the person's consent.",
                       kept=kept)
    return _warning("status_kept", message, kept)


def possible_typo_domain(facts: ImportFacts) -> dict | None:
    """List the domains that look like misspelt providers and the first rows that have one (the rows
    are imported as they are)."""
    typo_domains = facts.typo_domains
    if not typo_domains:
        return None
    # The most frequent first, ties by name: not by which process (importer or row checker) saw
    # a domain first, which depends on how the two share the file's batches.
    listed = sorted(typo_domains.items(), key=lambda item: (-item[1], item[0]))[:TYPOS_LISTED]
    domains = and_more(", ".join(f"{typo} ({n})" for typo, n in listed), len(typo_domains) - TYPOS_LISTED)
    count = sum(typo_domains.values())
    rows = facts.stats.typo_rows if facts.stats is not None else []
    if not rows:
        return _warning("possible_typo_domain",
                        said("Some domains look like misspelt providers: %(domains)s. These rows are "
                             "imported as they are.", domains=domains), count)
    numbers = ", ".join(map(str, rows))
    named_rows = and_more(said("row %(numbers)s", numbers=numbers) if len(rows) == 1
                          else said("rows %(numbers)s", numbers=numbers), count - len(rows))
    named = (said("%(count)s row has such a domain: %(rows)s.", count=count, rows=named_rows) if count == 1
             else said("%(count)s rows have such a domain: %(rows)s.", count=count, rows=named_rows))
    return _warning("possible_typo_domain",
                    said("Some domains look like misspelt providers: %(domains)s. %(named)s These rows are "
                         "imported as they are.", domains=domains, named=named), count)


def mixed_script_address(facts: ImportFacts) -> dict | None:
    """Name the first rows whose address mixes scripts in one word (they are imported as they are)."""
    mixed = facts.stats
    if mixed is None or not mixed.mixed_scripts:
        return None
    rows = mixed.mixed_script_rows
    named = and_more(listed([said("row %(row)s %(address)s (%(scripts)s)", row=row, address=address,
                                  scripts=scripts) for row, address, scripts in rows]),
                     mixed.mixed_scripts - len(rows))
    if mixed.mixed_scripts == 1:
        message = said("%(count)s address mixes scripts within one word, so that they look like other "
                       "addresses (a Cyrillic letter for a Latin one that looks the same): %(rows)s. These "
                       "rows are imported as they are; check them.", count=mixed.mixed_scripts, rows=named)
    else:
        message = said("%(count)s addresses mix scripts within one word, so that they look like other "
                       "addresses (a Cyrillic letter for a Latin one that looks the same): %(rows)s. These "
                       "rows are imported as they are; check them.", count=mixed.mixed_scripts, rows=named)
    return _warning("mixed_script_address", message, mixed.mixed_scripts)


def possible_duplicate_person(facts: ImportFacts) -> dict | None:
    """Name the contacts at one address with one name (and birth date) under several of the link's IDs."""
    doubles = facts.doubles
    if doubles is None or not doubles.count:
        return None
    groups = and_more(listed([said("%(ids)s (%(address)s)", ids=listing(ids), address=address)
                              for address, ids in doubles.groups]), doubles.count - len(doubles.groups))
    if doubles.count == 1:
        message = said("%(count)s group of contacts at one address has the same name and, where known, birth "
                       "date under different IDs of %(link)s, possibly the same person: %(groups)s. Check "
                       "them in the linked system.", count=doubles.count, link=facts.link.name, groups=groups)
    else:
        message = said("%(count)s groups of contacts at one address have the same name and, where known, "
                       "birth date under different IDs of %(link)s, possibly the same person: %(groups)s. "
                       "Check them in the linked system.", count=doubles.count, link=facts.link.name,
                       groups=groups)
    return _warning("possible_duplicate_person", message, doubles.count)


def listing(ids: list[str]) -> str:
    """"K1 and K7", "K1, K7 and K9"."""
    return said("%(first)s and %(last)s", first=", ".join(ids[:-1]), last=ids[-1])


# In the order the warnings are listed.
WARNINGS: tuple[Callable[[ImportFacts], dict | None], ...] = (
    id_column_mismatch,
    match_by_id_in_email_account,
    different_link,
    match_by_email_in_external_id_account,
    created_without_external_id,
    ambiguous_address,
    created_shared_address,
    status_kept,
    possible_typo_domain,
    mixed_script_address,
    possible_duplicate_person,
)


# Warnings that only repeat a part of another one (the API keeps both, for the counts by code):
# where that other one is there too, a person is told once (the pages, the command line).
PART_OF = {
    "created_without_external_id": "match_by_email_in_external_id_account",
    "ambiguous_address": "match_by_email_in_external_id_account",
}


def said_once(warnings: list[dict]) -> list[dict]:
    """The warnings a person reads: without those that another warning of the list says in full."""
    codes = {warning.get("code") for warning in warnings}
    return [warning for warning in warnings if PART_OF.get(str(warning.get("code"))) not in codes]


def import_warnings(
    settings: ImportSettings,
    account: AccountInfo,
    counts: PlanCounts,
    typo_domains: Counter[str],
    link_has_ids: bool,
    known_address_creates: int,
    stats: RowStats | None = None,
    doubles: Doubles | None = None,
) -> list[dict]:
    """List the warnings that apply, as `{code, message, count}` (see ImportFacts)."""
    facts = ImportFacts(settings, account, counts, typo_domains, link_has_ids, known_address_creates, stats,
                         doubles)
    return [warning for decide in WARNINGS if (warning := decide(facts)) is not None]
