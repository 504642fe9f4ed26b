"""The warnings a careful colleague would give about an import, dry or not."""

from __future__ import annotations

from collections import Counter

from importer.apply import PlanCounts
from importer.settings import AccountInfo, ImportSettings

# The ID column "does not look like the link's IDs" when few of its IDs are known while many of
# the unknown rows' addresses are: the rows are probably the link's contacts under other IDs.
FEW_KNOWN_IDS = 0.2
MANY_KNOWN_ADDRESSES = 0.5
TYPOS_LISTED = 10


def import_warnings(
    settings: ImportSettings,
    account: AccountInfo,
    counts: PlanCounts,
    typo_domains: Counter[str],
    link_has_ids: bool,
    known_address_creates: int,
) -> list[dict]:
    """List the warnings as `{code, message, count}`.

    `known_address_creates` is how many contacts the import creates at an address that already
    exists in the account: in an external_id account, the double contacts a wrong ID column makes.
    """
    warnings: list[dict] = []

    def warn(code: str, message: str, count: int) -> None:
        warnings.append({"code": code, "message": message, "count": count})

    if settings.by_external_id:
        link = account.links[settings.match.link]  # type: ignore[index]
        unknown = counts.staged - counts.found_by_key
        if (link_has_ids and counts.staged and counts.found_by_key < FEW_KNOWN_IDS * counts.staged
                and unknown and counts.unfound_with_known_address >= MANY_KNOWN_ADDRESSES * unknown):
            known_addresses = counts.unfound_with_known_address
            if account.dedup_mode == "email":
                # No doubles in an email account: the rows attach their IDs or are refused.
                affected = known_addresses
                consequence = f"{affected} rows would attach these IDs to existing contacts or be rejected"
            elif known_address_creates:
                affected = known_address_creates
                consequence = f"{affected} double contacts would arise (the same person under two IDs)"
            else:
                affected = 0  # update_only: the rows are skipped, they do not find their contacts
                consequence = "these rows would not find their contacts"
            warn(
                "id_column_mismatch",
                f"Column '{settings.match.column}' does not look like {link.name}'s IDs: only "
                f"{counts.found_by_key} of {counts.staged} IDs are known, while {known_addresses} of "
                f"the unknown rows have addresses that already exist; {consequence}. Check that the "
                f"column holds exactly the IDs of the linked system.",
                affected,
            )
        if account.dedup_mode == "email":
            warn(
                "match_by_id_in_email_account",
                f"This account deduplicates by e-mail address, but the import matches by "
                f"{link.name}'s ID; rows whose address belongs to another contact are rejected.",
                counts.staged,
            )
        if account.last_import_link_id is not None and account.last_import_link_id != link.id:
            previous = next((other.name for other in account.links.values()
                             if other.id == account.last_import_link_id), "another link")
            warn(
                "different_link",
                f"The previous import used the link '{previous}'; this one uses '{link.name}'. "
                "Each link has its own IDs: make sure the column holds this link's IDs.",
                counts.staged,
            )
    elif account.dedup_mode == "external_id":
        ambiguous = counts.rejected_by_reason.get("ambiguous_address", 0)
        warn(
            "match_by_email_in_external_id_account",
            f"This account deduplicates by external ID, but the import matches by e-mail address: "
            f"{counts.created} contacts would be created without an external ID and {ambiguous} rows "
            "are ambiguous (several contacts share the address). Import by external ID instead.",
            counts.created + ambiguous,
        )
        if counts.created:
            warn("created_without_external_id",
                 f"{counts.created} contacts would be created without an external ID.", counts.created)
        if ambiguous:
            warn("ambiguous_address",
                 f"{ambiguous} rows match addresses that several contacts share.", ambiguous)
    if counts.created_shared_address:
        warn(
            "created_shared_address",
            f"{counts.created_shared_address} new contacts share their address with another contact; "
            "mailings send such an address one copy unless they opt in to per-contact copies.",
            counts.created_shared_address,
        )
    if typo_domains:
        listed = ", ".join(f"{typo} ({n})" for typo, n in typo_domains.most_common(TYPOS_LISTED))
        more = len(typo_domains) - TYPOS_LISTED
        warn(
            "possible_typo_domain",
            f"Some domains look like misspelt providers: {listed}"
            + (f" and {more} more" if more > 0 else "") + ". These rows are imported as they are.",
            sum(typo_domains.values()),
        )
    return warnings
