"""The wire's closed sets (proto/whoelse/v1/closed_sets.proto) and the WhoElse 0.1 strings they replace.

0.1 carried a search's purpose, a council's status, why a council did not answer, a child's sex and a
candidate's band as free strings. Each is now an enum in a field of its own, and the 0.1 string is kept
beside it under its old field number, renamed `legacy_<name>`:

- a writer sets both (`fields`, `set`), so a council, directory or client still on 0.1 reads what it
  always read;
- a reader takes the enum when it is one it knows, and otherwise the 0.1 string (`read`), so a message from a
  0.1 peer, or a value added after this release, still reads.

The domain keeps its own types (federation/purposes.py `Purpose`, directory/registry.py `CouncilStatus`, the
"F"/"M"/"U" of a record); this module only moves their text to and from the wire. docs/wire-compatibility.md
says when the strings go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from whoelse.federation.errors import InvalidInput
from whoelse.v1 import closed_sets_pb2 as cs


@dataclass(frozen=True)
class ClosedSet:
    """One closed set: the domain's text for each value and the enum number that carries it."""

    name: str  # the field's usual name in messages (a message may name it differently: `read(field=…)`)
    numbers: Mapping[str, int]
    texts: Mapping[int, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "texts", {number: text for text, number in self.numbers.items()})

    def fields(self, text: str, field: str | None = None) -> dict[str, Any]:
        """Constructor arguments that carry text both ways: the enum, and the 0.1 string for 0.1 readers.

        Text outside the set goes as the string alone (enum unspecified): the receiver's own rule refuses it
        and says why, exactly as it refuses a 0.1 peer's, so no rule is checked in two places."""
        name = field or self.name
        return {name: self.numbers.get(text, 0), f"legacy_{name}": text}

    def set(self, message: Any, text: str, field: str | None = None) -> None:
        """Set both fields on an existing message (a repeated field's element, a nested message)."""
        for name, value in self.fields(text, field).items():
            setattr(message, name, value)

    def read(self, message: Any, field: str | None = None) -> str:
        """The domain text a message carries: the enum if it is one this release knows, otherwise the 0.1
        string exactly as sent (the caller's usual parser checks it); "" when neither is set. Refused, naming
        the field: a number this release does not know with no string beside it, and an enum and a string
        that disagree."""
        name = field or self.name
        number: int = getattr(message, name)
        legacy: str = getattr(message, f"legacy_{name}")
        if number in self.texts:
            text = self.texts[number]
            if (
                legacy and legacy != text
            ):  # one message must not say one thing to 0.1 readers and another here
                raise InvalidInput(f"{name}: the enum says {text!r} and the 0.1 string {legacy[:40]!r}")
            return text
        if number and not legacy:
            raise InvalidInput(f"{name}: {number} is not a value this release knows")
        return legacy


PURPOSE = ClosedSet(
    "purpose",
    {
        "safeguarding": cs.PURPOSE_SAFEGUARDING,
        "child_in_need": cs.PURPOSE_CHILD_IN_NEED,
        "early_help": cs.PURPOSE_EARLY_HELP,
        "education": cs.PURPOSE_EDUCATION,
        "health": cs.PURPOSE_HEALTH,
        "youth_justice": cs.PURPOSE_YOUTH_JUSTICE,
        "care_planning": cs.PURPOSE_CARE_PLANNING,
        "notification": cs.PURPOSE_NOTIFICATION,
    },
)
COUNCIL_STATUS = ClosedSet(
    "status",
    {
        "pending": cs.COUNCIL_STATUS_PENDING,
        "active": cs.COUNCIL_STATUS_ACTIVE,
        "suspended": cs.COUNCIL_STATUS_SUSPENDED,
        "revoked": cs.COUNCIL_STATUS_REVOKED,
    },
)
UNANSWERED_REASON = ClosedSet(
    "reason",
    {
        "timeout": cs.UNANSWERED_REASON_TIMEOUT,
        "unavailable": cs.UNANSWERED_REASON_UNAVAILABLE,
        "refused": cs.UNANSWERED_REASON_REFUSED,
    },
)
SEX = ClosedSet("sex", {"F": cs.SEX_FEMALE, "M": cs.SEX_MALE, "U": cs.SEX_NOT_KNOWN})
BAND = ClosedSet("band", {"match": cs.BAND_MATCH, "possible": cs.BAND_POSSIBLE, "referral": cs.BAND_REFERRAL})
