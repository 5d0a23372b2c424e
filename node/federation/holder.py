"""Answering a federated query delivered to this council (the recipient side of one search).

What leaves: one SignedAnswer, padded to a fixed size and sealed between this council and the origin. It
carries only the `Disclosure` objects the disclosure rules built for records that match the searched identity;
a council that holds nothing sends an equally sized empty (and unsigned) answer. The searched identity is
readable here only for tags this council already holds (each is sealed under a key derived from the token
behind its tag).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from whoelse.federation import closed_sets
from whoelse.federation.answers import seal_answer
from whoelse.federation.council_list import CouncilListCache
from whoelse.federation.errors import NotFound, Refused
from whoelse.federation.query import KIND_NOTIFICATION, OriginKeys, VerifiedQuery, open_delivery
from whoelse.federation.replay import ReplayCache
from whoelse.node.audit import DeliveredAlert
from whoelse.node.disclosure import Disclosure, disclose
from whoelse.node.federation.held_filter import HeldTagFilter
from whoelse.node.matching import identity_of_row, rank_candidates, score_candidates
from whoelse.node.records import ChildRecord
from whoelse.node.scoring import MatchScore
from whoelse.node.settings import NodeSettings
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import child_rows, held_tags, record_from_row
from whoelse.node.wire import disclosure_to_pb, identity_from_pb
from whoelse.v1 import federation_pb2
from whoelse.v1 import records_pb2 as pb

MAX_CANDIDATES = 10
# A council opens the searched identity only when one of its records shares enough evidence with the query
# (node/matching.rank_candidates, P3); a record sharing less yields a referral to the records team instead.
REFERRAL_BAND = "referral"


@dataclass(frozen=True)
class Matched:
    record: ChildRecord
    score: MatchScore


@dataclass(frozen=True)
class Answered:
    """What this council did with one received query, for its one audit entry: how many candidates the
    answer carries, what was disclosed from which record, and which alerts were delivered."""

    candidates: int
    disclosures: tuple[tuple[ChildRecord, Disclosure], ...] = ()
    alerts: tuple[DeliveredAlert, ...] = ()


# Called once per received query, before the answer leaves (so a disclosure is on record first).
ReceivedHook = Callable[[VerifiedQuery, Answered], None]
NotificationHook = Callable[[VerifiedQuery, ChildRecord, federation_pb2.AlertEvent], Sequence[DeliveredAlert]]


def council_lookup(cache: CouncilListCache) -> Callable[[str], OriginKeys | None]:
    """Adapt the cached, directory-signed council list to what the protocol library asks for."""

    def lookup(code: str) -> OriginKeys | None:
        current = cache.current
        entry = current.find(code) if current else None
        if entry is None:
            return None
        return OriginKeys(
            signing_key=entry.signing_key,
            active=entry.active,
            status=entry.status.value,
            sealing_key=entry.sealing_key,
        )

    return lookup


class Holder:
    """Opens, verifies and answers deliveries addressed to this council."""

    def __init__(
        self,
        db: Database,
        settings: NodeSettings,
        councils: CouncilListCache,
        *,
        replay: ReplayCache | None = None,
        on_received: ReceivedHook | None = None,
        on_notification: NotificationHook | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        held: HeldTagFilter | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._councils = councils
        self._lookup = council_lookup(councils)
        self._replay = replay or ReplayCache()
        self._on_received = on_received
        self._on_notification = on_notification
        self._today = today
        self._held = held

    def answer(
        self, delivery: federation_pb2.Delivery, now_ms: int | None = None
    ) -> federation_pb2.SealedAnswer:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        council = self._settings.council
        query = open_delivery(
            delivery,
            council.code,
            self._settings.sealing_key,
            lookup_origin=self._lookup,
            replay=self._replay,
            now_ms=now_ms,
        )
        matched, referral = self._match(query)
        answer = federation_pb2.Answer(query_id=query.query_id, responder=council.code)
        disclosures: list[tuple[ChildRecord, Disclosure]] = []
        alerts: list[DeliveredAlert] = []
        if referral and query.kind != KIND_NOTIFICATION:
            answer.candidates.append(self._referral_candidate())
        elif query.kind == KIND_NOTIFICATION:
            alerts = self._notify(query, matched)
            # Whether anyone here was told, not how many: a count would reveal how many practitioners work
            # with the child here (including sensitive services).
            answer.alerts_delivered = min(1, len(alerts))
        else:
            candidates, disclosures = self._disclose(matched)
            answer.candidates.extend(candidates)
        if self._on_received:
            self._on_received(query, Answered(len(answer.candidates), tuple(disclosures), tuple(alerts)))
        try:
            origin_key = self._councils.sealing_key(query.origin)
        except NotFound as exc:
            raise Refused(f"unknown council {query.origin}") from exc
        return seal_answer(
            answer, self._settings.signing_key, self._settings.sealing_key, origin_key, query.answer_key
        )

    def _match(self, query: VerifiedQuery) -> tuple[list[tuple[Matched, int, bytes]], bool]:
        """Records sharing tags with the query, scored against the identity opened with a held tag's key
        when the opening rule allows (node/matching.rank_candidates); and whether records share tags but
        too little to open (a referral, nothing opened)."""
        tags = list(query.lookup_tags)
        # Most councils hold nothing: the filter says so from memory, or the database does.
        if self._held is not None and not self._held.may_hold(query.oprf_key_id, tags):
            return [], False
        rows = held_tags(self._db.engine, tags, query.oprf_key_id)
        if not rows:
            return [], False
        held: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
        kinds: dict[int, set[str]] = defaultdict(set)
        for child_id, tag, secret, kind in rows:
            if secret is not None:
                held[child_id].append((tag, secret))
                kinds[child_id].add(kind)
        candidates, shared = rank_candidates(kinds, MAX_CANDIDATES * 4)
        if not candidates:
            # What is shared is too weak to open the searched identity (it is as likely another child).
            return [], shared
        with self._db.session() as session:
            children = child_rows(session, [c.child_id for c in candidates])
        position = {tag: i for i, tag in enumerate(tags)}
        out: list[tuple[Matched, int, bytes]] = []
        tag, secret = held[candidates[0].child_id][0]
        # Any held tag opens the same identity; failure means the sender did not seal it for us.
        searched = identity_from_pb(query.demographics_for(position[tag], secret), require_searchable=False)
        # Scored on the rows' identity columns (twins kept apart); only a match becomes a whole record.
        results = score_candidates(searched, [identity_of_row(children[c.child_id]) for c in candidates])
        for candidate, result in zip(candidates, results, strict=True):
            if result.band != "non-match":
                tag, secret = held[candidate.child_id][0]
                record = record_from_row(children[candidate.child_id])
                out.append((Matched(record, result), position[tag], secret))
        out.sort(key=lambda m: -m[0].score.total)
        return out[:MAX_CANDIDATES], False

    def _referral_candidate(self) -> pb.Candidate:
        """A record here shares one detail with the search: no child data, just whom to ask."""
        council = self._settings.council
        return pb.Candidate(
            score=0.0,
            **closed_sets.BAND.fields(REFERRAL_BAND),
            disclosure=pb.Disclosure(
                council_code=council.code,
                council_name=council.name,
                records_team_contact=council.records_team_contact,
            ),
        )

    def _disclose(
        self, matched: list[tuple[Matched, int, bytes]]
    ) -> tuple[list[pb.Candidate], list[tuple[ChildRecord, Disclosure]]]:
        today = self._today()
        candidates, disclosures = [], []
        for m, _, _ in matched:
            disclosure = disclose(m.record, self._settings.council, today)
            if disclosure is None:  # retention ended: archived, never disclosed
                continue
            disclosures.append((m.record, disclosure))
            candidates.append(
                pb.Candidate(
                    score=m.score.total,
                    **closed_sets.BAND.fields(m.score.band),
                    disclosure=disclosure_to_pb(disclosure),
                )
            )
        return candidates, disclosures

    def _notify(
        self, query: VerifiedQuery, matched: list[tuple[Matched, int, bytes]]
    ) -> list[DeliveredAlert]:
        delivered: list[DeliveredAlert] = []
        for m, index, secret in matched:
            if m.score.band != "match" or self._on_notification is None:
                continue  # alerts only for confident matches: a wrong alert would itself disclose
            delivered.extend(self._on_notification(query, m.record, query.event_for(index, secret)))
        return delivered
