"""The closed sets became enums without breaking a peer still on WhoElse 0.1.

The 0.1 contract (tests/assets/wire-0.1, the .proto files as released) is compiled here into a descriptor
pool of its own, so its messages are real 0.1 code: bytes a 0.1 council, directory or client writes are
read by this release with the same meaning, and bytes this release writes still carry, for a 0.1 reader,
the string it always read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_tools import protoc

from whoelse.federation import closed_sets
from whoelse.federation.closed_sets import ClosedSet
from whoelse.federation.errors import InvalidInput
from whoelse.federation.purposes import Purpose
from whoelse.v1 import closed_sets_pb2 as cs
from whoelse.v1 import federation_pb2, node_pb2, practitioner_pb2, records_api_pb2, records_pb2

OLD = Path(__file__).resolve().parents[1] / "assets" / "wire-0.1"

# Every message field that 0.1 carried as a string and this release as an enum, with a value to send.
CHANGED: list[tuple[Any, str, ClosedSet, str]] = [
    (federation_pb2.JoinResponse, "status", closed_sets.COUNCIL_STATUS, "pending"),
    (federation_pb2.CouncilEntry, "status", closed_sets.COUNCIL_STATUS, "suspended"),
    (federation_pb2.RoutedQuery, "purpose", closed_sets.PURPOSE, "child_in_need"),
    (federation_pb2.Query, "purpose", closed_sets.PURPOSE, "notification"),
    (federation_pb2.Unanswered, "reason", closed_sets.UNANSWERED_REASON, "timeout"),
    (node_pb2.LocalSearchRequest, "purpose", closed_sets.PURPOSE, "education"),
    (practitioner_pb2.SearchRequest, "purpose", closed_sets.PURPOSE, "youth_justice"),
    (practitioner_pb2.UnansweredCouncil, "reason", closed_sets.UNANSWERED_REASON, "refused"),
    (records_pb2.Disclosure, "sex", closed_sets.SEX, "F"),
    (records_pb2.SearchIdentity, "sex", closed_sets.SEX, "U"),
    (records_pb2.Candidate, "band", closed_sets.BAND, "referral"),
    (records_api_pb2.ChildInput, "sex", closed_sets.SEX, "M"),
]


EACH_CHANGED_FIELD = pytest.mark.parametrize(
    ("new", "field", "closed", "text"), CHANGED, ids=lambda v: getattr(v, "__name__", "")
)


@pytest.fixture(scope="module")
def old_message(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    """The 0.1 message class with a given full name (whoelse.v1.Query), from the 0.1 .proto files."""
    out = tmp_path_factory.mktemp("wire-0.1") / "contract.pb"
    sources = [str(p.relative_to(OLD)) for p in sorted((OLD / "whoelse" / "v1").glob("*.proto"))]
    assert (
        protoc.main(["protoc", f"-I{OLD}", "--include_imports", f"--descriptor_set_out={out}", *sources]) == 0
    )
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)

    def message(full_name: str) -> Any:
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))

    return message


@pytest.mark.parametrize(
    ("new", "field", "closed", "text"), CHANGED, ids=lambda v: getattr(v, "__name__", "")
)
def test_what_a_01_peer_writes_reads_the_same_here(
    old_message: Callable[[str], Any], new: Any, field: str, closed: ClosedSet, text: str
) -> None:
    old = old_message(new.DESCRIPTOR.full_name)(**{field: text})
    assert closed.read(new.FromString(old.SerializeToString()), field) == text


@pytest.mark.parametrize(
    ("new", "field", "closed", "text"), CHANGED, ids=lambda v: getattr(v, "__name__", "")
)
def test_what_this_release_writes_reads_the_same_to_a_01_peer(
    old_message: Callable[[str], Any], new: Any, field: str, closed: ClosedSet, text: str
) -> None:
    wire = new(**closed.fields(text, field)).SerializeToString()
    assert getattr(old_message(new.DESCRIPTOR.full_name).FromString(wire), field) == text
    assert closed.read(new.FromString(wire), field) == text


def test_every_changed_field_is_covered() -> None:
    """A new enum field in the contract needs a row above (and a 0.1 string beside it)."""
    enums = {d.full_name for d in cs.DESCRIPTOR.enum_types_by_name.values()}
    found = {
        (message.DESCRIPTOR.full_name, f.name)
        for module in (federation_pb2, node_pb2, practitioner_pb2, records_pb2, records_api_pb2)
        for message in _messages(module)
        for f in message.DESCRIPTOR.fields
        if f.enum_type is not None and f.enum_type.full_name in enums
    }
    assert found == {(new.DESCRIPTOR.full_name, field) for new, field, _, _ in CHANGED}


def _messages(module: Any) -> list[Any]:
    return [getattr(module, name) for name in module.DESCRIPTOR.message_types_by_name]


@pytest.mark.parametrize(
    ("closed", "enum", "domain"),
    [
        (closed_sets.PURPOSE, cs.Purpose, {p.value for p in Purpose}),
        (closed_sets.COUNCIL_STATUS, cs.CouncilStatus, {"pending", "active", "suspended", "revoked"}),
        (closed_sets.UNANSWERED_REASON, cs.UnansweredReason, {"timeout", "unavailable", "refused"}),
        (closed_sets.SEX, cs.Sex, {"F", "M", "U"}),
        (closed_sets.BAND, cs.Band, {"match", "possible", "referral"}),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_each_enum_names_exactly_the_domains_values(closed: ClosedSet, enum: Any, domain: set[str]) -> None:
    assert set(closed.numbers) == domain
    assert set(closed.numbers.values()) == {n for n in enum.values() if n != 0}


def test_an_enum_wins_over_nothing_and_a_string_over_an_unknown_number() -> None:
    assert closed_sets.PURPOSE.read(practitioner_pb2.SearchRequest()) == ""
    newer = practitioner_pb2.SearchRequest(purpose=42, legacy_purpose="safeguarding")  # type: ignore[arg-type]
    assert closed_sets.PURPOSE.read(newer) == "safeguarding"


def test_an_unknown_number_alone_and_a_disagreement_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="purpose: 42 is not a value this release knows"):
        closed_sets.PURPOSE.read(practitioner_pb2.SearchRequest(purpose=42))  # type: ignore[arg-type]
    split = practitioner_pb2.SearchRequest(purpose=cs.PURPOSE_HEALTH, legacy_purpose="safeguarding")
    with pytest.raises(
        InvalidInput, match=r"purpose: the enum says 'health' and the 0\.1 string 'safeguarding'"
    ):
        closed_sets.PURPOSE.read(split)


def test_text_outside_the_set_goes_as_the_string_for_the_receiver_to_refuse() -> None:
    assert closed_sets.SEX.fields("Q") == {"sex": 0, "legacy_sex": "Q"}
