"""Sending a federated query from this (home) council and collecting every council's answer.

What leaves: blinded match keys to the directory (EvaluateTokens), then one Delivery per active council,
each sealed to that council — the directory routes them but can open none. The directory learns the origin,
the query id, the purpose and the time; nothing about the child.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import grpc

from whoelse.federation import closed_sets
from whoelse.federation.answers import open_answer
from whoelse.federation.council_list import CouncilList, CouncilListCache
from whoelse.federation.errors import InvalidInput, Refused, Unavailable, WhoElseError
from whoelse.federation.identity import Identity
from whoelse.federation.match_keys import match_keys
from whoelse.federation.purposes import Purpose
from whoelse.federation.query import KIND_NOTIFICATION, KIND_SEARCH, build_query, seal_deliveries, sign_query
from whoelse.federation.sealing import SealingKey
from whoelse.federation.status import call_status
from whoelse.federation.tokens import search_padding, tokenise
from whoelse.node.federation.holder import council_lookup
from whoelse.node.settings import NodeSettings
from whoelse.v1 import federation_pb2, federation_pb2_grpc
from whoelse.v1 import records_pb2 as pb

ROUTE_SLACK_S = 2.0
NOT_LISTED = "not an active council in the directory's list"


@dataclass(frozen=True)
class Searcher:
    """Who is asking: the practitioner's username, name and role at this council."""

    username: str
    name: str
    role: str


@dataclass
class Outcome:
    query_id: str
    results: dict[str, list[pb.Candidate]] = field(default_factory=dict)  # council code → candidates
    unanswered: list[tuple[str, str, str]] = field(default_factory=list)  # (council, reason, detail)
    asked: list[str] = field(default_factory=list)  # council codes
    answered: list[str] = field(default_factory=list)
    alerts_delivered: int = 0
    elapsed_s: float = 0.0  # from the start of `send` to every answer opened

    @property
    def councils_asked(self) -> int:
        return len(self.asked)

    @property
    def councils_answered(self) -> int:
        return len(self.answered)


def evaluator(
    stub: federation_pb2_grpc.DirectoryStub, key_id: str, timeout: float = 10.0
) -> Callable[[list[bytes]], tuple[list[bytes], bytes]]:
    """Directory.EvaluateTokens as the protocol library's evaluator (blinded points only leave)."""

    def evaluate(blinded: list[bytes]) -> tuple[list[bytes], bytes]:
        try:
            reply = stub.EvaluateTokens(
                federation_pb2.TokenRequest(blinded=blinded, key_id=key_id), timeout=timeout
            )
        except grpc.RpcError as exc:
            raise _rpc_error("token service", exc) from exc
        return list(reply.evaluated), reply.proof

    return evaluate


def _rpc_error(what: str, exc: grpc.RpcError) -> WhoElseError:
    code, detail = call_status(exc)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable(f"directory unreachable ({what}): {detail}")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return Unavailable(f"directory {what} is rate-limiting this council: {detail}")
    return Refused(f"directory refused ({what}): {detail}")


class FederatedSearch:
    def __init__(
        self,
        settings: NodeSettings,
        councils: CouncilListCache,
        directory: federation_pb2_grpc.DirectoryStub,
        fetch_council_list: Callable[[int], federation_pb2.SignedCouncilList],
        *,
        deadline_ms: int = 5000,
    ) -> None:
        self._fetch = fetch_council_list
        self._settings = settings
        self._councils = councils
        self._directory = directory
        self._deadline_ms = deadline_ms
        self._lookup = council_lookup(councils)

    def _council_list(self) -> CouncilList:
        """The cached, directory-signed list (the node's upkeep refreshes it every few seconds); fetched
        here only when the node has none yet."""
        current = self._councils.current
        if current is not None:
            return current
        try:
            return self._councils.refresh(self._fetch)
        except WhoElseError:
            return self._councils.require()

    def send(
        self,
        who: Searcher,
        identity: Identity,
        purpose: Purpose,
        *,
        event: federation_pb2.AlertEvent | None = None,
        only: Collection[str] | None = None,
    ) -> Outcome:
        """Ask every active council (or, with `only`, those of them named: an alert's retry)."""
        started = time.perf_counter()
        councils = self._council_list()
        keys = sorted(match_keys(identity), key=lambda k: k.encode())
        if not keys:
            raise InvalidInput("search: not enough detail to search on")
        tokens = tokenise(
            keys,
            evaluator(self._directory, councils.oprf_key_id),
            councils.oprf_public_key,
            councils.oprf_key_id,
            pad_to=search_padding(len(keys)),  # 24 elements for nearly every search, whatever was given
        )
        now_ms = int(time.time() * 1000)
        # This query's answers are sealed to a key made for it alone and dropped when this call returns, so
        # a later theft of this council's static keys opens no recorded answer (forward secrecy).
        answer_key = SealingKey.generate()
        query = build_query(
            origin=self._settings.council.code,
            practitioner=who.username,
            practitioner_name=who.name,
            practitioner_role=who.role,
            purpose=purpose,
            identity=pb.SearchIdentity(
                forename=identity.forename,
                surname=identity.surname,
                date_of_birth=identity.born.isoformat() if identity.born else "",
                **closed_sets.SEX.fields(identity.sex),
                postcode=identity.postcode,
                nhs_number=identity.nhs_number,
            ),
            tokens=tokens,
            key_id=councils.oprf_key_id,
            kind=KIND_NOTIFICATION if event is not None else KIND_SEARCH,
            event=event,
            now_ms=now_ms,
            answer_key=answer_key.public_key_bytes,
        )
        signed = sign_query(query, self._settings.signing_key)
        recipients = [(c.code, c.sealing_key) for c in councils.active() if only is None or c.code in only]
        gone = sorted(set(only or ()) - {code for code, _ in recipients})
        if not recipients:
            return Outcome(query.query_id, unanswered=[(c, "unavailable", NOT_LISTED) for c in gone])
        routed = federation_pb2.RoutedQuery(
            query_id=query.query_id,
            origin=query.origin,
            **closed_sets.PURPOSE.fields(closed_sets.PURPOSE.read(query)),
            issued_at_ms=query.issued_at_ms,
            deadline_ms=self._deadline_ms,
            deliveries=seal_deliveries(signed, recipients),
        )
        try:
            reply = self._directory.Route(routed, timeout=self._deadline_ms / 1000 + ROUTE_SLACK_S)
        except grpc.RpcError as exc:
            raise _rpc_error("route", exc) from exc
        outcome = Outcome(query_id=query.query_id, asked=[code for code, _ in recipients])
        outcome.unanswered += [(code, "unavailable", NOT_LISTED) for code in gone]
        answered: set[str] = set()
        for sealed in reply.answers:
            try:
                answer = open_answer(
                    sealed, self._settings.sealing_key, answer_key, query.query_id, self._lookup
                )
            except WhoElseError as exc:
                outcome.unanswered.append((sealed.responder, "refused", f"answer rejected: {exc}"))
                continue
            answered.add(answer.responder)
            outcome.alerts_delivered += answer.alerts_delivered
            if answer.candidates:
                outcome.results[answer.responder] = list(answer.candidates)
        for missing in reply.unanswered:
            outcome.unanswered.append(
                (missing.council, closed_sets.UNANSWERED_REASON.read(missing), missing.detail)
            )
        named = answered | {u[0] for u in outcome.unanswered}
        for code, _ in recipients:
            if code not in named:  # never silently incomplete
                outcome.unanswered.append((code, "unavailable", "the directory returned nothing for it"))
        outcome.answered = sorted(answered)
        outcome.elapsed_s = time.perf_counter() - started
        return outcome
