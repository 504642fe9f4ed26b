"""A first import through the API, on both databases."""


def test_import_creates_contacts_and_reports(make_tenant, post_import, contacts_of):
    tenant = make_tenant(fields={"first_name": "text"})
    rows = [["email", "first_name"], ["  Sanne@Example.nl ", "Sanne"], ["piet@example.nl", "Piet"]]
    response = post_import(tenant, rows, {"mapping": {"email": "email", "first_name": "first_name"}})
    assert response.status_code == 200, response.json
    job = response.json
    assert job["status"] == "succeeded", job
    assert job["report"]["created"] == 2
    contacts = contacts_of(tenant.id)
    assert [c["address_key"] for c in contacts] == ["sanne@example.nl", "piet@example.nl"]
    assert contacts[0]["attributes"] == {"first_name": "Sanne"}
