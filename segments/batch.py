"""A batch of contacts asked about before a send: their standing in the audience, in one statement.

For each requested contact of the account: does the audience's rules take it in (status aside),
its address (the one a clearance holds), its status, whether its address bounced, its
personalisation values, and its rank among the batch's eligible contacts of the same slot by the
representative rule (1: it would be chosen).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, and_, func, select

from segments.collapse import Audience
from segments.compiler import bounced_address
from segments.representative import ranking
from segments.tables import contacts
from segments.values import one_of


def batch_query(audience: Audience, contact_ids: Sequence[int], dialect: str) -> Select:
    """Rows (id, address_key, email, status, in_audience, bounced, p0.., rank) for the ids found."""
    c = contacts.alias("c")
    keys = ranking(audience.representative, audience.compiler, c)
    personal = audience.personalisation(c)
    facts_select = select(
        c.c.id, c.c.address_key, c.c.email, c.c.status,
        audience.matches(c).label("in_audience"),
        bounced_address(c).label("bounced"),
        *(value.label(f"p{i}") for i, value in enumerate(personal)),
        *(key.label(f"k{i}") for i, (key, _) in enumerate(keys)),
    ).where(c.c.account_id == audience.account_id, one_of(c.c.id, contact_ids, dialect))
    if dialect == "postgresql":
        # Kept a subquery of its own: pulled up, PostgreSQL evaluates the bounce test twice per
        # contact (for the rank's partition and for the column), hashing the bounces each time.
        facts_select = facts_select.offset(0)
    facts = facts_select.subquery("facts")
    eligible = and_(facts.c.in_audience, facts.c.status == "active", ~facts.c.bounced)
    slot = [facts.c.address_key, *(facts.c[f"p{i}"] for i in range(len(personal)))]
    rank = func.row_number().over(
        partition_by=[eligible, *(slot if audience.collapses else [facts.c.id])],
        order_by=[facts.c[f"k{i}"].desc() if descending else facts.c[f"k{i}"].asc()
                  for i, (_, descending) in enumerate(keys)],
    )
    return select(facts.c.id, facts.c.address_key, facts.c.email, facts.c.status, facts.c.in_audience,
                  facts.c.bounced, *(facts.c[f"p{i}"] for i in range(len(personal))),
                  rank.label("rank"))
