"""What a contact's page changes: edit (address, fields, IDs), unsubscribe, re-subscribe with
the consent it was given again, and erase after a confirmation that names what is lost.

The domain (service.domain.contact_changes) does the work and the checks; this module turns the
form into its input, and its errors into words on the form, next to the field they are about.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from importer.said import at, message_of
from importer.values import InvalidValue, parse_value
from importer.vocabulary import ContactStatus, FieldType
from service.db import own
from service.db import session as db_session
from service.domain import contact_changes
from service.domain.accounts import fields_of, links_of
from service.domain.contacts import contact_public
from service.errors import Conflict, DomainError, InvalidInput
from service.http_errors import in_words
from service.models import Contact, ContactPublic, Link
from service.web.pages import page
from service.words import gettext, lazy_gettext, without_part

MAX_NOTE = 1000
# Conflicts in plain words: what clashes, and what to do about it.
CONFLICT_WORDS = {
    "address_conflict": ("email", lazy_gettext("Another contact already has this e-mail address. This "
                                               "account deduplicates by address, so each address is one "
                                               "contact: edit or erase that contact instead.")),
    "erased_address": ("email", lazy_gettext("This address belongs to a person who asked to be "
                                             "forgotten. It cannot be used again until support staff "
                                             "lift the erasure.")),
    "address_bounced": ("consent", lazy_gettext("Mail to this address bounced. Only support staff can "
                                                "re-subscribe it, once the address has been fixed.")),
}
STALE = lazy_gettext("This contact was changed (by an import, an event or another user) since the form was "
                     "opened. The form now shows it as it is: make your change again.")
ID_CONFLICT_WORDS = lazy_gettext("An ID belongs to one contact: change or clear it on the other contact "
                                 "first.")


def _form_text(value: Any) -> str:
    """A stored value as the edit form shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _edit_values(contact: ContactPublic) -> dict[str, str]:
    """The form's values for a contact: `email`, `field.<name>`, `id.<link>`."""
    values = {"email": contact.email}
    values.update({f"field.{name}": _form_text(value) for name, value in contact.fields.items()})
    values.update({f"id.{link}": value for link, value in contact.external_ids.items()})
    return values


def _edit_of(form: MultiDict[str, str], current: dict[str, str], field_types: dict[str, str],
             link_names: list[str]) -> contact_changes.ContactEdit:
    """What the form changes, and only that: an untouched value is not sent (so that an edit of
    one field never re-checks, or rewrites, the others)."""
    def changed(key: str) -> str | None:
        sent = form.get(key)  # a value the form did not send is left alone, not cleared
        text = None if sent is None else sent.strip()
        return None if text is None or text == current.get(key, "") else text

    email = changed("email")
    fields: dict[str, Any] = {}
    for name, type_ in field_types.items():
        text = changed(f"field.{name}")
        if text is None:
            continue
        try:
            fields[name] = parse_value(text, type_) if text else None
        except InvalidValue as problem:
            raise InvalidInput(at(f"fields.{name}", message_of(problem)), part=f"fields.{name}") from None
    external_ids = {link: (text or None) for link in link_names
                    if (text := changed(f"id.{link}")) is not None}
    return contact_changes.ContactEdit(email=email, fields=fields, external_ids=external_ids)


def _error_of(problem: DomainError) -> tuple[str, str]:
    """(the form key the problem is about, the sentence that says it)."""
    if isinstance(problem, Conflict) and problem.code in CONFLICT_WORDS:
        key, words = CONFLICT_WORDS[problem.code]
        return key, str(words)
    if isinstance(problem, Conflict) and problem.code == "id_conflict":
        return "ids", f"{in_words(problem.message)} {ID_CONFLICT_WORDS}"
    part = (problem.part if isinstance(problem, InvalidInput) else None) or "form"
    message = without_part(problem.message)  # the form shows it next to the part
    # The domain names the part as the API body does; the form's keys say "field." and "id.".
    for body, form in (("fields.", "field."), ("external_ids.", "id.")):
        if part.startswith(body):
            part = form + part.removeprefix(body)
    return part, in_words(message)


def _label_of(key: str, links: list[Link]) -> str:
    """The name of a form key as the form's label says it, for the summary above the form."""
    if key == "email":
        return gettext("E-mail address")
    if key == "ids":
        return gettext("IDs in linked systems")
    kind, _, name = key.partition(".")
    labels = {link.name: link.label for link in links}
    return labels.get(name, name) if kind == "id" else name


def edit_contact(contact_id: int) -> ResponseReturnValue:
    session = db_session()
    contact = contact_public(session, own(session, Contact, contact_id, g.account.id, "contact"))
    fields, links = fields_of(session, g.account.id), links_of(session, g.account.id)
    current = _edit_values(contact)
    values, errors, summary = current, {}, None
    seen = contact.updated_at.isoformat()
    if request.method == "POST" and request.form.get("seen", seen) != seen:
        # Changed since the form was opened: saving it would put back the values it showed.
        return page("contacts/edit.html", 409, contact=contact, fields=fields, links=links, values=current,
                    errors={"form": str(STALE)}, summary=str(STALE), seen=seen, boolean=FieldType.BOOLEAN)
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in request.form}
        edit = None
        try:
            edit = _edit_of(request.form, current, {f.name: f.type for f in fields},
                            [link.name for link in links])
            contact_changes.edit_contact(session, g.account, contact_id, edit)
        except DomainError as problem:
            key, message = _error_of(problem)
            if key == "ids" and edit is not None and len(edit.external_ids) == 1:
                key = f"id.{next(iter(edit.external_ids))}"  # the one ID that changed clashes
            errors = {key: message}
            summary = f"{_label_of(key, links)}: {message}" if key != "form" else message
        else:
            flash(gettext("The contact is saved."))
            return redirect(url_for("web.contact_page", contact_id=contact_id))
    return page("contacts/edit.html", 400 if errors else 200, contact=contact, fields=fields, links=links,
                values=values, errors=errors, summary=summary, seen=seen, boolean=FieldType.BOOLEAN)


def unsubscribe_contact(contact_id: int) -> ResponseReturnValue:
    session = db_session()
    note = request.form.get("note", "").strip()[:MAX_NOTE] or None
    contact = contact_changes.unsubscribe_contact(session, g.account, contact_id, detail=note)
    if contact.status == ContactStatus.UNSUBSCRIBED:
        flash(gettext("%(email)s is unsubscribed: no mailing goes to this contact any more.",
                      email=contact.email))
    else:  # bounced meanwhile, the stronger status: it stays
        flash(gettext("%(email)s stays bounced: no mailing goes to this contact.", email=contact.email))
    return redirect(url_for("web.contact_page", contact_id=contact_id))


def resubscribe_contact(contact_id: int) -> ResponseReturnValue:
    """Ask how the person gave consent again; make the contact active with that on record."""
    session = db_session()
    contact = contact_public(session, own(session, Contact, contact_id, g.account.id, "contact"))
    consent, error = "", None
    if request.method == "POST":
        consent = request.form.get("consent", "").strip()
        if not consent:
            error = gettext("Say how the person gave consent again: it is kept in the contact's history.")
        elif len(consent) > MAX_NOTE:
            error = gettext("At most %(count)s characters.", count=MAX_NOTE)
        else:
            try:
                contact_changes.resubscribe_contact(session, g.account, contact_id, consent,
                                                    admin=bool(g.user.is_admin))
            except DomainError as problem:
                error = _error_of(problem)[1]
            else:
                flash(gettext("%(email)s is subscribed again.", email=contact.email))
                return redirect(url_for("web.contact_page", contact_id=contact_id))
    return page("contacts/resubscribe.html", 400 if error else 200, contact=contact, consent=consent,
                error=error, is_admin=bool(g.user.is_admin), active=ContactStatus.ACTIVE)


def erase_contact(contact_id: int) -> ResponseReturnValue:
    """The confirmation page, and the erasure once it is ticked."""
    session = db_session()
    contact = contact_public(session, own(session, Contact, contact_id, g.account.id, "contact"))
    error = None
    if request.method == "POST":
        if request.form.get("confirm") != "yes":
            error = gettext("Tick the box to confirm that this contact is to be erased.")
        else:
            contact_changes.erase_contact(session, g.account, contact_id)
            flash(gettext("Contact %(number)s is erased. Its address cannot be imported again until "
                          "support staff lift the erasure.", number=contact_id))
            return redirect(url_for("web.contact_list"))
    return page("contacts/erase.html", 400 if error else 200, contact=contact, error=error)
