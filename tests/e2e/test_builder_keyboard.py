"""The segment builder with the keyboard only: Tab and Shift+Tab between controls, arrows in the
drop-downs, typing in the value boxes, Enter and Space on the buttons. After every step the focus
is where the user expects it (the same control of the same condition after the tree is drawn
anew, the first control of what was added, a neighbour of what was removed) and the live preview
has asked for the rules as they now are."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Page, Response, expect

from tests.e2e.test_segments_pages import expect_preview, family_tenant

CITY = {"field": "city", "op": "eq", "value": "utrecht"}
ANNA = {"field": "first_name", "op": "eq", "value": "anna"}
NOT_HOME = {"field": "email_domain", "op": "ne", "value": "home.nl"}
# The names of a group's controls and of a condition's remove button.
KIND, REMOVE_GROUP = "Contacts that match", "Remove group"
ADD_CONDITION, ADD_GROUP = "Add a condition", "Add a group"
REMOVE_CONDITION = "Remove this condition"


# A condition as the builder adds it (the first field, "is", nothing typed yet) waits for its value:
# the preview gets a part that leaves the group as it is, true among "all", false among "any" (so
# that the paths of the other parts stay as drawn), and a tree of nothing else is everyone.
WAITING_IN_ALL: dict[str, Any] = {"all": []}
WAITING_IN_ANY: dict[str, Any] = {"any": []}
EVERYONE: dict[str, Any] = {"all": []}


# Where the focus is: the path of the condition or group it is in (None outside the builder)
# and the control's name (its label, or a button's name), or the page's body when it is lost.
FOCUS = """() => {
  const a = document.activeElement;
  if (!a || a === document.body) return { path: null, control: "the page's body" };
  const node = a.closest("[data-path]");
  const label = a.labels && a.labels.length ? a.labels[0].textContent : null;
  const name = label || a.getAttribute("aria-label") || a.textContent;
  return { path: node ? node.dataset.path : null, control: name.trim() };
}"""


def expect_focus(page: Page, path: str | None, control: str) -> None:
    """The focus is on `control` of the condition or group at `path`."""
    assert page.evaluate(FOCUS) == {"path": path, "control": control}


def press(page: Page, key: str, path: str | None, control: str) -> None:
    """Press a key; the focus is then on `control` at `path`."""
    page.keyboard.press(key)
    expect_focus(page, path, control)


def arrow_to(page: Page, value: str, path: str, control: str, key: str = "ArrowDown") -> None:
    """Step the focused drop-down to `value` with an arrow key; the focus stays on it at each step."""
    for _ in range(page.evaluate("() => document.activeElement.options.length")):
        if page.evaluate("() => document.activeElement.value") == value:
            return
        press(page, key, path, control)
    raise AssertionError(f"{value!r} is not reached in {control} at {path} with {key}")


def tab_to(page: Page, path: str | None, control: str, key: str = "Tab", most: int = 12) -> None:
    """Press Tab (or Shift+Tab) until the focus is on `control` at `path`, at most `most` times."""
    for _ in range(most):
        page.keyboard.press(key)
        if page.evaluate(FOCUS) == {"path": path, "control": control}:
            return
    raise AssertionError(f"{control} at {path} is not reached with {most} × {key}")


def typed(page: Page) -> list[Any]:
    """The focused box's text and its caret (selection start and end)."""
    return page.evaluate("() => [document.activeElement.value, document.activeElement.selectionStart, "
                         "document.activeElement.selectionEnd]")


@contextmanager
def previewed(page: Page, rules: dict[str, Any], status: int = 200) -> Iterator[None]:
    """Expect the builder to ask for the preview of exactly `rules` during the block, and show it."""

    def asks_for_rules(response: Response) -> bool:
        request = response.request
        return (request.method == "POST" and response.url.endswith("/segments/preview")
                and json.loads(request.post_data or "{}").get("rules") == rules)

    with page.expect_response(asks_for_rules) as answer:
        yield
    assert answer.value.status == status
    state = "ready" if status == 200 else "error"
    expect(page.locator("#live-preview")).to_have_attribute("data-state", state)
    if status == 200:
        expect(page.locator("#rule-error")).to_be_hidden()


def type_values(page: Page, path: str, boxes: list[tuple[str, str]], rules: dict[str, Any]) -> None:
    """Tab into each value box (its label, the text to type) in turn and type into it; the preview
    then asks for `rules`."""
    with previewed(page, rules):
        for label, text in boxes:
            press(page, "Tab", path, label)
            page.keyboard.type(text)


def open_builder(page: Page, live_server: str, make_tenant: Callable[..., Any], make_user: Callable[..., Any],
                 sign_in: Callable[..., None], post_import: Callable[..., Any]) -> None:
    """Sign in to the family account, open the builder, and Tab to the segment's name."""
    tenant = family_tenant(make_tenant, post_import)
    sign_in(make_user(tenant.id, "manager@family.example"))
    page.goto(f"{live_server}/segments/new")
    expect_preview(page, contacts=6, addresses=3, recipients=3, collapsed=3)
    tab_to(page, None, "Name", most=20)


def test_build_a_nested_segment_with_the_keyboard(page, live_server, make_tenant, make_user, sign_in,
                                                  post_import, screenshot):
    open_builder(page, live_server, make_tenant, make_user, sign_in, post_import)
    page.keyboard.type("Keyboard: Utrecht, Anna or not at home")
    press(page, "Tab", "rules", KIND)
    press(page, "Tab", "rules", ADD_CONDITION)

    # A condition added: the focus on its field; a field changed: the focus stays on it.
    first = "rules.all[0]"
    with previewed(page, EVERYONE):
        press(page, "Enter", first, "Field")
    expect(page.locator(f'[data-path="{first}"] .no-value')).to_be_visible()
    with previewed(page, EVERYONE):
        press(page, "ArrowDown", first, "Field")
    press(page, "Tab", first, "Test")
    press(page, "Tab", first, "Value")

    # Typing keeps the focus and the caret, also when the preview comes back in between.
    with previewed(page, {"all": [{**CITY, "value": "utrcht"}]}):
        page.keyboard.type("utrcht")
    expect_preview(page, contacts=0)
    for _ in "cht":
        press(page, "ArrowLeft", first, "Value")
    with previewed(page, {"all": [CITY]}):
        page.keyboard.type("e")
    expect_focus(page, first, "Value")
    assert typed(page) == ["utrecht", 4, 4]
    expect_preview(page, contacts=4, addresses=2, recipients=2, collapsed=2)

    # A group added: the focus on its kind, then through its first condition.
    press(page, "Tab", first, REMOVE_CONDITION)
    press(page, "Tab", "rules", ADD_CONDITION)
    press(page, "Tab", "rules", ADD_GROUP)
    group = "rules.all[1]"
    with previewed(page, {"all": [CITY, WAITING_IN_ALL]}):
        press(page, "Space", group, KIND)
    press(page, "Tab", group, REMOVE_GROUP)
    press(page, "Tab", "rules.all[1].any[0]", "Field")
    press(page, "Tab", "rules.all[1].any[0]", "Test")
    type_values(page, "rules.all[1].any[0]", [("Value", "anna")], {"all": [CITY, {"any": [ANNA]}]})
    expect_preview(page, contacts=2, addresses=1, recipients=1, collapsed=1)

    # A second condition in the group, its field and test stepped with the arrows.
    press(page, "Tab", "rules.all[1].any[0]", REMOVE_CONDITION)
    press(page, "Tab", group, ADD_CONDITION)
    second = "rules.all[1].any[1]"
    with previewed(page, {"all": [CITY, {"any": [ANNA, WAITING_IN_ANY]}]}):
        press(page, "Enter", second, "Field")
    arrow_to(page, "email_domain", second, "Field")
    press(page, "Tab", second, "Test")
    arrow_to(page, "ne", second, "Test")
    nested = {"all": [CITY, {"any": [ANNA, NOT_HOME]}]}
    type_values(page, second, [("Value", "home.nl")], nested)
    expect_preview(page, contacts=3, addresses=2, recipients=2, collapsed=1)
    screenshot("nested")

    # The group's kind changed and back: the focus stays on it while its parts' paths change.
    tab_to(page, group, KIND, key="Shift+Tab")
    with previewed(page, {"all": [CITY, {"not": {"any": [ANNA, NOT_HOME]}}]}):
        press(page, "ArrowDown", group, KIND)
    expect(page.locator('[data-path="rules.all[1].not.any[1]"]')).to_have_class("rule-condition")
    expect_preview(page, contacts=1, addresses=1, recipients=1)
    with previewed(page, nested):
        press(page, "ArrowUp", group, KIND)
    expect_preview(page, contacts=3, recipients=2)

    # A condition removed: the focus on the remove button of the one before it.
    tab_to(page, group, ADD_CONDITION)
    with previewed(page, {"all": [CITY, {"any": [ANNA, NOT_HOME, WAITING_IN_ANY]}]}):
        press(page, "Enter", "rules.all[1].any[2]", "Field")
    tab_to(page, "rules.all[1].any[2]", REMOVE_CONDITION)
    with previewed(page, nested):
        press(page, "Enter", second, REMOVE_CONDITION)
    expect(page.locator('[data-path="rules.all[1].any[2]"]')).to_have_count(0)

    # A group's only condition removed: the focus on the group's "Add a condition"; the empty
    # group removed: the focus on the remove button of the group before it.
    tab_to(page, "rules", ADD_GROUP)
    with previewed(page, {"all": [CITY, {"any": [ANNA, NOT_HOME]}, WAITING_IN_ALL]}):
        press(page, "Space", "rules.all[2]", KIND)
    tab_to(page, "rules.all[2].any[0]", REMOVE_CONDITION)
    with previewed(page, {"all": [CITY, {"any": [ANNA, NOT_HOME]}, {"any": []}]}):
        press(page, "Space", "rules.all[2]", ADD_CONDITION)
    expect_preview(page, contacts=0)
    press(page, "Shift+Tab", "rules.all[2]", REMOVE_GROUP)
    with previewed(page, nested):
        press(page, "Enter", group, REMOVE_GROUP)
    expect_preview(page, contacts=3, addresses=2, recipients=2, collapsed=1)

    # Saved with the keyboard too, as the rules the preview showed.
    assert json.loads(page.locator("#rules").input_value()) == nested
    tab_to(page, None, "Save the segment", most=30)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Keyboard: Utrecht, Anna or not at home")).to_be_visible()
    expect(page.locator("#segment-rules")).to_contain_text("E-mail domain is not home.nl")
    expect(page.locator('#segment-preview [data-preview-count="recipients"]')).to_have_text("2")


def test_every_kind_of_value_control_with_the_keyboard(page, live_server, make_tenant, make_user, sign_in,
                                                       post_import, screenshot):
    open_builder(page, live_server, make_tenant, make_user, sign_in, post_import)
    press(page, "Tab", "rules", KIND)
    press(page, "Tab", "rules", ADD_CONDITION)
    here = "rules.all[0]"
    press(page, "Enter", here, "Field")
    press(page, "ArrowDown", here, "Field")
    press(page, "Tab", here, "Test")

    # A list of values.
    arrow_to(page, "in", here, "Test")
    type_values(page, here, [("Values", "utrecht, delft")],
                {"all": [{"field": "city", "op": "in", "value": ["utrecht", "delft"]}]})
    expect_preview(page, contacts=6)

    # A range: two boxes, one after the other.
    press(page, "Shift+Tab", here, "Test")
    arrow_to(page, "between", here, "Test")
    type_values(page, here, [("From", "a"), ("To", "m")],
                {"all": [{"field": "city", "op": "between", "value": ["a", "m"]}]})
    expect_preview(page, contacts=2)

    # No value at all: the boxes go, the focus stays on the test.
    press(page, "Shift+Tab", here, "From")
    press(page, "Shift+Tab", here, "Test")
    with previewed(page, {"all": [{"field": "city", "op": "is_empty"}]}):
        arrow_to(page, "is_empty", here, "Test")
    expect(page.locator(f'[data-path="{here}"] input')).to_have_count(0)
    expect_preview(page, contacts=0)

    # A choice of statuses, which changes the value without drawing the tree anew.
    press(page, "Shift+Tab", here, "Field")
    with previewed(page, {"all": [{"field": "status", "op": "eq", "value": "active"}]}):
        arrow_to(page, "status", here, "Field")
    expect_preview(page, contacts=6)
    press(page, "Tab", here, "Test")
    press(page, "Tab", here, "Value")
    with previewed(page, {"all": [{"field": "status", "op": "eq", "value": "unsubscribed"}]}):
        press(page, "ArrowDown", here, "Value")
    expect_preview(page, contacts=0)

    # A date not given yet waits (no error, no one left out), then a number of days on a timestamp.
    press(page, "Shift+Tab", here, "Test")
    press(page, "Shift+Tab", here, "Field")
    with previewed(page, EVERYONE):
        press(page, "ArrowDown", here, "Field")
    expect(page.locator(f'[data-path="{here}"] .no-value')).to_be_visible()
    expect(page.locator(f'[data-path="{here}"]')).to_have_class("rule-condition")
    press(page, "Tab", here, "Test")
    with previewed(page, {"all": [{"field": "created_at", "op": "within_last_days", "value": 30}]}):
        arrow_to(page, "within_last_days", here, "Test")
    press(page, "Tab", here, "Days")
    page.keyboard.press("Control+a")
    with previewed(page, {"all": [{"field": "created_at", "op": "within_last_days", "value": 7}]}):
        page.keyboard.type("7")
    expect_focus(page, here, "Days")
    expect_preview(page, contacts=6)
    screenshot("days")
