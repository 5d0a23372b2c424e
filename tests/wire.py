"""Wire messages built from text, as the tests write them (enum values named as the domain names them)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from whoelse.federation import closed_sets
from whoelse.v1 import records_api_pb2 as ra
from whoelse.v1 import records_pb2 as pb


def search_identity(
    *,
    forename: str = "",
    surname: str = "",
    date_of_birth: str = "",
    sex: str = "",
    postcode: str = "",
    nhs_number: str = "",
) -> pb.SearchIdentity:
    """A SearchIdentity from the details a practitioner types, sex written F, M or U."""
    return pb.SearchIdentity(
        forename=forename,
        surname=surname,
        date_of_birth=date_of_birth,
        postcode=postcode,
        nhs_number=nhs_number,
        **closed_sets.SEX.fields(sex),
    )


def child_input(row: dict[str, Any]) -> ra.ChildInput:
    """An import-format row as the records API's ChildInput, as a case-management system would send it: the
    sex as the enum when it is one, and any other text as the 0.1 string (so the node's refusal names it)."""
    fields = dict(row)
    sex = fields.pop("sex", "")
    message = json_format.ParseDict(fields, ra.ChildInput())
    closed_sets.SEX.set(message, sex if isinstance(sex, str) else str(sex))
    return message
