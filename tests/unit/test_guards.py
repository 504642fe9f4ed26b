"""Unit tests for importer.guards: each import warning's condition, message and count."""

from __future__ import annotations

from collections import Counter

import pytest

from importer.apply import PlanCounts
from importer.guards import FEW_KNOWN_IDS, MANY_KNOWN_ADDRESSES, TYPOS_LISTED, import_warnings
from importer.rows import RowStats
from importer.settings import AccountInfo, ImportSettings, LinkInfo, MatchRule

LINKS = {"crm": LinkInfo(7, "crm"), "webshop": LinkInfo(8, "webshop")}
BY_EMAIL = ImportSettings(mapping={"email": "email"})
BY_CRM = ImportSettings(match=MatchRule("external_id", "crm", "Lidnummer"), mapping={"email": "email"})


def account(dedup_mode: str = "external_id", last_import_link_id: int | None = None) -> AccountInfo:
    return AccountInfo(1, dedup_mode, {}, LINKS, last_import_link_id)


def warnings(settings: ImportSettings, account: AccountInfo, counts: PlanCounts, *,
             typos: Counter[str] | None = None, link_has_ids: bool = True,
             known_address_creates: int = 0) -> dict[str, dict]:
    """The warnings by code (each code once)."""
    listed = import_warnings(settings, account, counts, typos or Counter(), link_has_ids,
                             known_address_creates)
    by_code = {w["code"]: w for w in listed}
    assert len(by_code) == len(listed)
    assert all(set(w) == {"code", "message", "count"} for w in listed)
    return by_code


def test_a_plain_import_by_address_gives_no_warning():
    assert import_warnings(BY_EMAIL, account("email"), PlanCounts(created=10, staged=10), Counter(),
                           False, 0) == []


def test_a_normal_reimport_by_id_gives_no_warning():
    counts = PlanCounts(unchanged=10, staged=10, found_by_key=10)
    assert import_warnings(BY_CRM, account(last_import_link_id=7), counts, Counter(), True, 0) == []


# --- id_column_mismatch ---------------------------------------------------------------------------


def test_thresholds():
    assert (FEW_KNOWN_IDS, MANY_KNOWN_ADDRESSES) == (0.2, 0.5)


@pytest.mark.parametrize(("found", "known_addresses", "warned"), [
    (0, 5, True),    # none of 10 IDs known; 5 of the 10 unknown rows at known addresses: the edge
    (0, 4, False),   # 4 of 10: fewer than half
    (1, 5, True),    # 1 of 10 IDs known (< 20%); 5 of the 9 unknown rows (>= 4.5)
    (1, 4, False),   # 4 of 9 < 4.5
    (2, 8, False),   # 2 of 10 IDs known: 20% is not fewer than 20%
    (0, 10, True),
])
def test_id_column_mismatch_at_its_thresholds(found, known_addresses, warned):
    counts = PlanCounts(created=10 - found, staged=10, found_by_key=found,
                        unfound_with_known_address=known_addresses)
    got = warnings(BY_CRM, account(), counts, known_address_creates=known_addresses)
    assert ("id_column_mismatch" in got) is warned


@pytest.mark.parametrize(("link_has_ids", "staged"), [(False, 10), (True, 0)])
def test_no_id_column_mismatch_without_ids_to_compare_with(link_has_ids, staged):
    counts = PlanCounts(created=staged, staged=staged, unfound_with_known_address=staged)
    assert "id_column_mismatch" not in warnings(BY_CRM, account(), counts, link_has_ids=link_has_ids,
                                                known_address_creates=staged)


def test_no_id_column_mismatch_when_every_id_is_known():
    # No unknown rows at all: nothing to judge the addresses of.
    counts = PlanCounts(staged=10, found_by_key=10, unchanged=10)
    assert "id_column_mismatch" not in warnings(BY_CRM, account(), counts)


def test_id_column_mismatch_counts_the_double_contacts():
    counts = PlanCounts(created=10, created_shared_address=8, staged=10, unfound_with_known_address=8)
    warning = warnings(BY_CRM, account(), counts, known_address_creates=8)["id_column_mismatch"]
    assert warning == {
        "code": "id_column_mismatch",
        "message": "Column 'Lidnummer' does not look like crm's IDs: only 0 of 10 IDs are known, while 8 of "
                   "the unknown rows have addresses that already exist; 8 double contacts would arise "
                   "(the same person under two IDs). Check that the column holds exactly the IDs of the "
                   "linked system.",
        "count": 8,
    }


def test_id_column_mismatch_in_an_email_account_counts_the_rows_at_known_addresses():
    counts = PlanCounts(staged=4, unfound_with_known_address=4, rejected_by_reason={"id_conflict": 4})
    warning = warnings(BY_CRM, account("email"), counts)["id_column_mismatch"]
    assert warning["count"] == 4
    assert ("only 0 of 4 IDs are known, while 4 of the unknown rows have addresses that already exist; "
            "4 rows would attach these IDs to existing contacts or be rejected.") in warning["message"]


def test_id_column_mismatch_that_creates_nothing_counts_nothing():
    # update_only: the rows are skipped; the column is still wrong, but no doubles arise.
    counts = PlanCounts(skipped=10, staged=10, unfound_with_known_address=10)
    warning = warnings(BY_CRM, account(), counts, known_address_creates=0)["id_column_mismatch"]
    assert warning["count"] == 0
    assert "while 10 of the unknown rows have addresses that already exist; these rows would not find " \
           "their contacts." in warning["message"]


# --- matching by ID in an email account, by another link ------------------------------------------


def test_match_by_id_in_email_account():
    counts = PlanCounts(updated=3, staged=3, found_by_key=3)
    assert warnings(BY_CRM, account("email"), counts)["match_by_id_in_email_account"] == {
        "code": "match_by_id_in_email_account",
        "message": "This account deduplicates by e-mail address, but the import matches by crm's ID; "
                   "rows whose address belongs to another contact are rejected.",
        "count": 3,
    }
    assert "match_by_id_in_email_account" not in warnings(BY_CRM, account("external_id"), counts)
    assert "match_by_id_in_email_account" not in warnings(BY_EMAIL, account("email"), counts)


def test_different_link():
    counts = PlanCounts(created=3, staged=3)
    assert warnings(BY_CRM, account(last_import_link_id=8), counts)["different_link"] == {
        "code": "different_link",
        "message": "The previous import used the link 'webshop'; this one uses 'crm'. Each link has its "
                   "own IDs: make sure the column holds this link's IDs.",
        "count": 3,
    }
    # A link since removed is named as such.
    assert "'another link'" in warnings(BY_CRM, account(last_import_link_id=99), counts)["different_link"][
        "message"]
    for same_or_none in (7, None):
        assert "different_link" not in warnings(BY_CRM, account(last_import_link_id=same_or_none), counts)
    # An import by address uses no link.
    assert "different_link" not in warnings(BY_EMAIL, account(last_import_link_id=8), counts)


# --- matching by address in an external_id account ------------------------------------------------


def test_matching_by_address_in_an_external_id_account():
    counts = PlanCounts(created=3, updated=1, staged=5, rejected_by_reason={"ambiguous_address": 1})
    got = warnings(BY_EMAIL, account("external_id"), counts)
    assert list(got) == ["match_by_email_in_external_id_account", "created_without_external_id",
                         "ambiguous_address"]
    assert got["match_by_email_in_external_id_account"] == {
        "code": "match_by_email_in_external_id_account",
        "message": "This account deduplicates by external ID, but the import matches by e-mail address: 3 "
                   "contacts would be created without an external ID and 1 rows are ambiguous (several "
                   "contacts share the address). Import by external ID instead.",
        "count": 4,
    }
    assert got["created_without_external_id"] == {
        "code": "created_without_external_id",
        "message": "3 contacts would be created without an external ID.", "count": 3}
    assert got["ambiguous_address"] == {
        "code": "ambiguous_address",
        "message": "1 rows match addresses that several contacts share.", "count": 1}


def test_matching_by_address_in_an_external_id_account_without_news_warns_once():
    got = warnings(BY_EMAIL, account("external_id"), PlanCounts(updated=1, staged=1))
    assert list(got) == ["match_by_email_in_external_id_account"]
    assert got["match_by_email_in_external_id_account"]["count"] == 0


def test_ambiguous_rows_without_creates():
    counts = PlanCounts(staged=2, rejected_by_reason={"ambiguous_address": 2, "missing_email": 1})
    got = warnings(BY_EMAIL, account("external_id"), counts)
    assert list(got) == ["match_by_email_in_external_id_account", "ambiguous_address"]
    assert got["ambiguous_address"]["count"] == 2


# --- shared addresses and typo domains ------------------------------------------------------------


@pytest.mark.parametrize(("settings", "mode"), [(BY_EMAIL, "email"), (BY_CRM, "external_id")])
def test_created_shared_address(settings, mode):
    counts = PlanCounts(created=3, created_shared_address=2, staged=3, found_by_key=3)
    assert warnings(settings, account(mode), counts)["created_shared_address"] == {
        "code": "created_shared_address",
        "message": "2 new contacts share their address with another contact; mailings send such an "
                   "address one copy unless they opt in to per-contact copies.",
        "count": 2,
    }


@pytest.mark.parametrize("empty_clears", [False, True])
def test_status_kept(empty_clears):
    settings = ImportSettings(mapping={"email": "email", "Status": "status"}, empty_clears=empty_clears)
    counts = PlanCounts(updated=2, unchanged=3, status_kept=4, staged=5, found_by_key=5)
    says = "say active (or leave the status empty)" if empty_clears else "say active"
    assert warnings(settings, account("email"), counts)["status_kept"] == {
        "code": "status_kept",
        "message": f"4 rows {says} for contacts that unsubscribed or bounced: those contacts keep "
                   "their status, since an import never re-subscribes anyone; the rest of these rows "
                   "applies. Re-subscribe a contact explicitly, with the person's consent.",
        "count": 4,
    }
    assert "status_kept" not in warnings(settings, account("email"), PlanCounts(updated=5, staged=5))


def test_possible_typo_domain():
    typos = Counter({"hotmial.com -> hotmail.com": 1, "gamil.com -> gmail.com": 2})
    got = warnings(BY_EMAIL, account("email"), PlanCounts(created=5, staged=5), typos=typos)
    assert got == {"possible_typo_domain": {
        "code": "possible_typo_domain",
        "message": "Some domains look like misspelt providers: gamil.com -> gmail.com (2), "
                   "hotmial.com -> hotmail.com (1). These rows are imported as they are.",
        "count": 3,
    }}


@pytest.mark.parametrize(("rows", "named"), [
    ([4], " 1 row has such a domain: row 4."),
    ([4, 9, 12, 20, 31, 40, 41], " 7 rows have such a domain: rows 4, 9, 12, 20, 31 and 2 more."),
])
def test_the_typo_warning_names_its_first_rows(rows, named):
    stats = RowStats()
    for row in rows:
        stats.note_typo(row, "gamil.com -> gmail.com")
    [warning] = import_warnings(BY_EMAIL, account("email"), PlanCounts(), stats.typo_domains, False, 0, stats)
    assert warning["message"] == (f"Some domains look like misspelt providers: gamil.com -> gmail.com "
                                  f"({len(rows)}).{named} These rows are imported as they are.")
    assert warning["count"] == len(rows)


def test_the_rows_of_two_checkers_are_the_first_of_the_file():
    one, two = RowStats(), RowStats()
    for row in (30, 31, 32, 33, 34, 35):
        one.note_typo(row, "gamil.com -> gmail.com")
    for row in (2, 40):
        two.note_typo(row, "gamil.com -> gmail.com")
    one.merge(two)
    assert one.typo_rows == [2, 30, 31, 32, 33] and one.typo_domains["gamil.com -> gmail.com"] == 8


@pytest.mark.parametrize(("domains", "more"), [(TYPOS_LISTED, ""), (TYPOS_LISTED + 1, " and 1 more"),
                                              (TYPOS_LISTED + 5, " and 5 more")])
def test_possible_typo_domain_lists_the_most_common_ten(domains, more):
    assert TYPOS_LISTED == 10
    typos = Counter({f"typo{n}.nl -> provider.nl": 100 - n for n in range(domains)})
    warning = warnings(BY_EMAIL, account("email"), PlanCounts(), typos=typos)["possible_typo_domain"]
    listed = ", ".join(f"typo{n}.nl -> provider.nl ({100 - n})" for n in range(10))
    assert warning["message"] == (f"Some domains look like misspelt providers: {listed}{more}. "
                                  "These rows are imported as they are.")
    assert warning["count"] == sum(100 - n for n in range(domains))


def test_equally_common_typo_domains_are_listed_by_name_whichever_checker_saw_them_first():
    # The importer and the row checker each count the batches they check, then merge: which of
    # them saw a domain first depends on how they share the file, and must not change the list.
    found = ["hotmial.com -> hotmail.com", "gamil.com -> gmail.com", "gmial.com -> gmail.com"]
    messages = set()
    for first in (found, found[::-1]):
        one, two = RowStats(), RowStats()
        for row, typo in enumerate(first, start=2):
            one.note_typo(row, typo)
        two.note_typo(50, "hotmial.com -> hotmail.com")
        one.merge(two)
        messages.add(warnings(BY_EMAIL, account("email"), PlanCounts(), typos=one.typo_domains)
                     ["possible_typo_domain"]["message"])
    assert messages == {"Some domains look like misspelt providers: hotmial.com -> hotmail.com (2), "
                        "gamil.com -> gmail.com (1), gmial.com -> gmail.com (1). These rows are imported "
                        "as they are."}


# --- the order ------------------------------------------------------------------------------------


def test_warnings_come_in_a_fixed_order():
    counts = PlanCounts(created=10, created_shared_address=8, staged=10, unfound_with_known_address=8,
                        status_kept=1)
    typos = Counter({"gamil.com -> gmail.com": 1})
    by_id = import_warnings(BY_CRM, account("email", last_import_link_id=8), counts, typos, True, 8)
    assert [w["code"] for w in by_id] == ["id_column_mismatch", "match_by_id_in_email_account",
                                          "different_link", "created_shared_address", "status_kept",
                                          "possible_typo_domain"]
    by_address = import_warnings(BY_EMAIL, account("external_id", last_import_link_id=8),
                                 PlanCounts(created=2, created_shared_address=1, staged=3,
                                            rejected_by_reason={"ambiguous_address": 1}), typos, True, 1)
    assert [w["code"] for w in by_address] == [
        "match_by_email_in_external_id_account", "created_without_external_id", "ambiguous_address",
        "created_shared_address", "possible_typo_domain"]


@pytest.mark.parametrize("rows, says", [(1, "1 address mixes"), (12, "12 addresses mix")])
def test_mixed_script_address(rows, says):
    assert import_warnings(BY_EMAIL, account("email"), PlanCounts(), Counter(), False, 0, RowStats()) == []
    stats = RowStats()
    for row in range(7, 7 + rows):
        stats.note_mixed_scripts(row, "paypal@p\u0430ypal.com", ["CYRILLIC", "LATIN"])
    [warning] = import_warnings(BY_EMAIL, account("email"), PlanCounts(), Counter(), False, 0, stats)
    assert warning["code"] == "mixed_script_address" and warning["count"] == rows
    assert warning["message"].startswith(f"{says} scripts within one word, so that they look like other "
                                         "addresses (a Cyrillic letter for a Latin one that looks the same): "
                                         "row 7 paypal@p\u0430ypal.com (CYRILLIC and LATIN)")
    assert warning["message"].endswith((" and 2 more" if rows == 12 else "LATIN)")
                                       + ". These rows are imported as they are; check them.")
