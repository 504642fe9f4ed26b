"""Erased addresses are kept as salted hashes only, recognised again until lifted."""

from __future__ import annotations

from sqlmodel import Session, select

from service.domain.erasures import is_erased, lift_erasure, record_erasure
from service.models import Erasure


def test_an_erased_address_is_kept_as_a_hash_and_recognised_until_lifted(engine, make_tenant):
    tenant = make_tenant("acme", "email")
    other = make_tenant("other", "email")
    with Session(engine) as session:
        assert not is_erased(session, tenant.id, "sanne@example.nl")
        digest = record_erasure(session, tenant.id, "sanne@example.nl")
        record_erasure(session, tenant.id, "sanne@example.nl")  # twice: still one erasure
        session.commit()
    assert len(digest) == 64 and "sanne" not in digest
    with Session(engine) as session:
        stored = session.exec(select(Erasure.address_hash)).all()
        assert stored == [digest]
        assert is_erased(session, tenant.id, "sanne@example.nl")
        # Another address, or the same address in another account, is not erased.
        assert not is_erased(session, tenant.id, "piet@example.nl")
        assert not is_erased(session, other.id, "sanne@example.nl")
        assert lift_erasure(session, tenant.id, "sanne@example.nl") == 1
        assert lift_erasure(session, tenant.id, "sanne@example.nl") == 0
        session.commit()
    with Session(engine) as session:
        assert not is_erased(session, tenant.id, "sanne@example.nl")
