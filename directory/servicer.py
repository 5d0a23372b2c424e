"""The Directory gRPC service: authenticates each caller by its mutual-TLS certificate, checks the council's
standing in the registry, and converts between protobuf and the registry, token service, router and tree-head
store. Domain errors become gRPC statuses in federation/status.py.

Who may call what (the caller is the common name of its verified certificate, and the certificate MUST be the
one the registry pinned for that council and not revoked; checked on every call before anything else):
    Join            any council, as itself (suspended and revoked councils are refused)
    GetCouncilList  active and pending councils (a pending node can see the list it is about to join), and
                    the auditor
    EvaluateTokens, Route, PublishTreeHead   active councils only
    GetTreeHeads    the federation's auditor certificate (CN "auditor"): every head; an active council: only
                    its own head and the routing log's (another council's head would show its log's growth)
"""

from __future__ import annotations

import logging
import threading
import time

import grpc

from whoelse.directory.metrics import DirectoryMetrics
from whoelse.directory.registry import Registry, denial
from whoelse.directory.router import Router
from whoelse.directory.routing_log import Cosignatures, RoutingLog
from whoelse.directory.token_service import RateLimited, TokenService
from whoelse.directory.tree_heads import TreeHeadStore
from whoelse.federation import closed_sets, logs
from whoelse.federation.council_list import CouncilStatus, sign
from whoelse.federation.errors import PermissionDenied
from whoelse.federation.merkle import SignedTreeHead
from whoelse.federation.signing import SigningKey
from whoelse.federation.status import grpc_errors
from whoelse.federation.transport import peer_council, peer_fingerprint
from whoelse.federation.tree_head_wire import head_from_wire, head_to_wire
from whoelse.v1 import federation_pb2, federation_pb2_grpc

AUDITOR_CN = "auditor"
log = logging.getLogger(__name__)


class DirectoryServicer(federation_pb2_grpc.DirectoryServicer):
    def __init__(
        self,
        registry: Registry,
        tokens: TokenService,
        router: Router,
        heads: TreeHeadStore,
        routing_log: RoutingLog,
        signing_key: SigningKey,
        metrics: DirectoryMetrics | None = None,
    ) -> None:
        self._metrics = metrics or DirectoryMetrics()
        self._registry = registry
        self._tokens = tokens
        self._router = router
        self._heads = heads
        self._routing_log = routing_log
        self._signing_key = signing_key
        self._signed: federation_pb2.SignedCouncilList | None = None
        self._signed_version = -1
        self._lock = threading.Lock()

    def _caller(self, context: grpc.ServicerContext) -> str:
        """The caller's common name, once its certificate is known to be the pinned, unrevoked one."""
        caller = peer_council(context)
        self._registry.check_certificate(caller, peer_fingerprint(context))
        return caller

    def _active_caller(self, context: grpc.ServicerContext) -> str:
        caller = self._caller(context)
        self._registry.require_active(caller)
        return caller

    @grpc_errors
    def Join(
        self, request: federation_pb2.JoinRequest, context: grpc.ServicerContext
    ) -> federation_pb2.JoinResponse:
        caller = self._caller(context)
        status = self._registry.join(
            caller,
            request.council_code,
            request.council_name,
            request.endpoint,
            bytes(request.signing_key),
            bytes(request.sealing_key),
            peer_fingerprint(context),
        )
        return federation_pb2.JoinResponse(**closed_sets.COUNCIL_STATUS.fields(status.value))

    @grpc_errors
    def GetCouncilList(
        self, request: federation_pb2.CouncilListRequest, context: grpc.ServicerContext
    ) -> federation_pb2.SignedCouncilList:
        caller = self._caller(context)
        entry = self._registry.get(caller)
        if caller == AUDITOR_CN:
            return self._signed_list()  # the auditor checks heads against the councils' listed keys
        if entry is None or entry.status not in (CouncilStatus.ACTIVE, CouncilStatus.PENDING):
            raise PermissionDenied(denial(caller, entry))
        return self._signed_list()

    def _signed_list(self) -> federation_pb2.SignedCouncilList:
        """Signed once per version: every caller of one version gets the same bytes (and, while the version
        is unchanged, the list is not even read again: every node asks every few seconds)."""
        version = self._registry.council_list_version()
        with self._lock:
            if self._signed is not None and self._signed_version == version:
                return self._signed
        council_list = self._registry.council_list()
        with self._lock:
            if self._signed is None or self._signed_version != council_list.version:
                self._signed = sign(council_list, self._signing_key)
                self._signed_version = council_list.version
            return self._signed

    @grpc_errors
    def EvaluateTokens(
        self, request: federation_pb2.TokenRequest, context: grpc.ServicerContext
    ) -> federation_pb2.TokenResponse:
        caller = self._active_caller(context)
        try:
            result = self._tokens.evaluate(caller, [bytes(b) for b in request.blinded], request.key_id)
        except RateLimited as exc:
            self._metrics.token_rate_limited.labels(caller).inc()
            # Not a WhoElseError that federation/status.py maps, so set the status here; the empty response
            # is discarded by gRPC because the status is not OK.
            context.set_trailing_metadata((("retry-after-ms", str(int(exc.retry_after_s * 1000))),))
            context.set_code(grpc.StatusCode.RESOURCE_EXHAUSTED)
            context.set_details(str(exc))
            return federation_pb2.TokenResponse()
        self._metrics.token_evaluations.labels(caller).inc(len(result.evaluated))
        return federation_pb2.TokenResponse(
            evaluated=result.evaluated, proof=result.proof, key_id=result.key_id
        )

    @grpc_errors
    def Route(
        self, request: federation_pb2.RoutedQuery, context: grpc.ServicerContext
    ) -> federation_pb2.RoutedAnswers:
        caller = self._caller(context)
        started = time.perf_counter()
        with logs.request(request.query_id[:64]):
            answers = self._router.route(caller, request, context.time_remaining())
            seconds = time.perf_counter() - started
            purpose = closed_sets.PURPOSE.read(request)
            self._metrics.routed(purpose, answers, seconds)
            log.info(
                "routed a %s query from %s: %d answered, %d did not, in %.0f ms",
                purpose[:40],
                caller,
                len(answers.answers),
                len(answers.unanswered),
                seconds * 1000,
            )
        return answers

    @grpc_errors
    def PublishTreeHead(
        self, request: federation_pb2.TreeHead, context: grpc.ServicerContext
    ) -> federation_pb2.PublishTreeHeadResponse:
        caller = self._caller(context)
        head = head_from_wire(request)
        self._heads.publish(caller, head, [bytes(h) for h in request.consistency_proof])
        return federation_pb2.PublishTreeHeadResponse(accepted=True)

    @grpc_errors
    def GetTreeHeads(
        self, request: federation_pb2.TreeHeadsRequest, context: grpc.ServicerContext
    ) -> federation_pb2.TreeHeadsResponse:
        caller = self._caller(context)
        heads = self._heads.history() if request.history else [(h, []) for h in self._heads.latest()]
        if caller != AUDITOR_CN:
            self._registry.require_active(caller)
            heads = [(h, proof) for h, proof in heads if h.log_id == caller]
        routing, proof = self._routing_log.head_since(request.routing_from_size)
        heads.append((routing, proof))
        response = federation_pb2.TreeHeadsResponse(heads=[head_to_wire(h, p) for h, p in heads])
        cosigned = self._routing_log.latest_cosigned()
        if cosigned is not None and cosigned[0].tree_size == routing.tree_size:
            newest = cosigned[1]  # the newest head is the largest co-signed one: its cosignatures, read once
        else:
            newest = self._routing_log.cosignatures(routing.tree_size)
        response.heads[-1].cosignatures.extend(_cosignatures(routing, newest))
        if cosigned is not None:
            head, signatures = cosigned
            response.cosigned_routing_head.CopyFrom(head_to_wire(head, []))
            response.cosigned_routing_head.cosignatures.extend(_cosignatures(head, signatures))
        return response

    @grpc_errors
    def CosignRoutingHead(
        self, request: federation_pb2.Cosignature, context: grpc.ServicerContext
    ) -> federation_pb2.CosignResponse:
        """A council vouches that a routing-log head extends the last one it witnessed (witness.py)."""
        caller = self._active_caller(context)
        witness_key = self._registry.require_active(caller).signing_key
        self._routing_log.cosign(
            caller, witness_key, request.tree_size, bytes(request.root_hash), bytes(request.signature)
        )
        return federation_pb2.CosignResponse(accepted=True)


def _cosignatures(head: SignedTreeHead, signatures: Cosignatures) -> list[federation_pb2.Cosignature]:
    return [
        federation_pb2.Cosignature(
            witness=witness, tree_size=head.tree_size, root_hash=head.root_hash, signature=signature
        )
        for witness, signature in signatures
    ]
