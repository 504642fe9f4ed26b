"""The import guards through the HTTP API: the warnings a careful colleague gives, dry or not, and a
dry run that reports everything and writes nothing."""

from __future__ import annotations

import pytest

BY_CRM = {"by": "external_id", "link": "crm", "column": "KlantNr"}


def warnings_of(job: dict) -> dict[str, dict]:
    codes = [w["code"] for w in job["warnings"]]
    assert len(codes) == len(set(codes)), job["warnings"]
    return {w["code"]: w for w in job["warnings"]}


def addresses(n: int, start: int = 1) -> list[str]:
    return [f"person{i}@example.nl" for i in range(start, start + n)]


def crm_file(ids: list[str], emails: list[str], column: str = "KlantNr") -> list[list[str]]:
    return [[column, "email"], *([i, e] for i, e in zip(ids, emails, strict=True))]


@pytest.fixture
def shop(make_tenant, import_ok):  # type: ignore[no-untyped-def]
    """An external_id account whose ten contacts came in with their CRM customer numbers."""
    tenant = make_tenant("shop", "external_id", links={"crm": None}, fields={"first_name": "text"})
    import_ok(tenant, crm_file([str(1000 + i) for i in range(1, 11)], addresses(10)),
              {"match": BY_CRM, "mapping": {"email": "email"}})
    return tenant


# --- the ID column does not look like the link's IDs ----------------------------------------------


def test_normal_reimport_gives_no_id_warning(shop, import_ok, contacts_of):
    job = import_ok(shop, crm_file([str(1000 + i) for i in range(1, 11)], addresses(10)),
                    {"match": BY_CRM, "mapping": {"email": "email"}})
    assert job["report"]["unchanged"] == 10
    assert job["warnings"] == []


def test_new_customers_and_a_family_member_give_no_id_column_warning(shop, import_ok):
    # Known IDs, new IDs with new addresses, and one new ID at a known address: a normal import.
    ids = [str(1000 + i) for i in range(1, 11)] + ["1011", "1012", "1013"]
    emails = addresses(10) + addresses(2, start=11) + ["person1@example.nl"]
    job = import_ok(shop, crm_file(ids, emails), {"match": BY_CRM, "mapping": {"email": "email"}})
    assert job["report"]["created"] == 3
    assert job["report"]["created_shared_address"] == 1
    assert set(warnings_of(job)) == {"created_shared_address"}


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry", "real"])
def test_wrong_id_column_warns_with_the_number_of_double_contacts(dry_run, shop, import_ok, contacts_of):
    # The file holds membership numbers, not the CRM's customer numbers; 8 of its 10 people exist.
    before = contacts_of(shop.id)
    emails = addresses(8, start=3) + addresses(2, start=21)
    content = crm_file([str(500 + i) for i in range(10)], emails, column="Lidnummer")
    settings = {"match": {**BY_CRM, "column": "Lidnummer"}, "mapping": {"email": "email"},
                "dry_run": dry_run}
    job = import_ok(shop, content, settings)
    assert job["report"]["created"] == 10
    assert job["report"]["created_shared_address"] == 8
    warning = warnings_of(job)["id_column_mismatch"]
    assert warning["count"] == 8
    assert "Lidnummer" in warning["message"] and "crm" in warning["message"]
    assert "8 double contacts" in warning["message"]

    after = contacts_of(shop.id)
    if dry_run:
        assert after == before
    else:
        # Exactly as many doubles arose as the warning said.
        keys = [c["address_key"] for c in after]
        assert sum(keys.count(k) - 1 for k in set(keys)) == warning["count"]


def test_wrong_id_column_in_update_only_mode_creates_no_doubles(shop, import_ok, contacts_of):
    before = contacts_of(shop.id)
    content = crm_file([str(500 + i) for i in range(10)], addresses(10), column="Lidnummer")
    job = import_ok(shop, content, {"match": {**BY_CRM, "column": "Lidnummer"},
                                    "mapping": {"email": "email"}, "mode": "update_only"})
    assert job["report"]["skipped"] == 10
    # The column is still wrong, but nothing doubles: the warning must not claim it would.
    warning = warnings_of(job)["id_column_mismatch"]
    assert warning["count"] == 0
    assert "double contacts would arise" not in warning["message"]
    assert contacts_of(shop.id) == before


def test_wrong_id_column_in_an_email_account(make_tenant, import_ok, contacts_of):
    tenant = make_tenant(links={"crm": None})
    import_ok(tenant, crm_file(["1", "2", "3", "4"], addresses(4)),
              {"match": BY_CRM, "mapping": {"email": "email"}})
    job = import_ok(tenant, crm_file(["71", "72", "73", "74"], addresses(4), column="Lidnummer"),
                    {"match": {**BY_CRM, "column": "Lidnummer"}, "mapping": {"email": "email"}})
    # In an email account no doubles arise: the rows are refused, the contacts keep their IDs.
    assert job["report"]["rejected_by_reason"] == {"id_conflict": 4}
    warnings = warnings_of(job)
    assert warnings["id_column_mismatch"]["count"] == 4
    assert "match_by_id_in_email_account" in warnings
    assert [c["ids"] for c in contacts_of(tenant.id)] == [{"crm": str(i)} for i in range(1, 5)]


def test_no_id_column_warning_when_the_link_has_no_ids_yet(make_tenant, import_ok):
    # Contacts imported by address only; the first import by ID attaches IDs: nothing to compare with.
    tenant = make_tenant(links={"crm": None})
    import_ok(tenant, [["email"], *([e] for e in addresses(5))], {"mapping": {"email": "email"}})
    job = import_ok(tenant, crm_file(["1", "2", "3", "4", "5"], addresses(5)),
                    {"match": BY_CRM, "mapping": {"email": "email"}})
    assert job["report"]["updated"] == 5
    assert "id_column_mismatch" not in warnings_of(job)


# --- matching by e-mail address in an external_id account -----------------------------------------


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry", "real"])
def test_matching_by_email_in_an_external_id_account(dry_run, shop, import_ok, contacts_of):
    # person1 gets a family member, so its address is shared by two contacts.
    import_ok(shop, crm_file(["2001"], ["person1@example.nl"]),
              {"match": BY_CRM, "mapping": {"email": "email"}})
    before = contacts_of(shop.id)
    rows = [["email", "first_name"],
            ["person1@example.nl", "Ambiguous"],
            ["person2@example.nl", "Known"],
            ["new1@example.nl", "New"],
            ["new2@example.nl", "New"],
            ["new3@example.nl", "New"]]
    job = import_ok(shop, rows, {"mapping": {"email": "email", "first_name": "first_name"},
                                 "dry_run": dry_run})
    assert job["report"]["created"] == 3
    assert job["report"]["updated"] == 1
    assert job["report"]["rejected_by_reason"] == {"ambiguous_address": 1}
    warnings = warnings_of(job)
    assert warnings["created_without_external_id"]["count"] == 3
    assert warnings["ambiguous_address"]["count"] == 1
    overall = warnings["match_by_email_in_external_id_account"]
    assert overall["count"] == 4
    assert "3 contacts" in overall["message"] and "1 rows" in overall["message"]
    after = contacts_of(shop.id)
    if dry_run:
        assert after == before
    else:
        assert [c["ids"] for c in after[len(before):]] == [{}, {}, {}]


def test_matching_by_email_in_an_external_id_account_without_news_is_quiet(shop, import_ok):
    job = import_ok(shop, [["email", "first_name"], ["person2@example.nl", "Known"]],
                    {"mapping": {"email": "email", "first_name": "first_name"}})
    warnings = warnings_of(job)
    assert "created_without_external_id" not in warnings
    assert "ambiguous_address" not in warnings


# --- matching by an ID in an email account, and by another link -----------------------------------


def test_matching_by_id_in_an_email_account(make_tenant, import_ok):
    tenant = make_tenant(links={"crm": None})
    dry = import_ok(tenant, crm_file(["1", "2"], addresses(2)),
                    {"match": BY_CRM, "mapping": {"email": "email"}, "dry_run": True})
    assert warnings_of(dry)["match_by_id_in_email_account"]["count"] == 2
    real = import_ok(tenant, crm_file(["1", "2"], addresses(2)),
                     {"match": BY_CRM, "mapping": {"email": "email"}})
    assert warnings_of(real)["match_by_id_in_email_account"]["count"] == 2
    by_email = import_ok(tenant, [["email"], ["person1@example.nl"]], {"mapping": {"email": "email"}})
    assert by_email["warnings"] == []


def test_a_link_other_than_the_one_most_recently_used(make_tenant, import_ok):
    tenant = make_tenant("multi", "external_id", links={"crm": None, "webshop": None})
    by_crm = {"match": BY_CRM, "mapping": {"email": "email"}}
    by_shop = {"match": {"by": "external_id", "link": "webshop", "column": "KlantNr"},
               "mapping": {"email": "email"}}
    first = import_ok(tenant, crm_file(["1", "2"], addresses(2)), by_crm)
    assert "different_link" not in warnings_of(first)

    content = crm_file(["S1", "S2", "S3"], addresses(3, start=5))
    dry = import_ok(tenant, content, {**by_shop, "dry_run": True})
    warning = warnings_of(dry)["different_link"]
    assert warning["count"] == 3
    assert "'crm'" in warning["message"] and "'webshop'" in warning["message"]
    # A dry run is no use of the link: the real import still warns.
    real = import_ok(tenant, content, by_shop)
    assert warnings_of(real)["different_link"]["count"] == 3
    again = import_ok(tenant, content, by_shop)
    assert "different_link" not in warnings_of(again)
    # An import by e-mail address does not change the link last used.
    import_ok(tenant, [["email"], ["person5@example.nl"]], {"mapping": {"email": "email"}})
    back = import_ok(tenant, crm_file(["1"], ["person1@example.nl"]), by_crm)
    assert "'webshop'" in warnings_of(back)["different_link"]["message"]


# --- typo domains ---------------------------------------------------------------------------------


def test_typo_domains_are_listed_not_rejected(make_tenant, import_ok, contacts_of):
    tenant = make_tenant(fields={"amount": "number"})
    rows = [["email", "amount"],
            ["an@gamil.com", ""],
            ["bo@gamil.com", "1"],
            ["cor@hotmial.com", ""],
            ["dirk@gmail.com", ""],
            ["eva@hotmail.nl", ""],
            ["fien@gamil.com", "not a number"]]  # rejected for its value: not imported, not listed
    job = import_ok(tenant, rows, {"mapping": {"email": "email", "amount": "amount"}})
    assert job["report"]["created"] == 5
    assert job["report"]["rejected"] == 1
    warning = warnings_of(job)["possible_typo_domain"]
    assert warning["count"] == 3
    assert "gamil.com" in warning["message"] and "gmail.com" in warning["message"]
    assert "hotmial.com" in warning["message"] and "hotmail.com" in warning["message"]
    assert "hotmail.nl" not in warning["message"]
    assert {c["email"] for c in contacts_of(tenant.id)} >= {"an@gamil.com", "bo@gamil.com",
                                                            "cor@hotmial.com"}


def test_no_typo_warning_for_real_providers(make_tenant, import_ok):
    tenant = make_tenant()
    rows = [["email"], ["a@gmail.com"], ["b@hotmail.com"], ["c@ziggo.nl"], ["d@live.be"], ["e@example.nl"]]
    job = import_ok(tenant, rows, {"mapping": {"email": "email"}})
    assert job["warnings"] == []


# --- dry run --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["upsert", "create_only", "update_only"])
def test_dry_run_reports_everything_and_writes_nothing(mode, make_tenant, import_ok, contacts_of, client):
    tenant = make_tenant(fields={"first_name": "text"})
    import_ok(tenant, [["email", "first_name"], ["an@example.nl", "An"], ["bo@example.nl", "Bo"]],
              {"mapping": {"email": "email", "first_name": "first_name"}})
    before = contacts_of(tenant.id)
    rows = [["email", "first_name", "age"],
            ["an@example.nl", "An", "40"],        # unchanged, apart from the new field
            ["bo@example.nl", "Bob", ""],         # updated
            ["cor@gamil.com", "Cor", "33"],       # created, typo domain
            ["cor@gamil.com", "Cornelis", ""],    # merged into the row above
            ["bad", "Bad", ""],                   # rejected
            ["dirk@example.nl", "Dirk", "old"]]   # rejected: not a number
    settings = {"mapping": {"email": "email", "first_name": "first_name", "age": "age"},
                "create_fields": {"age": "number"}, "mode": mode}
    dry = import_ok(tenant, rows, {**settings, "dry_run": True})
    assert dry["dry_run"] is True
    assert contacts_of(tenant.id) == before
    account = client.get("/api/v1/account", headers=tenant.auth()).json
    assert "age" not in [f["name"] for f in account["fields"]]  # create_fields is not applied either
    polled = client.get(f"/api/v1/imports/{dry['id']}", headers=tenant.auth()).json
    assert polled["report"] == dry["report"] and polled["warnings"] == dry["warnings"]

    real = import_ok(tenant, rows, settings)
    assert real["report"] == dry["report"]
    assert real["warnings"] == dry["warnings"]
    assert "possible_typo_domain" in warnings_of(real)
    expected = {"upsert": (1, 2, 0), "create_only": (1, 0, 2), "update_only": (0, 2, 1)}[mode]
    report = real["report"]
    assert (report["created"], report["updated"], report["skipped"]) == expected
    assert report["rejected"] == 2
    assert report["merged_in_file"] == 1  # counted as merged whatever then happens to the group
    after = contacts_of(tenant.id)
    assert len(after) == len(before) + report["created"]
    assert after != before


def test_dry_run_of_an_external_id_import_writes_no_ids(make_tenant, import_ok, contacts_of):
    tenant = make_tenant(links={"crm": None})
    import_ok(tenant, [["email"], ["an@example.nl"]], {"mapping": {"email": "email"}})
    before = contacts_of(tenant.id)
    content = crm_file(["1", "2"], ["an@example.nl", "bo@example.nl"])
    settings = {"match": BY_CRM, "mapping": {"email": "email"}}
    dry = import_ok(tenant, content, {**settings, "dry_run": True})
    assert (dry["report"]["updated"], dry["report"]["created"]) == (1, 1)
    assert contacts_of(tenant.id) == before
    real = import_ok(tenant, content, settings)
    assert real["report"] == dry["report"]
    assert [c["ids"] for c in contacts_of(tenant.id)] == [{"crm": "1"}, {"crm": "2"}]
