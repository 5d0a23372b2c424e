"""The router: fans a sealed query out to every recipient council with a deadline, collects each sealed
answer, and names every council that did not answer and why. It never opens, stores or logs a sealed
payload (P2); it logs only the routing metadata (directory/routing_log.py).

Calls go out concurrently on one asyncio loop over one cached mutual-TLS channel per node endpoint, so a
fan-out to 153 councils costs 153 in-flight calls on already-open connections, not 153 threads or handshakes.
Each non-answer is reported as
    "timeout"      the node did not answer within the deadline (DEADLINE_EXCEEDED),
    "unavailable"  the node could not be reached (UNAVAILABLE, connection refused or reset),
    "refused"      the node answered with any other error (its message is the detail), or the council is not
                   active ("council E06000001 is suspended").
A query to a council the directory never registered, or larger than the bounds below, is refused whole
(INVALID_ARGUMENT) before it is logged or sent.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc

from whoelse.directory.registry import Registry, Snapshot, denial, now_ms
from whoelse.directory.routing_log import RoutingEntry, RoutingLog
from whoelse.federation import closed_sets
from whoelse.federation.errors import InvalidInput, PermissionDenied
from whoelse.federation.purposes import parse_purpose
from whoelse.federation.status import call_status
from whoelse.federation.transport import CHANNEL_OPTIONS, MtlsIdentity, channel_credentials
from whoelse.v1 import federation_pb2, federation_pb2_grpc

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_MS = 5_000
MAX_DEADLINE_MS = 30_000
MAX_DELIVERIES = 200
MAX_SEALED_BYTES = 256 * 1024  # one council's sealed answer
# A sealed query to one council is padded to 16 KiB (federation/query.py QUERY_BUCKETS; the largest bucket is
# MAX_DELIVERY_BYTES) and a search to all 153 is about 2.5 MB; these bounds leave room and refuse, before
# anything is logged or sent, a query built to fill the directory's log or links.
MAX_DELIVERY_BYTES = 64 * 1024
MAX_ROUTED_BYTES = 4 * 1024 * 1024
MAX_QUERY_ID = 64
_REPLY_MARGIN_S = 0.05  # time kept back from the caller's own deadline to send the answers home
_MAX_DETAIL = 300

TIMEOUT, UNAVAILABLE, REFUSED = "timeout", "unavailable", "refused"


class _Unreachable(grpc.RpcError):  # type: ignore[misc]  # grpc ships no type stubs
    """A delivery that failed before reaching gRPC (reported like an unavailable node)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self._what = what

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return self._what


class NodeChannels:
    """One mutual-TLS grpc.aio channel per node endpoint, opened on first use and kept (gRPC reconnects by
    itself), all driven by one event loop thread: a fan-out is N awaited calls, with no thread or callback
    per call."""

    def __init__(self, identity: MtlsIdentity) -> None:
        self._identity = identity
        self._stubs: dict[str, federation_pb2_grpc.FederationNodeStub] = {}
        self._channels: list[grpc.aio.Channel] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="router", daemon=True)
        self._thread.start()

    def _stub(self, endpoint: str) -> federation_pb2_grpc.FederationNodeStub:
        stub = self._stubs.get(endpoint)  # only touched on the loop's thread
        if stub is None:
            channel = grpc.aio.secure_channel(
                endpoint, channel_credentials(self._identity), options=list(CHANNEL_OPTIONS)
            )
            self._channels.append(channel)
            stub = self._stubs[endpoint] = federation_pb2_grpc.FederationNodeStub(channel)
        return stub

    async def _deliver_all(
        self, targets: Sequence[tuple[federation_pb2.Delivery, str]], deadline_s: float
    ) -> list[federation_pb2.SealedAnswer | grpc.RpcError]:
        async def one(
            delivery: federation_pb2.Delivery, endpoint: str
        ) -> federation_pb2.SealedAnswer | grpc.RpcError:
            try:
                answer: federation_pb2.SealedAnswer = await self._stub(endpoint).Deliver(
                    delivery, timeout=deadline_s
                )
                return answer
            except grpc.RpcError as error:
                return error
            except (
                Exception
            ) as error:  # e.g. an endpoint gRPC cannot parse: that council alone is unreachable
                log.warning("delivery to %s failed: %s", delivery.recipient, type(error).__name__)
                return _Unreachable(type(error).__name__)

        return list(await asyncio.gather(*(one(d, e) for d, e in targets)))

    def deliver_all(
        self, targets: Sequence[tuple[federation_pb2.Delivery, str]], deadline_s: float
    ) -> list[federation_pb2.SealedAnswer | grpc.RpcError]:
        """Send every delivery at once; each result is the answer or the call's error, in order."""
        future = asyncio.run_coroutine_threadsafe(self._deliver_all(targets, deadline_s), self._loop)
        # Each call carries the deadline itself; the extra second only guards against a lost completion.
        try:
            return future.result(timeout=deadline_s + 1.0)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        async def close_all() -> None:
            for channel in self._channels:
                await channel.close()
            self._channels.clear()
            self._stubs.clear()

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)


@dataclass(frozen=True, slots=True)
class _Unanswered:
    council: str
    reason: str
    detail: str

    def to_proto(self) -> federation_pb2.Unanswered:
        return federation_pb2.Unanswered(
            council=self.council, **closed_sets.UNANSWERED_REASON.fields(self.reason), detail=self.detail
        )


def _validate(query: federation_pb2.RoutedQuery, snapshot: Snapshot) -> None:
    """InvalidInput naming the first thing wrong with a routed query's envelope. A recipient the directory
    has never registered is an error (the origin's signed list names only registered councils), not a
    council that failed to answer."""
    if not 1 <= len(query.query_id) <= MAX_QUERY_ID:
        raise InvalidInput(f"query_id must be 1-{MAX_QUERY_ID} characters")
    parse_purpose(closed_sets.PURPOSE.read(query), allow_notification=True)
    if not query.deliveries:
        raise InvalidInput("a routed query needs at least one delivery")
    if len(query.deliveries) > MAX_DELIVERIES:
        raise InvalidInput(
            f"a routed query holds at most {MAX_DELIVERIES} deliveries, got {len(query.deliveries)}"
        )
    size = query.ByteSize()
    if size > MAX_ROUTED_BYTES:
        raise InvalidInput(f"a routed query is at most {MAX_ROUTED_BYTES} bytes, got {size}")
    seen: set[str] = set()
    for delivery in query.deliveries:
        if delivery.recipient not in snapshot.councils:
            raise InvalidInput(f"council {delivery.recipient[:20]!r} is not registered with the directory")
        if len(delivery.sealed) > MAX_DELIVERY_BYTES:
            raise InvalidInput(
                f"the delivery to {delivery.recipient[:20]} is {len(delivery.sealed)} bytes; "
                f"at most {MAX_DELIVERY_BYTES} allowed"
            )
        if delivery.query_id != query.query_id or delivery.origin != query.origin:
            raise InvalidInput(f"the delivery to {delivery.recipient[:20]} names another query or origin")
        if delivery.recipient in seen:
            raise InvalidInput(f"council {delivery.recipient[:20]} appears twice among the deliveries")
        seen.add(delivery.recipient)


def _classify(error: grpc.RpcError) -> _Unanswered:
    status, details = call_status(error)
    code = status or grpc.StatusCode.UNKNOWN
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return _Unanswered("", TIMEOUT, "no answer within the deadline")
    if code == grpc.StatusCode.UNAVAILABLE:
        return _Unanswered("", UNAVAILABLE, "the council's node could not be reached")
    return _Unanswered("", REFUSED, f"{code.name}: {details[:_MAX_DETAIL]}")


class Router:
    """Routes a RoutedQuery from an authenticated origin to its recipients and collects the answers."""

    def __init__(
        self,
        registry: Registry,
        channels: NodeChannels,
        routing_log: RoutingLog,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._registry = registry
        self._channels = channels
        self._log = routing_log
        self._clock = clock

    def route(
        self, caller: str, query: federation_pb2.RoutedQuery, time_remaining_s: float | None = None
    ) -> federation_pb2.RoutedAnswers:
        """Check the caller is the active origin, validate the envelope, fan out, log, and answer.

        caller is the common name of the caller's verified certificate; time_remaining_s is the caller's own
        gRPC deadline, which caps the fan-out deadline so the answers get home in time."""
        if caller != query.origin:
            raise PermissionDenied(
                f"council {caller} may route only its own queries, not one from {query.origin[:20]!r}"
            )
        snapshot = self._registry.snapshot()
        snapshot.require_active(caller)
        _validate(query, snapshot)
        deadline_s = min(query.deadline_ms or DEFAULT_DEADLINE_MS, MAX_DEADLINE_MS) / 1000
        if time_remaining_s is not None:
            deadline_s = max(0.0, min(deadline_s, time_remaining_s - _REPLY_MARGIN_S))

        unanswered: list[_Unanswered] = []
        targets: list[tuple[federation_pb2.Delivery, str]] = []
        for delivery in query.deliveries:
            entry = snapshot.councils[delivery.recipient]
            if not entry.active:
                unanswered.append(_Unanswered(delivery.recipient, REFUSED, denial(delivery.recipient, entry)))
            else:
                targets.append((delivery, entry.endpoint))

        answers, silent = self._fan_out(query.query_id, targets, deadline_s)
        unanswered.extend(silent)
        self._log.record(
            RoutingEntry(
                query_id=query.query_id,
                origin=query.origin,
                purpose=closed_sets.PURPOSE.read(query),
                issued_at_ms=query.issued_at_ms,
                routed_at_ms=self._clock(),
                recipients=len(query.deliveries),
                answered=tuple(sorted(answer.responder for answer in answers)),
                unanswered=tuple(sorted((u.council, u.reason) for u in unanswered)),
            )
        )
        return federation_pb2.RoutedAnswers(
            answers=answers, unanswered=[u.to_proto() for u in sorted(unanswered, key=lambda u: u.council)]
        )

    def _fan_out(
        self, query_id: str, targets: Sequence[tuple[federation_pb2.Delivery, str]], deadline_s: float
    ) -> tuple[list[federation_pb2.SealedAnswer], list[_Unanswered]]:
        if not targets:
            return [], []
        try:
            results = self._channels.deliver_all(targets, deadline_s)
        except TimeoutError:
            return [], [
                _Unanswered(d.recipient, TIMEOUT, "no answer within the deadline") for d, _ in targets
            ]
        answers: list[federation_pb2.SealedAnswer] = []
        silent: list[_Unanswered] = []
        for (delivery, _), result in zip(targets, results, strict=True):
            council = delivery.recipient
            if isinstance(result, grpc.RpcError):
                problem = _classify(result)
                silent.append(_Unanswered(council, problem.reason, problem.detail))
            elif result.query_id != query_id or result.responder != council:
                silent.append(
                    _Unanswered(council, REFUSED, "the node's answer names another query or council")
                )
            elif len(result.sealed) > MAX_SEALED_BYTES:
                silent.append(_Unanswered(council, REFUSED, "the node's answer is larger than allowed"))
            else:
                answers.append(result)
        return answers, silent
