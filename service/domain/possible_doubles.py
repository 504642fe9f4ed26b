"""The account's possible doubles, link by link, for the dedup page (importer/doubles.py says what
a possible double is; the import warns of those its file brings)."""

from __future__ import annotations

from sqlmodel import Session

from importer.doubles import Doubles, find_doubles, stored_people
from service.domain.accounts import fields_of, links_of
from service.models import Link

# Only addresses that more than one contact has can hold a group (an index-only count).
SHARED = ("c.address_key IN (SELECT k.address_key FROM contacts k WHERE k.account_id = :account "
          "GROUP BY k.address_key HAVING count(*) > 1)")


def possible_doubles(session: Session, account_id: int) -> list[tuple[Link, Doubles]]:
    """Each link with groups of its contacts that are possibly one person, with how many."""
    people = stored_people(session.get_bind().dialect.name,
                           {field.name for field in fields_of(session, account_id)}, SHARED)
    if people is None:
        return []
    found = [(link, find_doubles(session.connection(), [people], {"account": account_id, "link": link.id}))
             for link in links_of(session, account_id)]
    return [(link, doubles) for link, doubles in found if doubles.count]
