"""The `safeguard` command line against SQLite and PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import csv_bytes
from sqlalchemy import text

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00" + bytes(64)


def _subprocess_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "SAFEGUARD_UPLOAD_DIR": str(tmp_path / "uploads")}


def _safeguard() -> list[str]:
    script = Path(sys.executable).parent / "safeguard"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.cli import main; main()"]


def _rows(engine, sql: str, **params) -> list:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


@pytest.fixture
def account(cli, engine) -> str:  # type: ignore[no-untyped-def]
    """An `email` account named acme with a first_name field and a crm link, made with the CLI."""
    assert cli("accounts", "create", "acme").exit_code == 0
    assert cli("fields", "create", "acme", "first_name", "text").exit_code == 0
    assert cli("links", "create", "acme", "crm", "--label", "Customer number").exit_code == 0
    return "acme"


def _file(tmp_path: Path, rows: list[list[str]], name: str = "contacts.csv") -> str:
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows))
    return str(path)


# --- accounts and keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["email", "external_id"])
def test_accounts_create(cli, engine, mode):
    result = cli("accounts", "create", "acme", "--dedup", mode)
    assert result.exit_code == 0, result.output
    assert "acme" in result.stdout
    assert _rows(engine, "SELECT name, dedup_mode FROM accounts") == [("acme", mode)]


def test_accounts_create_refuses_a_taken_name_or_unknown_mode(cli, engine):
    assert cli("accounts", "create", "acme").exit_code == 0
    again = cli("accounts", "create", "acme", "--dedup", "external_id")
    assert again.exit_code != 0 and "exists" in again.stderr
    assert cli("accounts", "create", "other", "--dedup", "phone").exit_code == 2
    assert _rows(engine, "SELECT name, dedup_mode FROM accounts") == [("acme", "email")]


@pytest.mark.parametrize("scope", ["manage", "send", "admin"])
def test_keys_create_prints_the_key_alone_and_it_works(cli, client, account, scope):
    result = cli("keys", "create", account, "--scope", scope)
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert result.stdout == key + "\n"
    assert " " not in key and len(key) >= 40
    me = client.get("/api/v1/account", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json["name"] == "acme"
    contacts = client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {key}"})
    assert contacts.status_code == (403 if scope == "send" else 200)


def test_keys_create_refuses_an_unknown_account_or_scope(cli, engine):
    unknown = cli("keys", "create", "nobody", "--scope", "manage")
    assert unknown.exit_code != 0 and unknown.stdout == ""
    assert "nobody" in unknown.stderr
    assert cli("accounts", "create", "acme").exit_code == 0
    assert cli("keys", "create", "acme", "--scope", "root").exit_code == 2
    assert cli("keys", "create", "acme").exit_code == 2
    assert _rows(engine, "SELECT count(*) FROM api_keys") == [(0,)]


def test_keys_create_in_a_real_process_prints_only_the_key(database_url, tmp_path, engine, client):
    env = _subprocess_env(database_url, tmp_path)
    made = subprocess.run([*_safeguard(), "accounts", "create", "acme"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    result = subprocess.run([*_safeguard(), "keys", "create", "acme", "--scope", "manage"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    key = result.stdout.strip()
    assert client.get("/api/v1/account", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_a_fresh_sqlite_database_needs_no_setup(tmp_path):
    """The embedded default is made on first use: no `db upgrade` before the first command."""
    env = _subprocess_env(f"sqlite:///{tmp_path / 'fresh' / 'safeguard.db'}", tmp_path)
    made = subprocess.run([*_safeguard(), "accounts", "create", "acme"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert "Traceback" not in made.stderr
    key = subprocess.run([*_safeguard(), "keys", "create", "acme", "--scope", "admin"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert key.returncode == 0 and key.stdout.startswith("sg_"), key.stderr


def test_links_and_fields_are_checked(cli, engine, account):
    assert cli("links", "create", account, "crm", "--label", "Again").exit_code == 1
    assert cli("links", "create", account, "Shop Nr", "--label", "x").exit_code == 1
    assert cli("links", "create", account, "shop", "--label", "x", "--id-pattern", "(").exit_code == 1
    assert cli("fields", "create", account, "first_name", "text").exit_code == 1
    assert cli("fields", "create", account, "email", "text").exit_code == 1
    assert cli("fields", "create", account, "first name", "text").exit_code == 1
    assert _rows(engine, "SELECT name FROM links") == [("crm",)]
    assert _rows(engine, "SELECT name FROM fields") == [("first_name",)]


# --- import ---------------------------------------------------------------------------------------


def test_import_prints_the_report(cli, engine, account, tmp_path):
    path = _file(tmp_path, [["email", "first_name"], ["sanne@example.nl", "Sanne"],
                            ["piet@example.nl", "Piet"], ["sanne@example.nl", "S."], ["not-an-address", "X"]])
    result = cli("import", path, "--account", account)
    assert result.exit_code == 0, result.output
    report = {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines()
              if line.startswith("  ") and len(line.split()) == 2 and line.split()[1].isdigit()}
    assert report["rows"] == 4
    assert (report["created"], report["merged_in_file"], report["rejected"]) == (2, 1, 1)
    assert report["invalid_email"] == 1
    assert "rejected.csv" in result.stdout
    contacts = _rows(engine, "SELECT email, attributes FROM contacts ORDER BY id")
    assert [email for email, _ in contacts] == ["sanne@example.nl", "piet@example.nl"]
    # The user's own file is left alone.
    assert Path(path).exists()


def test_import_by_external_id(cli, engine, account, tmp_path):
    path = _file(tmp_path, [["KlantNr", "Mail"], ["K1", "sanne@example.nl"], ["K2", "piet@example.nl"]])
    result = cli("import", path, "--account", account, "--link", "crm", "--id-column", "KlantNr",
                 "--map", "Mail=email")
    assert result.exit_code == 0, result.output
    assert sorted(_rows(engine, "SELECT value FROM external_ids")) == [("K1",), ("K2",)]


def test_import_dry_run_changes_nothing(cli, engine, account, tmp_path):
    path = _file(tmp_path, [["email", "city"], ["sanne@example.nl", "Utrecht"], ["nope", "Gouda"]])
    result = cli("import", path, "--account", account, "--dry-run", "--map", "email=email",
                 "--map", "city=city", "--create-field", "city=text")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.stdout
    assert "created" in result.stdout
    assert _rows(engine, "SELECT count(*) FROM contacts") == [(0,)]
    assert _rows(engine, "SELECT name FROM fields") == [("first_name",)]
    assert _rows(engine, "SELECT status, dry_run FROM imports") == [("succeeded", True)]


def test_import_of_an_unknown_account_fails(cli, engine, tmp_path):
    path = _file(tmp_path, [["email"], ["sanne@example.nl"]])
    result = cli("import", path, "--account", "nobody")
    assert result.exit_code == 1
    assert "nobody" in result.stderr
    assert _rows(engine, "SELECT count(*) FROM imports") == [(0,)]
    assert _rows(engine, "SELECT count(*) FROM contacts") == [(0,)]


@pytest.mark.parametrize(("content", "mentions"), [
    pytest.param(PNG, "binary", id="png"),
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"\x1f\x8b\x08\x00broken", "gzip", id="broken gzip"),
])
def test_import_of_an_unreadable_file_fails(cli, engine, account, tmp_path, content, mentions):
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)
    result = cli("import", str(path), "--account", account)
    assert result.exit_code == 1
    assert "cannot read" in result.stderr and mentions in result.stderr
    assert _rows(engine, "SELECT count(*) FROM imports") == [(0,)]


def test_import_of_a_missing_file_fails(cli, account, tmp_path):
    result = cli("import", str(tmp_path / "nope.csv"), "--account", account)
    assert result.exit_code == 2
    assert "nope.csv" in result.stderr


def test_import_that_fails_half_way_reports_failure(cli, engine, account, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"email\r\n" + b"".join(b"person%d@example.nl\r\n" % i for i in range(6000))
                     + b"caf\xe9@example.nl\r\n")
    result = cli("import", str(path), "--account", account)
    assert result.exit_code == 1
    assert "import failed" in result.stderr
    assert _rows(engine, "SELECT count(*) FROM contacts") == [(0,)]
    assert _rows(engine, "SELECT status FROM imports") == [("failed",)]


@pytest.mark.parametrize("args", [
    pytest.param(["--link", "crm"], id="link without column"),
    pytest.param(["--id-column", "KlantNr"], id="column without link"),
    pytest.param(["--map", "email"], id="map without ="),
])
def test_import_usage_errors(cli, engine, account, tmp_path, args):
    path = _file(tmp_path, [["KlantNr", "email"], ["K1", "sanne@example.nl"]])
    result = cli("import", path, "--account", account, *args)
    assert result.exit_code == 2, result.output
    assert _rows(engine, "SELECT count(*) FROM imports") == [(0,)]


@pytest.mark.parametrize("args", [
    pytest.param(["--link", "shop", "--id-column", "KlantNr"], id="unknown link"),
    pytest.param(["--link", "crm", "--id-column", "Nr"], id="unknown column"),
    pytest.param(["--map", "email=email", "--map", "KlantNr=customer"], id="unknown field"),
    pytest.param(["--map", "KlantNr=first_name"], id="no email column mapped"),
])
def test_import_settings_errors(cli, engine, account, tmp_path, args):
    path = _file(tmp_path, [["KlantNr", "email"], ["K1", "sanne@example.nl"]])
    result = cli("import", path, "--account", account, *args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error:")
    assert _rows(engine, "SELECT count(*) FROM imports") == [(0,)]
    assert _rows(engine, "SELECT count(*) FROM contacts") == [(0,)]


def test_help_needs_no_database(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    result = subprocess.run([*_safeguard(), "import", "--help"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    assert "--dry-run" in result.stdout


# --- segments ---------------------------------------------------------------------------------------

FAMILY = [["KlantNr", "E-mail", "first_name", "Status"],
          ["K1", "jan@home.nl", "Jan", ""],
          ["K2", "JAN@home.nl", "Marie", ""],   # shares Jan's inbox
          ["K3", "piet@work.nl", "Piet", ""],
          ["K4", "stop@home.nl", "Stop", "unsubscribed"]]


@pytest.fixture
def family(cli, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """An external-ID account with two contacts at one address and one unsubscribed contact."""
    assert cli("accounts", "create", "fam", "--dedup", "external_id").exit_code == 0
    assert cli("links", "create", "fam", "crm", "--label", "Customer number").exit_code == 0
    assert cli("fields", "create", "fam", "first_name", "text").exit_code == 0
    result = cli("import", _file(tmp_path, FAMILY), "--account", "fam", "--link", "crm",
                 "--id-column", "KlantNr", "--map", "E-mail=email", "--map", "Status=status",
                 "--map", "first_name=first_name")
    assert result.exit_code == 0, result.output
    return "fam"


def test_segments_count_prints_the_preview(cli, family):
    made = cli("segments", "create", "everyone", "--account", family, "--rules", '{"all": []}')
    assert made.exit_code == 0, made.output
    result = cli("segments", "count", "everyone", "--account", family)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"contacts": 3, "excluded": 1, "addresses": 2, "recipients": 2,
                                         "collapsed": 1, "shared": {"2": 1, "3": 0, "4+": 0}}
    opted_in = cli("segments", "count", "everyone", "--account", family, "--allow-shared-address",
                   "--personalized-by", "first_name")
    assert json.loads(opted_in.stdout)["recipients"] == 3


def test_segments_export_writes_the_collapsed_send_list(cli, family, tmp_path):
    assert cli("segments", "create", "everyone", "--account", family, "--rules", '{"all": []}').exit_code == 0
    newest = cli("segments", "export", "everyone", "--account", family)
    assert newest.exit_code == 0, newest.output
    rows = list(csv.reader(io.StringIO(newest.stdout)))
    assert rows[0] == ["id", "email", "status", "first_name", "crm"]
    # Both contacts at jan@home.nl were imported in one statement: the tie goes to the lower id (Jan).
    assert [(r[1], r[3]) for r in rows[1:]] == [("jan@home.nl", "Jan"), ("piet@work.nl", "Piet")]
    out = tmp_path / "list.csv"
    preferred = cli("segments", "export", "1", "--account", family, "-o", str(out), "--representative",
                    '{"rule": "prefer", "when": {"field": "first_name", "op": "eq", "value": "marie"}}')
    assert preferred.exit_code == 0, preferred.output
    assert "2 recipients" in preferred.stderr
    assert [r[3] for r in list(csv.reader(out.open()))[1:]] == ["Marie", "Piet"]


def test_segments_commands_refuse_bad_rules_and_unknown_segments(cli, family, engine):
    bad = cli("segments", "create", "x", "--account", family, "--rules",
              '{"all": [{"field": "shoe_size", "op": "gt", "value": 40}]}')
    assert bad.exit_code == 1 and "rules.all[0].field" in bad.stderr
    assert cli("segments", "create", "x", "--account", family, "--rules", "{all").exit_code == 1
    assert _rows(engine, "SELECT count(*) FROM segments") == [(0,)]
    unknown = cli("segments", "count", "nope", "--account", family)
    assert unknown.exit_code == 1 and "no segment 'nope'" in unknown.stderr
    assert cli("segments", "create", "ok", "--account", family, "--rules", '{"all": []}').exit_code == 0
    personal = cli("segments", "count", "ok", "--account", family, "--personalized-by", "first_name")
    assert personal.exit_code == 1 and "allow_shared_address" in personal.stderr


# --- dedup changes ------------------------------------------------------------------------------------


def test_dedup_preview_apply_and_undo(cli, family, engine):
    preview = cli("dedup", "preview", family, "--to", "email")
    assert preview.exit_code == 0, preview.output
    impact = json.loads(preview.stdout)
    assert (impact["shared_addresses"], impact["merged_away"], impact["contacts_after"]) == (1, 1, 3)
    refused = cli("dedup", "apply", family, "--to", "email", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert _rows(engine, "SELECT dedup_mode FROM accounts WHERE name = 'fam'") == [("external_id",)]
    applied = cli("dedup", "apply", family, "--to", "email", input="y\n")
    assert applied.exit_code == 0, applied.output
    change = json.loads(applied.stdout)
    assert change["merged"] == 1
    assert _rows(engine, "SELECT count(*) FROM contacts") == [(3,)]
    undone = cli("dedup", "undo", family, str(change["change_id"]))
    assert undone.exit_code == 0, undone.output
    assert json.loads(undone.stdout)["restored"] == 1
    assert _rows(engine, "SELECT count(*) FROM contacts") == [(4,)]
    again = cli("dedup", "undo", family, str(change["change_id"]))
    assert again.exit_code == 1 and "undone already" in again.stderr
    assert cli("dedup", "preview", family, "--to", "external_id").exit_code == 1  # which link?
