"""The small email-mode account that the tests of one contact's changes share."""

from __future__ import annotations

from tests.integration.mailing_helpers import Account, make_account

# An active, an unsubscribed and a bounced contact; the third's cells look like formulas.
ROWS = [["K1", "sanne@example.nl", "Sanne", "Utrecht", "ja", ""],
        ["K2", "piet@example.nl", "Piet", "Delft", "nee", "unsubscribed"],
        ["K3", "=cmd@example.nl", "@SUM(A1)", "-1+2", "", "bounced"]]
FIELDS = {"first_name": "text", "city": "text", "vip": "boolean", "born": "date", "points": "number"}


def three_contacts(make_tenant, import_rows, engine) -> Account:  # type: ignore[no-untyped-def]
    """The account `acme` with ROWS imported by address (no IDs), its contacts by address key."""
    return make_account(make_tenant, import_rows, engine, ROWS, mode="email", fields=FIELDS)
