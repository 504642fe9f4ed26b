"""Messages of importer/, segments/ and the domain are importer.said messages: the same English as
a plain string (the API's messages unchanged byte for byte), keeping their template and parameters
through pickling (the row checker's process) and JSON (a failed job's stored error); and no raise
in those packages writes its message as a plain (f-)string, which no page could translate."""

from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path

import pytest

from importer.reading import FileUnreadable
from importer.said import AT, Said, at, foreign, grouped, message_of, said, word, words_of
from importer.values import InvalidValue, parse_value
from segments.rules import RuleError

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("importer", "segments", "service/domain")
# The refusals whose message a page may show, and the position of that message among their arguments.
MESSAGE_AT = {
    "InvalidInput": 0, "Conflict": 0, "TooLarge": 0, "TooManyAttempts": 0, "NotAuthenticated": 0,
    "Forbidden": 0, "Busy": 0, "DomainError": 0, "SettingsError": 0, "InvalidValue": 0,
    "IdPatternError": 0, "FileUnreadable": 0, "LimitExceeded": 0, "NotAnEvent": 0, "over_limit": 0,
    "described": 0, "RuleError": 1, "RuleLimitExceeded": 1, "insert_unique": 2,
}
# NotFound takes a noun ("segment"): the API says "segment not found", a page its own 404 words.


def test_a_said_message_is_its_english_sentence() -> None:
    message = said("this account has no link named '%(name)s'", name="crm")
    assert message == "this account has no link named 'crm'" and isinstance(message, str)
    assert json.dumps({"message": message}) == '{"message": "this account has no link named \'crm\'"}'
    assert (message.template, dict(message.params)) == ("this account has no link named '%(name)s'",
                                                        {"name": "crm"})
    assert said("100% sure") == "100% sure"  # no parameters: the template is not formatted
    assert at("fields.age", said("'%(text)s' is not a valid number", text="x")) == \
        "fields.age: 'x' is not a valid number"
    assert foreign("An email address must have an @-sign.", "the address has no @-sign") == \
        "An email address must have an @-sign."


def test_a_message_survives_pickling_and_json() -> None:
    message = said("%(part)s takes %(kind)s: %(why)s", part="x", kind=word("date"),
                   why=foreign("bad byte", "an invalid byte sequence"))
    stored = json.loads(json.dumps(words_of(message)))
    for again in (pickle.loads(pickle.dumps(message)), Said.from_json(stored)):
        assert again == message and again.template == message.template
        assert again.params["kind"].is_word and again.params["why"].english_only
        assert again.params["why"].template == "an invalid byte sequence"
    assert words_of("plain text") is None


def test_an_exception_keeps_its_message() -> None:
    with pytest.raises(InvalidValue) as raised:
        parse_value("old", "number")
    assert isinstance(message_of(raised.value), Said) and str(raised.value) == "'old' is not a valid number"
    rule_error = RuleError("rules.value", said("expected a text value"), "text")
    assert str(rule_error) == "rules.value: expected a text value"
    assert message_of(rule_error).template == AT and rule_error.message == "expected a text value"
    assert message_of(FileUnreadable("plain")) == "plain"


def _plain_messages(source: str, where: str) -> list[str]:
    """Each refusal in `source` whose message is a string literal, an f-string, a sum or a
    formatting of them, or str() of something: English only, lost to a page's language."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        position = MESSAGE_AT.get(name or "")
        if position is None or len(node.args) <= position:
            continue
        message = node.args[position]
        if _is_plain(message):
            found.append(f"{where}:{node.lineno}: {ast.unparse(message)[:70]}")
    return found


def _is_plain(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant | ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):  # "a" + b, "%s" % b
        return _is_plain(node.left) or _is_plain(node.right)
    if isinstance(node, ast.Call):
        func = node.func
        return ((isinstance(func, ast.Name) and func.id in ("str", "repr", "format"))
                or (isinstance(func, ast.Attribute) and func.attr in ("format", "join")))
    return False


@pytest.mark.parametrize("package", SCANNED)
def test_every_refusal_is_said_with_the_message_type(package: str) -> None:
    plain = []
    for path in sorted((ROOT / package).rglob("*.py")):
        plain += _plain_messages(path.read_text(), str(path.relative_to(ROOT)))
    assert plain == [], "use importer.said's said(...) for these messages:\n" + "\n".join(plain)


def test_the_scan_finds_plain_messages() -> None:
    source = '''
raise InvalidInput(f"{part}: no field named {name!r}", part=part)
raise Conflict("taken")
raise RuleError(where, "expected a list")
raise SettingsError(str(error))
raise InvalidValue("'%s' is bad" % text)
insert_unique(session, row, f"a segment named '{name}' exists")
raise InvalidInput(said("fine"), part=part)
raise RuleError(f"{where}.op", said("fine too"))
raise Conflict(STARTED)
raise NotFound("segment")
'''
    assert [line.split(": ", 1)[0] for line in _plain_messages(source, "x")] == [
        "x:2", "x:3", "x:4", "x:5", "x:6", "x:7"]


def test_a_grouped_count_is_english_in_its_string_and_kept_as_a_number() -> None:
    message = said("the file has more than %(most)s rows", most=grouped(10_000_000))
    assert message == "the file has more than 10,000,000 rows"
    again = Said.from_json(json.loads(json.dumps(words_of(message))))
    assert again.params["most"].is_number and again.params["most"].params["n"] == 10_000_000
    assert pickle.loads(pickle.dumps(message)).params["most"].is_number
