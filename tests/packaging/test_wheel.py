"""The product as a new user installs it: a wheel (what `pip install .` builds) in a fresh venv.

The wheel is built from a copy of this working tree (so that no stale `build/` folder leaks into it)
with pip's isolated build, and installed with its dependencies from the package index into a venv of its
own. Everything then runs from that venv, in a folder outside the source tree and without PYTHONPATH:
`safeguard db upgrade` on a new SQLite file, `safeguard demo`, `safeguard serve` (gunicorn), and every
page once over HTTP, signed in as the demo user, with an import, a segment and a mailing made through
the API. pip's cache makes a rerun fast. Without the package index the test is skipped, except in CI.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tomllib
import zipfile
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from served import HttpClient, free_port, multipart, serving
from sqlmodel import SQLModel

import service.models  # noqa: F401  (the tables that SQLModel.metadata lists)

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
# Not part of a clean checkout: environments, build output, local data (relative to the root), and
# caches and databases anywhere. Bytecode caches stay: the wheel must leave them out itself.
NOT_SOURCE_AT_ROOT = {".git", ".venv", "venv", "build", "dist", "var", ".benchmarks", "benchmarks/data",
                      "tests/screenshots"}
# The compiled catalogues (*.mo) are built output too: the wheel's build compiles them (setup.py).
NOT_SOURCE_ANYWHERE = ("*.egg-info", ".*_cache", "*.db", "*.db-*", "*.mo")
COMMAND_SECONDS = 300

CONTACTS = (b"customer,email,first_name,city\r\n"
            b"1001,anna@example.nl,Anna,Utrecht\r\n"
            b"1002,anna@example.nl,Bram,Utrecht\r\n"  # Anna's son, at her address
            b"1003,carla@example.nl,Carla,Amsterdam\r\n")
BY_CUSTOMER_NUMBER = {"match": {"by": "external_id", "link": "crm", "column": "customer"},
                      "mapping": {"email": "email", "first_name": "first_name", "city": "city"}}


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the wheel test is required in CI: {reason}")
    pytest.skip(reason)


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a command to its end; fail with its output if it fails."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_SECONDS)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _pip(scratch: Path, *args: str) -> None:
    """Run the tests' own pip; when it fails, skip if it cannot reach the package index (outside CI), else
    fail with its output."""
    done = subprocess.run([sys.executable, "-m", "pip", *args], cwd=scratch, capture_output=True, text=True,
                          timeout=COMMAND_SECONDS)
    if done.returncode == 0:
        return
    probe = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest",
                            str(scratch / "probe"), "flask"], capture_output=True, text=True,
                           timeout=COMMAND_SECONDS)
    if probe.returncode != 0:
        _skip_or_fail(f"pip cannot reach the package index: {probe.stderr.strip()[-500:]}")
    pytest.fail(f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


@dataclass(frozen=True)
class Installed:
    venv: Path
    site_packages: Path

    def command(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def _not_source(folder: str, names: list[str]) -> set[str]:
    here = Path(folder).relative_to(ROOT)
    return {name for name in names
            if (here / name).as_posix() in NOT_SOURCE_AT_ROOT
            or any(fnmatch.fnmatch(name, pattern) for pattern in NOT_SOURCE_ANYWHERE)}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the working tree as a clone with these edits has it."""
    copy = tmp_path_factory.mktemp("source") / "mailing-safeguard"
    shutil.copytree(ROOT, copy, ignore=_not_source)
    return copy


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel that `pip install .` would build (in an isolated build environment) and install."""
    out = tmp_path_factory.mktemp("wheel")
    _pip(out, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source))
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh venv with the wheel and its dependencies from the package index."""
    scratch = tmp_path_factory.mktemp("venv")
    venv = scratch / "venv"
    # No pip of its own (ensurepip is slow): the tests' pip installs into the venv's interpreter.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=scratch)
    _pip(scratch, "--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-compile", str(wheel))
    purelib = _run([str(venv / "bin" / "python"), "-c",
                    "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=scratch).stdout.strip()
    return Installed(venv, Path(purelib))


def _package_roots(source: Path) -> list[str]:
    """The top-level packages that pyproject.toml's package discovery includes."""
    config = tomllib.loads((source / "pyproject.toml").read_text())
    return [pattern.rstrip("*") for pattern in config["tool"]["setuptools"]["packages"]["find"]["include"]]


def test_the_wheel_holds_every_file_of_the_packages_and_no_bytecode(source: Path, wheel: Path) -> None:
    expected = {path.relative_to(source).as_posix()
                for root in _package_roots(source) for path in (source / root).rglob("*")
                if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")}
    catalogues = {name.removesuffix(".po") + ".mo" for name in expected if name.endswith("/messages.po")}
    assert catalogues, "no message catalogue in the source"
    expected |= catalogues  # compiled by the build, from a tree that has none
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if ".dist-info/" not in name}
    assert sorted(expected - shipped) == [], "files of the packages missing from the wheel"
    assert sorted(shipped - expected) == [], "files in the wheel that are not source"
    kinds = Counter(PurePosixPath(name).parts[1] for name in shipped if name.startswith("service/"))
    assert kinds["templates"] > 0 and kinds["static"] > 0 and kinds["migrations"] > 0, kinds
    assert "service/migrations/script.py.mako" in shipped


def test_the_installed_product_migrates_and_serves_every_page(installed: Installed, source: Path,
                                                               tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    database = tmp_path / "safeguard.db"
    # Nothing of this tree or its venv; bytecode is written (pip installed none), as on a user's machine.
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "SECRET_KEY",
                           "DATABASE_URL")}
    env.update(DATABASE_URL=f"sqlite:///{database}", SAFEGUARD_UPLOAD_DIR=str(tmp_path / "uploads"))

    where = _run([installed.command("python"), "-c",
                  "import importer, segments, service; print(service.__file__, importer.__file__, "
                  "segments.__file__)"], cwd=elsewhere, env=env).stdout.split()
    for module_file in where:
        assert Path(module_file).resolve().is_relative_to(installed.site_packages.resolve()), where

    _run([installed.command("safeguard"), "db", "upgrade"], cwd=elsewhere, env=env)
    with closing(sqlite3.connect(database)) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    # Every migration ran from the wheel: the schema has every table of the models.
    assert sorted(set(SQLModel.metadata.tables) - tables) == [], tables
    demo = json.loads(_run([installed.command("safeguard"), "demo"], cwd=elsewhere, env=env).stdout)
    assert {"manage_key", "user", "password"} <= demo.keys(), demo

    port = free_port()
    log = tmp_path / "server.log"
    with serving([installed.command("safeguard"), "serve", "--port", str(port)], port=port, env=env,
                 log=log, cwd=elsewhere) as server:
        made = _make_data(server, demo["manage_key"])
        _sign_in(server, demo["user"], demo["password"])
        failures = _render_every_page(server, made, source)
    assert failures == [], "\n".join(failures) + "\n--- server log ---\n" + log.read_text(errors="replace")


@dataclass(frozen=True)
class Made:
    import_id: int
    segment_id: int
    segment_name: str
    mailing_id: int
    mailing_name: str
    import_number: int  # the import's place among the account's real imports (the page's name for it)


def _make_data(server: HttpClient, key: str) -> Made:
    """An import, a segment and a mailing, through the API with the demo's manage key."""
    status, job = server.upload("/api/v1/imports?wait=true", key, CONTACTS, BY_CUSTOMER_NUMBER)
    assert status == 200 and job["status"] == "succeeded", job
    assert job["report"]["created"] == 3, job
    segment_name, mailing_name = "Utrecht", "Spring news"
    status, segment = server.json("POST", "/api/v1/segments", key=key, payload={
        "name": segment_name, "rules": {"field": "city", "op": "eq", "value": "Utrecht"}})
    assert status == 201, segment
    status, mailing = server.json("POST", "/api/v1/mailings", key=key,
                                  payload={"name": mailing_name, "include": [segment["id"]]})
    assert status == 201, mailing
    return Made(job["id"], segment["id"], segment_name, mailing["id"], mailing_name, job["number"])


def _csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _sign_in(server: HttpClient, email: str, password: str) -> None:
    form = server.request("GET", "/sign-in")
    assert form.status == 200 and "<h1>Sign in</h1>" in form.text, form.text
    home = server.request("POST", "/sign-in", form={"csrf_token": _csrf_token(form.text), "next": "",
                                                    "email": email, "password": password})
    assert home.status == 200 and home.url == f"{server.base}/", (home.url, home.text)
    assert "<h1>demo</h1>" in home.text, home.text


def _render_every_page(server: HttpClient, made: Made, source: Path) -> list[str]:
    """GET every page once; return what went wrong (a wrong status or missing content), page by page."""
    pages = [
        ("/", 200, "<h1>demo</h1>"),
        ("/imports/new", 200, "<h1>Import a file</h1>"),
        (f"/imports/{made.import_id}", 200, f"<h1>Import {made.import_number}</h1>"),
        ("/imports", 200, f"Import {made.import_number}</a>"),
        ("/segments", 200, made.segment_name),
        ("/segments/new", 200, "<h1>New segment</h1>"),
        (f"/segments/{made.segment_id}", 200, f"<h1>{made.segment_name}</h1>"),
        ("/mailings", 200, made.mailing_name),
        ("/mailings/new", 200, "<h1>New mailing</h1>"),
        (f"/mailings/{made.mailing_id}", 200, f"<h1>{made.mailing_name}</h1>"),
        ("/dedup", 200, "<h1>Dedup rule</h1>"),
        ("/dedup?preview=1", 200, "What the change would do"),
        ("/segments/987654", 404, "<h1>Not found</h1>"),
    ]
    # The compiled Dutch catalogue is in the wheel and read: a Dutch browser gets the Dutch page.
    dutch = server.request("GET", "/segments", headers={"Accept-Language": "nl-NL"})
    if dutch.status != 200 or '<html lang="nl">' not in dutch.text or "<h1>Segmenten</h1>" not in dutch.text:
        failures_dutch = [f"GET /segments in Dutch: {dutch.status}:\n{dutch.text[:2000]}"]
    else:
        failures_dutch = []
    failures = []
    for path, status, content in pages:
        answer = server.request("GET", path)
        if answer.status != status or content not in answer.text:
            failures.append(f"GET {path}: {answer.status}, expected {status} with {content!r}:\n"
                            f"{answer.text[:2000]}")
    for name in ("app.js", "style.css"):
        answer = server.request("GET", f"/static/{name}")
        if answer.status != 200 or answer.body != (source / "service" / "static" / name).read_bytes():
            failures.append(f"GET /static/{name}: {answer.status}, not the file of the source tree")
    return failures + failures_dutch + _walk_the_wizard(server)


def _walk_the_wizard(server: HttpClient) -> list[str]:
    """Go through the import wizard as a user does, up to the review of its dry run; each form that is
    sent leads to the next step's page."""
    upload = server.request("GET", "/imports/new")
    token = _csrf_token(upload.text)
    body, content_type = multipart({"csrf_token": token},
                                   ("file", "wizard.csv", b"email,first_name\r\ndirk@example.nl,Dirk\r\n"))
    step = server.request("POST", "/imports/new", body=body, content_type=content_type)
    draft = re.search(r"/imports/drafts/(\d+)/file$", step.url)
    if step.status != 200 or draft is None:
        return [f"upload in the wizard: {step.status} at {step.url}:\n{step.text[:2000]}"]
    base = f"/imports/drafts/{draft.group(1)}"
    forms = [
        ("file", {"encoding": "utf-8", "delimiter": "comma", "has_header": "yes", "action": "next"},
         "options"),
        ("options", {"mode": "upsert"}, "external-id"),
        ("external-id", {"link": ""}, "fields"),
        ("fields", {"field_0": "email", "field_1": "first_name"}, "review"),
    ]
    for name, form, next_name in forms:
        if step.status != 200 or "wizard.csv" not in step.text:
            return [f"the wizard's {name} step: {step.status} at {step.url}:\n{step.text[:2000]}"]
        step = server.request("POST", f"{base}/{name}", form={"csrf_token": token, **form})
        if not step.url.endswith(f"{base}/{next_name}"):
            return [f"the wizard's {name} step led to {step.url} ({step.status}):\n{step.text[:2000]}"]
    if step.status != 200 or "Your choices" not in step.text:
        return [f"the wizard's review: {step.status}:\n{step.text[:2000]}"]
    return []
