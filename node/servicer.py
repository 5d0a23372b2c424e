"""The CouncilNode gRPC servicer: converts between protobuf and the domain, nothing more."""

from __future__ import annotations

import grpc

from whoelse.federation import closed_sets
from whoelse.federation.purposes import parse_purpose
from whoelse.federation.status import grpc_errors
from whoelse.node.local_search import local_search
from whoelse.node.settings import NodeSettings
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import count_records
from whoelse.node.wire import disclosure_to_pb, identity_from_pb
from whoelse.v1 import node_pb2, node_pb2_grpc
from whoelse.v1 import records_pb2 as pb


class CouncilNodeServicer(node_pb2_grpc.CouncilNodeServicer):
    def __init__(self, db: Database, settings: NodeSettings) -> None:
        self._db = db
        self._settings = settings

    @grpc_errors
    def LocalSearch(
        self, request: node_pb2.LocalSearchRequest, context: grpc.ServicerContext
    ) -> node_pb2.LocalSearchResponse:
        parse_purpose(closed_sets.PURPOSE.read(request))
        query = identity_from_pb(request.identity)
        found = local_search(self._db, self._settings, query, limit=request.max_results)
        return node_pb2.LocalSearchResponse(
            candidates=[
                pb.Candidate(
                    score=c.score,
                    **closed_sets.BAND.fields(c.band),
                    disclosure=disclosure_to_pb(c.disclosure),
                )
                for c in found
            ]
        )

    @grpc_errors
    def Describe(
        self, request: node_pb2.DescribeRequest, context: grpc.ServicerContext
    ) -> node_pb2.DescribeResponse:
        with self._db.session() as session:
            records = count_records(session)
        council = self._settings.council
        return node_pb2.DescribeResponse(
            council_code=council.code, council_name=council.name, records=records
        )
