"""The whoelse.v1.Records servicer: protobuf in, domain change out (node/records_api/service.py).

It identifies the calling system by its verified client certificate, turns each message into the import
row shape the validation reads, and maps domain errors to gRPC statuses (federation/status.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from whoelse.federation import closed_sets
from whoelse.federation.ca import fingerprint
from whoelse.federation.status import grpc_errors
from whoelse.federation.transport import peer_certificate_pem
from whoelse.node.records_api.service import Change, ChangeResult, InvolvementRef, RecordsService
from whoelse.node.records_api.systems import System, system_for
from whoelse.v1 import records_api_pb2 as ra
from whoelse.v1 import records_api_pb2_grpc


def _fields(message: Message) -> dict[str, Any]:
    """A message as an import row: field names as in docs/import-format.md, empty values left out."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _child(message: ra.ChildInput) -> dict[str, Any]:
    """The child as an import row, its sex written as an import writes it (F, M or U): from the enum, or
    from the string a 0.1 client sends (checked by the import's rules like any other field)."""
    row = _fields(message)
    row.pop("legacy_sex", None)
    row.pop("sex", None)
    sex = closed_sets.SEX.read(message)
    if sex:
        row["sex"] = sex
    return row


def _change(request: Any) -> Change:
    # What the change does, not the version it starts from: a retry that re-read the version (moved on by
    # its own first attempt, whose reply was lost) is still the same change.
    content = type(request)()
    content.CopyFrom(request)
    content.change.expected_version = 0
    digest = hashlib.sha256(content.SerializeToString(deterministic=True)).digest()
    return Change(request.change.change_id, request.change.expected_version, digest)


def _ref(message: ra.InvolvementRef) -> InvolvementRef:
    return InvolvementRef(message.practitioner, message.service_type, message.start_date)


def _reply(result: ChangeResult) -> ra.ChangeReply:
    return ra.ChangeReply(record_id=result.record_id, version=result.version, replayed=result.replayed)


class RecordsServicer(records_api_pb2_grpc.RecordsServicer):
    def __init__(self, service: RecordsService) -> None:
        self._service = service

    def _system(self, context: grpc.ServicerContext) -> System:
        pem = peer_certificate_pem(context)
        with self._service.db.session() as session:
            return system_for(session, fingerprint(pem) if pem else None)

    @grpc_errors
    def UpsertChild(self, request: ra.UpsertChildRequest, context: grpc.ServicerContext) -> ra.ChangeReply:
        system = self._system(context)
        return _reply(self._service.upsert_child(system, _change(request), _child(request.child)))

    @grpc_errors
    def AddInvolvement(
        self, request: ra.AddInvolvementRequest, context: grpc.ServicerContext
    ) -> ra.ChangeReply:
        system = self._system(context)
        involvement = _fields(request.involvement)
        return _reply(self._service.add_involvement(system, _change(request), request.record_id, involvement))

    @grpc_errors
    def EndInvolvement(
        self, request: ra.EndInvolvementRequest, context: grpc.ServicerContext
    ) -> ra.ChangeReply:
        system = self._system(context)
        ref = _ref(request.involvement)
        return _reply(
            self._service.end_involvement(system, _change(request), request.record_id, ref, request.end_date)
        )

    @grpc_errors
    def RaiseConcern(self, request: ra.RaiseConcernRequest, context: grpc.ServicerContext) -> ra.ChangeReply:
        system = self._system(context)
        concern = _fields(request.concern)
        return _reply(self._service.raise_concern(system, _change(request), request.record_id, concern))

    @grpc_errors
    def Shield(self, request: ra.ShieldRequest, context: grpc.ServicerContext) -> ra.ChangeReply:
        system = self._system(context)
        shielding = _fields(request.shielding)
        return _reply(self._service.shield(system, _change(request), request.record_id, shielding))

    @grpc_errors
    def Unshield(self, request: ra.UnshieldRequest, context: grpc.ServicerContext) -> ra.ChangeReply:
        system = self._system(context)
        change = _change(request)
        return _reply(
            self._service.unshield(system, change, request.record_id, request.reason, request.unshielded_by)
        )

    @grpc_errors
    def RecordConsent(
        self, request: ra.RecordConsentRequest, context: grpc.ServicerContext
    ) -> ra.ChangeReply:
        system = self._system(context)
        result = self._service.record_consent(
            system,
            _change(request),
            request.record_id,
            _ref(request.involvement),
            request.sensitive_basis,
            request.override_reason,
        )
        return _reply(result)

    @grpc_errors
    def GetVersion(self, request: ra.GetVersionRequest, context: grpc.ServicerContext) -> ra.VersionReply:
        self._system(context)
        return ra.VersionReply(record_id=request.record_id, version=self._service.version(request.record_id))
