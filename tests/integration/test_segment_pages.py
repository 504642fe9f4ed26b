"""The segment and mailing pages through the test client: the builder's JSON preview, the
shared-address chart, the mailing form's errors, and one account's pages hidden from another."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from page_helpers import csrf_token, signed_in

from service.domain.ledger import CSV_HEADER
from service.web.charts import shared_chart_svg

SVG = "{http://www.w3.org/2000/svg}"
FAMILY = [["nr", "email", "first_name", "city"],
          ["K1", "jan@home.nl", "Jan", "Utrecht"],
          ["K2", "jan@home.nl", "Anna", "Utrecht"],
          ["K3", "jan@home.nl", "Anna", "Utrecht"],
          ["K4", "piet@example.nl", "Piet", "Utrecht"],
          ["K5", "kees@example.nl", "Kees", "Delft"],
          ["K6", "kees@example.nl", "", "Delft"]]






def _family(make_tenant, import_rows):  # type: ignore[no-untyped-def]
    tenant = make_tenant("family", "external_id", links={"crm": None},
                         fields={"first_name": "text", "city": "text"})
    import_rows(tenant, FAMILY, {"match": {"by": "external_id", "link": "crm", "column": "nr"},
                                 "mapping": {"email": "email", "first_name": "first_name", "city": "city"}})
    return tenant


def test_the_builders_preview_counts_unsaved_rules_as_the_api_counts_saved_ones(
        app, engine, client, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    token = csrf_token(web.get("/segments/new"))
    rules = {"all": [{"field": "city", "op": "eq", "value": "utrecht"},
                     {"any": [{"field": "first_name", "op": "eq", "value": "anna"},
                              {"not": {"field": "email_domain", "op": "eq", "value": "home.nl"}}]}]}
    saved = client.post("/api/v1/segments", json={"name": "s", "rules": rules}, headers=tenant.auth())
    for options, query in (({}, {}), ({"allow_shared_address": True}, {"allow_shared_address": "true"}),
                           ({"representative": "prefer_non_empty", "representative_field": "first_name"},
                            {"representative": '{"rule": "prefer_non_empty", "field": "first_name"}'})):
        response = web.post("/segments/preview", json={"rules": rules, **options},
                            headers={"X-CSRFToken": token})
        assert response.status_code == 200, response.json
        expected = client.get(f"/api/v1/segments/{saved.json['id']}/preview", query_string=query,
                              headers=tenant.auth()).json
        assert response.json["preview"] == expected
        assert response.json["chart"].startswith("<svg")
    # Anna and Anna at jan@home.nl, and Piet: 3 contacts at 2 addresses.
    assert expected["contacts"] == 3 and expected["addresses"] == 2 and expected["recipients"] == 2


def test_the_builders_preview_names_the_wrong_part_and_needs_the_token(app, engine, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    token = csrf_token(web.get("/segments/new"))
    wrong = {"all": [{"field": "city", "op": "eq", "value": "x"}, {"field": "nope", "op": "eq", "value": 1}]}
    response = web.post("/segments/preview", json={"rules": wrong}, headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert response.json["error"]["where"] == "rules.all[1].field"
    assert "unknown field 'nope'" in response.json["error"]["message"]
    assert web.post("/segments/preview", json={"rules": {"all": []}}).status_code == 400  # no token
    anonymous = app.test_client()
    assert anonymous.post("/segments/preview", json={"rules": {"all": []}}).status_code in (302, 400)


def test_the_chart_draws_bars_in_proportion():
    svg = shared_chart_svg({"2": 10, "3": 5, "4+": 0})
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert "10 shared by 2 contacts" in root.find(f"{SVG}title").text
    bars = {g.get("data-bucket"): g for g in root.iter(f"{SVG}g")}
    widths = {key: float(g.find(f"{SVG}rect").get("width")) for key, g in bars.items()}
    assert widths["2"] == 2 * widths["3"] > 0 and widths["4+"] == 0
    assert [t.text for t in bars["3"].iter(f"{SVG}text")] == ["3 contacts", "5"]
    empty = ET.fromstring(str(shared_chart_svg({})))
    assert all(float(r.get("width")) == 0 for r in empty.iter(f"{SVG}rect"))


def test_the_segment_page_shows_the_chart_and_the_send_list(app, engine, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    token = csrf_token(web.get("/segments/new"))
    everyone = {"csrf_token": token, "name": "Everyone", "rules": '{"all": []}'}
    response = web.post("/segments/new", data=everyone)
    assert response.status_code == 302
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-bucket="3" data-count="1"' in page and 'data-bucket="2" data-count="1"' in page
    listed = web.get(response.headers["Location"] + "/recipients.csv?representative=oldest")
    # An English page's download: `,` after a byte-order mark (so that a spreadsheet reads UTF-8).
    rows = listed.get_data(as_text=True).splitlines()
    assert rows[0] == "\ufeffid,email,status,first_name,city,crm" and len(rows) == 1 + 3  # IDs last
    opted_in = web.get(response.headers["Location"] + "/recipients.csv?allow_shared_address=yes")
    assert len(opted_in.get_data(as_text=True).splitlines()) == 1 + 6
    again = web.post("/segments/new", data=everyone)
    assert again.status_code == 400 and b"already" in again.data


def test_the_mailing_form_says_what_is_wrong(app, engine, client, make_tenant, import_rows):
    tenant = _family(make_tenant, import_rows)
    segment = client.post("/api/v1/segments", json={"name": "all", "rules": {"all": []}},
                          headers=tenant.auth()).json["id"]
    web = signed_in(app, engine, tenant.id, "anna@family.example")
    token = csrf_token(web.get("/mailings/new"))
    cases = [({"name": "m"}, b"Choose at least one segment"),
             ({"name": "m", "include": segment, "personalized_by": "first_name"}, b"turn on the opt-in"),
             ({"name": "m", "include": segment, "representative": "prefer_non_empty",
               "representative_field": "nope"}, b"unknown field")]
    for data, message in cases:
        response = web.post("/mailings/new", data={"csrf_token": token, **data})
        assert response.status_code == 400 and message in response.data, data
    created = web.post("/mailings/new", data={"csrf_token": token, "name": "m", "include": segment,
                                              "allow_shared_address": "yes", "personalized_by": "first_name"})
    assert created.status_code == 302
    duplicate = web.post("/mailings/new", data={"csrf_token": token, "name": "m", "include": segment})
    assert duplicate.status_code == 400 and b"already" in duplicate.data
    page = web.get(created.headers["Location"]).get_data(as_text=True)
    # One copy per first name at each address: Jan and Anna at jan@home.nl, Piet, Kees and "" at kees's.
    assert re.search(r'data-preview-count="recipients">5<', page), page
    ledger = web.get(created.headers["Location"] + "/ledger.csv").get_data(as_text=True)
    assert ledger.splitlines() == ["\ufeff" + ",".join(CSV_HEADER)]
    other = signed_in(app, engine, make_tenant("other").id, "piet@other.example")
    for path in (created.headers["Location"], created.headers["Location"] + "/ledger.csv",
                 created.headers["Location"] + "/recipients.csv", f"/segments/{segment}",
                 f"/segments/{segment}/recipients.csv"):
        assert other.get(path).status_code == 404, path
