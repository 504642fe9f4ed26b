"""In-file merges, import modes, empty cells, unchanged re-imports and status, on both databases."""

from __future__ import annotations

import pytest
from import_helpers import expect, rejections
from sqlalchemy import text

BY_EMAIL = {"match": {"by": "email"}}
BY_ID = {"match": {"by": "external_id", "link": "crm", "column": "id"}}
FIELDS = {"first_name": "text", "city": "text", "score": "number", "born": "date", "vip": "boolean"}
MAPPING = {"email": "email", "first_name": "first_name", "city": "city"}
TYPED = {"email": "email", "score": "score", "born": "born", "vip": "vip", "status": "status"}


@pytest.fixture
def tenant(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant("merge", "email", links={"crm": None}, fields=FIELDS)


@pytest.fixture
def id_tenant(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant("merge-ids", "external_id", links={"crm": None}, fields=FIELDS)


# --- in-file merges ---------------------------------------------------------------------------------


def test_rows_with_one_address_merge_later_non_empty_values_win(tenant, import_rows, contacts_of):
    rows = [["email", "first_name", "city"],
            ["ann@example.nl", "Ann", "Delft"],
            ["bob@example.nl", "Bob", ""],
            [" ANN@example.nl", "", "Utrecht"],  # an empty first name leaves "Ann"
            ["Ann@Example.nl", "Annie", ""]]  # an empty city leaves "Utrecht"
    job = import_rows(tenant, rows, {**BY_EMAIL, "mapping": MAPPING})
    expect(job, rows=4, created=2, merged_in_file=2)
    contacts = contacts_of(tenant.id)
    assert [(c["address_key"], c["email"], c["attributes"]) for c in contacts] == [
        ("ann@example.nl", "Ann@example.nl", {"first_name": "Annie", "city": "Utrecht"}),
        ("bob@example.nl", "bob@example.nl", {"first_name": "Bob"}),
    ]


def test_rows_with_one_id_merge_into_an_existing_contact(tenant, import_rows, contacts_of):
    import_rows(tenant, [["id", "email", "first_name", "city"], ["K1", "ann@example.nl", "Ann", "Delft"]],
                {**BY_ID, "mapping": MAPPING})
    rows = [["id", "email", "first_name", "city"],
            ["K1", "", "Annie", ""],
            ["K2", "bob@example.nl", "Bob", ""],
            ["K1", "ann.new@example.nl", "", "Leiden"],  # the address travels with its row's values
            ["K1", "", "", ""]]
    job = import_rows(tenant, rows, {**BY_ID, "mapping": MAPPING})
    expect(job, rows=4, created=1, updated=1, merged_in_file=2)
    contacts = contacts_of(tenant.id)
    assert [(c["address_key"], c["attributes"], c["ids"]) for c in contacts] == [
        ("ann.new@example.nl", {"first_name": "Annie", "city": "Leiden"}, {"crm": "K1"}),
        ("bob@example.nl", {"first_name": "Bob"}, {"crm": "K2"}),
    ]


def test_a_rejected_row_takes_no_part_in_a_merge(tenant, import_rows, contacts_of, rejected_rows):
    mapping = {**MAPPING, "score": "score"}
    rows = [["email", "first_name", "city", "score"],
            ["ann@example.nl", "Ann", "", "1"],
            ["ann@example.nl", "Wrong", "Nowhere", "lots"],  # invalid_value: none of it is used
            ["ann@example.nl", "", "Delft", ""]]
    job = import_rows(tenant, rows, {**BY_EMAIL, "mapping": mapping})
    expect(job, rows=3, created=1, merged_in_file=1, rejected={"invalid_value": 1})
    assert [c["attributes"] for c in contacts_of(tenant.id)] == [
        {"first_name": "Ann", "city": "Delft", "score": 1}]
    assert rejections(rejected_rows, tenant, job) == [(3, "invalid_value")]


def test_rows_of_a_group_the_plan_rejects_are_all_rejected(
        tenant, import_rows, contacts_of, rejected_rows):
    import_rows(tenant, [["id", "email", "first_name", "city"], ["K1", "ann@example.nl", "Ann", ""]],
                {**BY_ID, "mapping": MAPPING})
    rows = [["id", "email", "first_name", "city"],
            ["K9", "", "X", ""],
            ["K2", "bob@example.nl", "Bob", ""],
            ["K9", "ann@example.nl", "", "Y"]]  # Ann has another ID: the whole K9 group is id_conflict
    job = import_rows(tenant, rows, {**BY_ID, "mapping": MAPPING})
    expect(job, rows=3, created=1, rejected={"id_conflict": 2})
    assert [(c["address_key"], c["attributes"], c["ids"]) for c in contacts_of(tenant.id)] == [
        ("ann@example.nl", {"first_name": "Ann"}, {"crm": "K1"}),
        ("bob@example.nl", {"first_name": "Bob"}, {"crm": "K2"}),
    ]
    assert rejections(rejected_rows, tenant, job) == [(2, "id_conflict"), (4, "id_conflict")]


def test_new_contacts_get_ids_in_file_order(id_tenant, import_rows, contacts_of):
    rows = [["id", "email", "first_name"]] + [[f"K{n}", f"p{n % 3}@example.nl", f"P{n}"]
                                              for n in (5, 3, 9, 1, 3, 7)]
    job = import_rows(id_tenant, rows, {**BY_ID, "mapping": {"email": "email", "first_name": "first_name"}})
    expect(job, rows=6, created=5, created_shared_address=2, merged_in_file=1)
    assert [c["ids"]["crm"] for c in contacts_of(id_tenant.id)] == ["K5", "K3", "K9", "K1", "K7"]


# --- modes --------------------------------------------------------------------------------------------


def _two_contacts(tenant, import_rows) -> None:  # type: ignore[no-untyped-def]
    import_rows(tenant, [["id", "email", "first_name", "city"], ["K1", "ann@example.nl", "Ann", "Delft"]],
                {**BY_ID, "mapping": MAPPING})
    import_rows(tenant, [["email", "first_name", "city"], ["bob@example.nl", "Bob", "Gouda"]],
                {**BY_EMAIL, "mapping": MAPPING})


def test_create_only_skips_existing_contacts(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    before = contacts_of(tenant.id)
    rows = [["email", "first_name", "city"], ["ANN@example.nl", "Changed", ""], ["cas@example.nl", "Cas", ""]]
    job = import_rows(tenant, rows, {**BY_EMAIL, "mapping": MAPPING, "mode": "create_only"})
    expect(job, rows=2, created=1, skipped=1)
    after = contacts_of(tenant.id)
    assert after[:2] == before
    assert (after[2]["address_key"], after[2]["attributes"]) == ("cas@example.nl", {"first_name": "Cas"})


def test_create_only_by_id_skips_known_ids_and_attachments(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    before = contacts_of(tenant.id)
    rows = [["id", "email", "first_name", "city"],
            ["K1", "", "Changed", ""],  # a known ID
            ["K2", "bob@example.nl", "Changed", ""],  # would attach K2 to Bob: that updates Bob
            ["K3", "cas@example.nl", "Cas", ""]]
    job = import_rows(tenant, rows, {**BY_ID, "mapping": MAPPING, "mode": "create_only"})
    expect(job, rows=3, created=1, skipped=2)
    after = contacts_of(tenant.id)
    assert after[:2] == before
    assert (after[2]["address_key"], after[2]["ids"]) == ("cas@example.nl", {"crm": "K3"})


def test_update_only_skips_new_contacts(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    rows = [["email", "first_name", "city"], ["ann@example.nl", "Annie", ""], ["cas@example.nl", "Cas", ""]]
    job = import_rows(tenant, rows, {**BY_EMAIL, "mapping": MAPPING, "mode": "update_only"})
    expect(job, rows=2, updated=1, skipped=1)
    assert [(c["address_key"], c["attributes"]) for c in contacts_of(tenant.id)] == [
        ("ann@example.nl", {"first_name": "Annie", "city": "Delft"}),
        ("bob@example.nl", {"first_name": "Bob", "city": "Gouda"}),
    ]


def test_update_only_by_id_updates_and_attaches_but_creates_nothing(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    rows = [["id", "email", "first_name", "city"],
            ["K1", "", "Annie", ""],
            ["K2", "bob@example.nl", "", "Leiden"],  # attaches K2 to Bob: an update
            ["K3", "cas@example.nl", "Cas", ""],  # new: skipped
            ["K4", "", "Nobody", ""]]  # new and without an address: skipped, not missing_email
    job = import_rows(tenant, rows, {**BY_ID, "mapping": MAPPING, "mode": "update_only"})
    expect(job, rows=4, updated=2, skipped=2)
    assert [(c["address_key"], c["attributes"], c["ids"]) for c in contacts_of(tenant.id)] == [
        ("ann@example.nl", {"first_name": "Annie", "city": "Delft"}, {"crm": "K1"}),
        ("bob@example.nl", {"first_name": "Bob", "city": "Leiden"}, {"crm": "K2"}),
    ]


def test_update_only_a_second_claim_on_an_attached_address_is_skipped(tenant, import_rows, contacts_of):
    """After K2 attaches to Bob, K3 at Bob's address is a new contact with a conflicting ID."""
    _two_contacts(tenant, import_rows)
    rows = [["id", "email", "first_name", "city"],
            ["K2", "bob@example.nl", "", "Leiden"],
            ["K3", "BOB@example.nl", "", "Utrecht"]]
    job = import_rows(tenant, rows, {**BY_ID, "mapping": MAPPING, "mode": "update_only"})
    expect(job, rows=2, updated=1, skipped=1)
    assert [(c["attributes"], c["ids"]) for c in contacts_of(tenant.id)][1] == (
        {"first_name": "Bob", "city": "Leiden"}, {"crm": "K2"})


@pytest.mark.parametrize("account", ["tenant", "id_tenant"])
def test_a_skipped_earlier_row_does_not_make_an_address_shared(request, account, import_rows, contacts_of):
    tenant = request.getfixturevalue(account)
    import_rows(tenant, [["id", "email"], ["K1", "ann@example.nl"]], {**BY_ID, "mapping": {"email": "email"}})
    rows = [["id", "email"],
            ["K1", "new@example.nl"],  # Ann would move there, but create_only skips her
            ["K2", "NEW@example.nl"]]  # so nobody has this address when K2 is created
    job = import_rows(tenant, rows, {**BY_ID, "mapping": {"email": "email"}, "mode": "create_only"})
    expect(job, rows=2, created=1, skipped=1)
    assert [(c["address_key"], c["ids"]) for c in contacts_of(tenant.id)] == [
        ("ann@example.nl", {"crm": "K1"}), ("new@example.nl", {"crm": "K2"})]


def test_upsert_is_the_default_mode(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    rows = [["email", "first_name", "city"], ["ann@example.nl", "Annie", ""], ["cas@example.nl", "Cas", ""]]
    job = import_rows(tenant, rows, {**BY_EMAIL, "mapping": MAPPING})
    expect(job, rows=2, created=1, updated=1)
    assert len(contacts_of(tenant.id)) == 3


# --- empty cells --------------------------------------------------------------------------------------


def test_an_empty_cell_leaves_the_stored_value_by_default(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    rows = [["email", "first_name", "city"], ["ann@example.nl", "", ""], ["bob@example.nl", "", "Leiden"]]
    job = import_rows(tenant, rows, {**BY_EMAIL, "mapping": MAPPING, "empty_clears": False})
    expect(job, rows=2, updated=1, unchanged=1)
    assert [c["attributes"] for c in contacts_of(tenant.id)] == [
        {"first_name": "Ann", "city": "Delft"}, {"first_name": "Bob", "city": "Leiden"}]


def test_empty_clears_removes_the_stored_value(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    rows = [["id", "email", "first_name"], ["K1", "", ""]]  # city is not in the file: it stays
    job = import_rows(tenant, rows, {**BY_ID, "mapping": {"email": "email", "first_name": "first_name"},
                                     "empty_clears": True})
    expect(job, rows=1, updated=1)
    contacts = contacts_of(tenant.id)
    assert contacts[0]["attributes"] == {"city": "Delft"}
    assert contacts[0]["address_key"] == "ann@example.nl"  # an empty address cell clears nothing
    # Clearing what is already empty changes nothing.
    again = import_rows(tenant, rows, {**BY_ID, "mapping": {"email": "email", "first_name": "first_name"},
                                       "empty_clears": True})
    expect(again, rows=1, unchanged=1)


def test_empty_clears_with_merged_rows_keeps_the_last_non_empty_value(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    rows = [["email", "first_name", "city"], ["bob@example.nl", "Robert", ""], ["bob@example.nl", "", ""]]
    job = import_rows(tenant, rows, {**BY_EMAIL, "mapping": MAPPING, "empty_clears": True})
    expect(job, rows=2, updated=1, merged_in_file=1)
    # Merging keeps later non-empty values; the merged row's empty city then clears the city.
    assert contacts_of(tenant.id)[1]["attributes"] == {"first_name": "Robert"}


# --- unchanged and updated_at -------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [
    {**BY_EMAIL, "mapping": TYPED},
    {**BY_ID, "mapping": TYPED},
    {**BY_ID, "mapping": TYPED, "empty_clears": True},
], ids=["by-email", "by-id", "by-id-empty-clears"])
def test_an_unchanged_reimport_changes_nothing(tenant, id_tenant, import_rows, contacts_of, settings):
    for account in (tenant, id_tenant):
        rows = [["id", "email", "score", "born", "vip", "status"],
                ["K1", "Ann@example.nl", "2,5", "31-12-1999", "yes", "unsubscribed"],
                ["K2", "bob@example.nl", "1.0", "2000-01-02", "0", ""],
                ["K3", "cas@example.nl", "", "", "", ""]]
        first = import_rows(account, rows, settings)
        expect(first, rows=3, created=3)
        before = contacts_of(account.id)
        respelled = [["id", "email", "score", "born", "vip", "status"],
                     ["K1", " Ann@EXAMPLE.nl ", "2.5", "1999-12-31", "true", "Unsubscribed"],
                     ["K2", "bob@example.nl", "1", "02/01/2000", "no", "active"],
                     ["K3", "cas@example.nl", "", "", "", ""]]
        again = import_rows(account, respelled, settings)
        expect(again, rows=3, unchanged=3)
        after = contacts_of(account.id)
        assert after == before  # updated_at included, to the microsecond
        assert before[0]["attributes"] == {"score": 2.5, "born": "1999-12-31", "vip": True}
        assert before[1]["attributes"] == {"score": 1, "born": "2000-01-02", "vip": False}


def test_an_update_moves_updated_at_and_keeps_created_at(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    before = contacts_of(tenant.id)
    job = import_rows(tenant, [["email", "city"], ["bob@example.nl", "Leiden"]],
                      {**BY_EMAIL, "mapping": {"email": "email", "city": "city"}})
    expect(job, rows=1, updated=1)
    after = contacts_of(tenant.id)
    assert after[0] == before[0]
    assert after[1]["created_at"] == before[1]["created_at"]
    assert after[1]["updated_at"] > before[1]["updated_at"]


def test_a_new_spelling_of_the_address_is_an_update(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    job = import_rows(tenant, [["email"], ["BOB@example.nl"]], {**BY_EMAIL, "mapping": {"email": "email"}})
    expect(job, rows=1, updated=1)
    assert contacts_of(tenant.id)[1]["email"] == "BOB@example.nl"


# --- missing_email and status ---------------------------------------------------------------------------


def test_missing_email_only_where_a_contact_would_be_created(tenant, id_tenant, import_rows, contacts_of):
    for account in (tenant, id_tenant):
        import_rows(account, [["id", "email"], ["K1", "ann@example.nl"]],
                    {**BY_ID, "mapping": {"email": "email"}})
        rows = [["id", "first_name"], ["K1", "Ann"], ["K2", "Bob"]]  # no address column at all
        job = import_rows(account, rows, {**BY_ID, "mapping": {"first_name": "first_name"}})
        expect(job, rows=2, updated=1, rejected={"missing_email": 1})
        assert [(c["address_key"], c["attributes"]) for c in contacts_of(account.id)] == [
            ("ann@example.nl", {"first_name": "Ann"})]


def test_missing_key_and_invalid_cells_are_rejected_before_matching(
        tenant, import_rows, contacts_of, rejected_rows):
    rows = [["id", "email", "score"],
            ["", "ann@example.nl", "1"],
            ["K2", "not an address", "1"],
            ["K3", "cas@example.nl", "many"],
            ["K4", "dirk@example.nl", "4"]]
    job = import_rows(tenant, rows, {**BY_ID, "mapping": {"email": "email", "score": "score"}})
    expect(job, rows=4, created=1,
           rejected={"missing_key": 1, "invalid_email": 1, "invalid_value": 1})
    assert [c["ids"] for c in contacts_of(tenant.id)] == [{"crm": "K4"}]
    assert rejections(rejected_rows, tenant, job) == [
        (2, "missing_key"), (3, "invalid_email"), (4, "invalid_value")]


def test_invalid_external_id_is_rejected(make_tenant, import_rows, contacts_of):
    account = make_tenant("pattern", "external_id", links={"crm": r"K[0-9]+"})
    rows = [["id", "email"], ["K1", "ann@example.nl"], ["k2", "bob@example.nl"], [" K3 ", "cas@example.nl"]]
    job = import_rows(account, rows, {**BY_ID, "mapping": {"email": "email"}})
    expect(job, rows=3, created=2, rejected={"invalid_external_id": 1})
    assert [c["ids"] for c in contacts_of(account.id)] == [{"crm": "K1"}, {"crm": "K3"}]


def test_status_is_imported_and_an_empty_status_leaves_it(tenant, import_rows, contacts_of):
    mapping = {"email": "email", "status": "status"}
    rows = [["email", "status"], ["ann@example.nl", "unsubscribed"], ["bob@example.nl", ""],
            ["cas@example.nl", "BOUNCED"], ["dirk@example.nl", "gone"]]
    job = import_rows(tenant, rows, {**BY_EMAIL, "mapping": mapping})
    expect(job, rows=4, created=3, rejected={"invalid_value": 1})
    assert [c["status"] for c in contacts_of(tenant.id)] == ["unsubscribed", "active", "bounced"]
    rows = [["email", "status"], ["ann@example.nl", "active"], ["bob@example.nl", "bounced"],
            ["cas@example.nl", ""]]
    job = import_rows(tenant, rows, {**BY_EMAIL, "mapping": mapping, "empty_clears": True})
    # An import never re-subscribes: Ann's "active" and Cas's emptied status keep what is stored.
    expect(job, rows=3, updated=1, unchanged=2, status_kept=2)
    assert [c["status"] for c in contacts_of(tenant.id)] == ["unsubscribed", "bounced", "bounced"]


def test_a_dry_run_reports_the_same_and_writes_nothing(tenant, import_rows, contacts_of):
    _two_contacts(tenant, import_rows)
    before = contacts_of(tenant.id)
    rows = [["id", "email", "first_name"], ["K1", "", "Annie"], ["K2", "bob@example.nl", ""],
            ["K3", "ann@example.nl", "X"], ["K4", "cas@example.nl", "Cas"], ["K4", "", "Cassie"]]
    settings = {**BY_ID, "mapping": {"email": "email", "first_name": "first_name"}}
    dry = import_rows(tenant, rows, {**settings, "dry_run": True})
    assert contacts_of(tenant.id) == before
    real = import_rows(tenant, rows, settings)
    assert dry["report"] == real["report"]
    expect(real, rows=5, created=1, updated=2, merged_in_file=1, rejected={"id_conflict": 1})


# --- IDs of merged contacts ----------------------------------------------------------------------------


def _merge_id_into(engine, tenant, contact_id: int, value: str) -> None:  # type: ignore[no-untyped-def]
    """Give a contact the crm ID of a contact merged into it, as a dedup change to email does."""
    with engine.begin() as conn:
        link = conn.execute(text("SELECT id FROM links WHERE account_id = :a AND name = 'crm'"),
                            {"a": tenant.id}).scalar_one()
        conn.execute(text("INSERT INTO external_ids (account_id, link_id, contact_id, value, merged) "
                          "VALUES (:a, :l, :c, :v, TRUE)"),
                     {"a": tenant.id, "l": link, "c": contact_id, "v": value})


@pytest.mark.parametrize("account", ["tenant", "id_tenant"])
def test_rows_with_a_contacts_own_and_merged_ids_merge_in_file_order(
        request, account, import_rows, contacts_of, engine):
    tenant = request.getfixturevalue(account)
    import_rows(tenant, [["id", "email", "first_name", "city"], ["K1", "ann@example.nl", "Ann", "Delft"],
                         ["K2", "bob@example.nl", "Bob", ""]], {**BY_ID, "mapping": MAPPING})
    ann = contacts_of(tenant.id)[0]
    _merge_id_into(engine, tenant, ann["id"], "K9")
    rows = [["id", "email", "first_name", "city"],
            ["K9", "ann@example.nl", "Ann 9", "Gouda"],
            ["K1", "ANN@example.nl", "Annie", ""],  # later than K9's first row: its name wins
            ["K2", "", "Bobby", ""],
            ["K9", "", "", "Leiden"]]  # later than K1's row: its city wins
    job = import_rows(tenant, rows, {**BY_ID, "mapping": MAPPING})
    # One contact, reached by two IDs: one update, not two, and not an address_conflict.
    expect(job, rows=4, updated=2, merged_in_file=2)
    contacts = contacts_of(tenant.id)
    assert [(c["email"], c["attributes"], c["ids"]) for c in contacts] == [
        ("ANN@example.nl", {"first_name": "Annie", "city": "Leiden"}, {"crm": "K1"}),
        ("bob@example.nl", {"first_name": "Bobby"}, {"crm": "K2"}),
    ]


def test_a_rejected_group_of_one_contacts_ids_rejects_all_its_rows(
        tenant, import_rows, contacts_of, engine, rejected_rows):
    import_rows(tenant, [["id", "email", "first_name", "city"], ["K1", "ann@example.nl", "Ann", ""],
                         ["K2", "bob@example.nl", "Bob", ""]], {**BY_ID, "mapping": MAPPING})
    before = contacts_of(tenant.id)
    _merge_id_into(engine, tenant, before[0]["id"], "K9")
    rows = [["id", "email", "first_name", "city"],
            ["K1", "", "Annie", ""], ["K9", "bob@example.nl", "", ""], ["K1", "", "", "Delft"]]
    job = import_rows(tenant, rows, {**BY_ID, "mapping": MAPPING})
    expect(job, rows=3, rejected={"address_conflict": 3})  # Ann cannot take Bob's address
    assert contacts_of(tenant.id) == before
    assert rejections(rejected_rows, tenant, job) == [(2, "address_conflict"), (3, "address_conflict"),
                                          (4, "address_conflict")]
