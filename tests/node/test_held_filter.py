"""The holder's in-memory filter of held tags (node/federation/held_filter.py): a council that holds nothing
learns so without asking its database, and a council that holds the child is never told otherwise."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from tests.node.records_factory import child
from tests.node.test_tokenise import KEY, SAMIR, Directory, _searched_tags, _store
from whoelse.node.federation.held_filter import HeldTagFilter
from whoelse.node.federation.tokenise import tokenise_pending
from whoelse.node.records import Address, ChildRecord, Sex
from whoelse.node.storage.database import Database
from whoelse.node.storage.tables import MatchTag

NOBODY = child(
    record_id="ELSEWHERE-1",
    forename="Quentin",
    surname="Abernethy",
    date_of_birth=dt.date(2009, 2, 3),
    nhs_number="",
    address=Address(line1="1 High St", town="York", postcode="YO1 7HH"),
)


def _children(n: int) -> list[ChildRecord]:
    rng = random.Random(5)
    return [
        child(
            record_id=f"LDS-{i}",
            forename=rng.choice(["Amira", "Ben", "Chloe", "Dev", "Ewa"]) + str(i),
            surname=rng.choice(["Khan", "Smith", "Nowak", "Okafor"]),
            date_of_birth=dt.date(2008, 1, 1) + dt.timedelta(days=rng.randrange(4000)),
            sex=rng.choice([Sex.MALE, Sex.FEMALE]),
            nhs_number="",
        )
        for i in range(n)
    ]


def test_every_tag_the_database_holds_is_reported_as_perhaps_held(db: Database) -> None:
    _store(db, _children(300))
    tokenise_pending(db, Directory(), KEY.public_key, KEY.key_id)
    held = HeldTagFilter(db)
    assert held.ensure(KEY.key_id)
    with db.session() as session:
        tags = list(session.scalars(select(MatchTag.tag).where(MatchTag.scheme == KEY.key_id)))
    assert len(tags) > 3000
    assert all(held.may_hold(KEY.key_id, [tag]) for tag in tags)
    # and tags held nowhere are turned away from memory (0.24% would be asked of the database)
    rng = random.Random(9)
    absent = [rng.randbytes(32) for _ in range(5000)]
    assert sum(held.may_hold(KEY.key_id, [tag]) for tag in absent) < 50


def test_a_child_tokenised_after_the_filter_was_built_is_met_at_once(db: Database) -> None:
    zoe, sam = child(record_id="LDS-1"), SAMIR
    _store(db, [zoe])
    held = HeldTagFilter(db)
    tokenise_pending(db, Directory(), KEY.public_key, KEY.key_id, held=held)
    held.ensure(KEY.key_id)
    assert held.may_hold(KEY.key_id, _searched_tags(zoe))
    assert not held.may_hold(KEY.key_id, _searched_tags(sam))
    assert not held.may_hold(KEY.key_id, _searched_tags(NOBODY))

    _store(db, [sam])  # imported while the node runs; its next upkeep tokenises it
    tokenise_pending(db, Directory(), KEY.public_key, KEY.key_id, held=held)
    assert held.may_hold(KEY.key_id, _searched_tags(sam))
    assert not held.may_hold(KEY.key_id, _searched_tags(NOBODY))


def test_without_a_filter_for_the_query_scheme_the_database_decides(db: Database) -> None:
    held = HeldTagFilter(db)
    tags = _searched_tags(NOBODY)
    assert held.may_hold(KEY.key_id, tags)  # not built yet
    held.ensure(KEY.key_id)
    assert not held.may_hold(KEY.key_id, tags)
    assert held.may_hold("an-older-key-id", tags)  # a query under a key id with no filter here
    held.retain({"a-newer-key-id"})  # the key was rotated: its filter is gone, the database decides
    assert held.may_hold(KEY.key_id, tags)


def test_a_filter_grown_past_twice_its_size_is_rebuilt(db: Database) -> None:
    _store(db, _children(10))
    held = HeldTagFilter(db)
    tokenise_pending(db, Directory(), KEY.public_key, KEY.key_id, held=held)
    assert held.ensure(KEY.key_id)
    assert not held.ensure(KEY.key_id)  # nothing new: kept
    _store(db, _children(40)[10:])
    tokenise_pending(db, Directory(), KEY.public_key, KEY.key_id, held=held)
    assert held.ensure(KEY.key_id)  # four times as many tags as it was sized for
    assert held.may_hold(KEY.key_id, _searched_tags(_children(40)[-1]))
