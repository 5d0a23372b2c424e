"""A practitioner's client for their home node: log in (password + TOTP), search, read and watch alerts.

Used by `whoelse search` and `whoelse alerts` until the web portal exists. The session token is cached
beside the federation file (mode 0600) so repeated commands do not re-use a TOTP code, which the node refuses.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pyotp

from whoelse.federation import closed_sets
from whoelse.federation.errors import InvalidInput, NotFound, Unauthenticated, Unavailable, WhoElseError
from whoelse.federation.status import STATUS, answered_by_server, call_status
from whoelse.v1 import practitioner_pb2 as pp
from whoelse.v1 import practitioner_pb2_grpc
from whoelse.v1 import records_pb2 as pb

REFERRAL_BAND = "referral"
"""A council holds a record sharing a single detail with the search: it discloses nothing and refers the
practitioner to its records team (node/federation/holder.py)."""


@dataclass(frozen=True)
class Account:
    council: str
    username: str
    password: str
    totp_secret: str
    endpoint: str  # host:port of the home node's practitioner service
    ca_file: Path


def load_account(federation_file: Path, username: str) -> Account:
    """The practitioner's account and home node from a demo's federation.json."""
    try:
        data = json.loads(federation_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{federation_file}: cannot read ({exc.strerror}); is the demo running?") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{federation_file}: not valid JSON") from exc
    councils = {c["code"]: c for c in data.get("councils", [])}
    for p in data.get("practitioners", []):
        if p["username"] == username:
            council = councils.get(p["council"])
            if council is None:
                raise InvalidInput(
                    f"{federation_file}: practitioner {username} names unknown council {p['council']}"
                )
            try:
                pyotp.TOTP(str(p["totp_secret"])).now()
            except (ValueError, binascii.Error):  # binascii.Error is a ValueError; named for the reader
                raise InvalidInput(
                    f"{federation_file}: practitioner {username}: totp_secret is not a base32 TOTP secret of "
                    "at least 112 bits"
                ) from None
            return Account(
                council=p["council"],
                username=username,
                password=p["password"],
                totp_secret=p["totp_secret"],
                endpoint=council["practitioner_endpoint"],
                ca_file=Path(data["ca_file"]),
            )
    raise NotFound(f"no practitioner {username!r} in {federation_file}")


def _error(exc: grpc.RpcError) -> WhoElseError:
    code, detail = call_status(exc)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        if answered_by_server(exc):  # the home node answered: something behind it is down
            return Unavailable(f"your council's node could not complete this: {detail}")
        return Unavailable(f"home node unreachable: {detail}")
    for kind, status in STATUS.items():
        if status == code:
            return kind(detail or status.name)
    return WhoElseError(detail or "request failed")


class PractitionerClient:
    def __init__(self, account: Account, session_file: Path | None = None) -> None:
        self.account = account
        credentials = grpc.ssl_channel_credentials(root_certificates=account.ca_file.read_bytes())
        self._channel = grpc.secure_channel(account.endpoint, credentials)
        self._stub = practitioner_pb2_grpc.PractitionerStub(self._channel)
        self._session_file = session_file
        self._token: str | None = None

    def close(self) -> None:
        self._channel.close()

    def _cached_token(self) -> str | None:
        if self._session_file and self._session_file.is_file():
            cached = json.loads(self._session_file.read_text(encoding="utf-8"))
            if cached.get("expires_at_ms", 0) > time.time() * 1000 + 60_000:
                return str(cached["token"])
        return None

    def login(self, *, fresh: bool = False) -> str:
        if not fresh and (token := self._token or self._cached_token()):
            self._token = token
            return token
        code = pyotp.TOTP(self.account.totp_secret).now()
        try:
            reply = self._stub.Login(
                pp.LoginRequest(
                    username=self.account.username, password=self.account.password, totp_code=code
                ),
                timeout=15,
            )
        except grpc.RpcError as exc:
            raise _error(exc) from exc
        self._token = reply.session_token
        if self._session_file:
            self._session_file.parent.mkdir(parents=True, exist_ok=True)
            self._session_file.touch(mode=0o600)
            self._session_file.write_text(
                json.dumps({"token": reply.session_token, "expires_at_ms": reply.expires_at_ms}),
                encoding="utf-8",
            )
        return str(reply.session_token)

    def _with_session(self, call: Any, build: Any, timeout: float) -> Any:
        for attempt in (0, 1):
            try:
                return call(build(self.login(fresh=attempt == 1)), timeout=timeout)
            except grpc.RpcError as exc:
                error = _error(exc)
                if isinstance(error, Unauthenticated) and attempt == 0 and "expired" in str(error).lower():
                    continue  # the cached session ended: log in again once
                raise error from exc
        raise Unauthenticated("could not log in")

    def search(self, identity: pb.SearchIdentity, purpose: str, timeout: float = 30) -> pp.SearchResponse:
        response: pp.SearchResponse = self._with_session(
            self._stub.Search,
            lambda token: pp.SearchRequest(
                session_token=token, identity=identity, **closed_sets.PURPOSE.fields(purpose)
            ),
            timeout,
        )
        return response

    def alerts(self, unread_only: bool = False) -> list[pp.Alert]:
        response: pp.ListAlertsResponse = self._with_session(
            self._stub.ListAlerts,
            lambda token: pp.ListAlertsRequest(session_token=token, unread_only=unread_only),
            15,
        )
        return list(response.alerts)

    def watch(self, timeout: float | None = None) -> Iterator[pp.Alert]:
        token = self.login()
        try:
            yield from self._stub.WatchAlerts(pp.WatchAlertsRequest(session_token=token), timeout=timeout)
        except grpc.RpcError as exc:
            if isinstance(exc, grpc.Call) and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return
            raise _error(exc) from exc


def _address(a: pb.Address) -> dict[str, str]:
    return {
        k: v
        for k, v in (("line1", a.line1), ("line2", a.line2), ("town", a.town), ("postcode", a.postcode))
        if v
    }


def _contactable(c: pb.Contactable) -> dict[str, str]:
    fields = (
        ("name", c.name),
        ("role", c.relationship_or_role),
        ("organisation", c.organisation),
        ("contact", c.contact),
    )
    return {k: v for k, v in fields if v}


def search_to_json(response: pp.SearchResponse) -> dict[str, Any]:
    """The `whoelse search --json` shape: query id, results (one per candidate), unanswered councils."""
    results = []
    for council in response.results:
        for c in council.candidates:
            d = c.disclosure
            band = closed_sets.BAND.read(c)
            if band == REFERRAL_BAND:  # one detail in common: no child data, ask the records team
                results.append(
                    {
                        "council": council.council_code,
                        "council_name": council.council_name,
                        "score": 0.0,
                        "band": REFERRAL_BAND,
                        "records_team_contact": d.records_team_contact,
                    }
                )
                continue
            results.append(
                {
                    "council": council.council_code,
                    "council_name": council.council_name,
                    "score": round(c.score, 2),
                    "band": band,
                    "record_id": d.record_id,
                    "child": {
                        "forename": d.forename,
                        "surname": d.surname,
                        **({"date_of_birth": d.date_of_birth} if d.date_of_birth else {}),
                        "sex": closed_sets.SEX.read(d),
                        **({"nhs_number": d.nhs_number} if d.nhs_number else {}),
                        **({"postcode": d.address.postcode} if d.HasField("address") else {}),
                    },
                    "shielded": d.shielded,
                    **({"records_team_contact": d.records_team_contact} if d.shielded else {}),
                    "involvements": [
                        {
                            "practitioner": i.practitioner,
                            "organisation": i.organisation,
                            "role": i.role,
                            "contact": i.contact,
                            "service_type": i.service_type,
                        }
                        for i in d.involvements
                    ],
                    "specialist_services_note": d.specialist_services_note,
                    "causes_for_concern": [
                        {"raised_by": k.raised_by, "contact": k.contact} for k in d.concerns
                    ],
                    **({"school": d.education.name} if d.HasField("education") else {}),
                    **({"gp": d.gp.name} if d.HasField("gp") else {}),
                    # Everything else the holding council disclosed, so the practitioner sees all that its
                    # subject access report says they were shown.
                    **({"address": _address(d.address)} if d.HasField("address") else {}),
                    **({"school_contact": _contactable(d.education)} if d.HasField("education") else {}),
                    **({"gp_contact": _contactable(d.gp)} if d.HasField("gp") else {}),
                    "carers": [_contactable(carer) for carer in d.carers],
                }
            )
    return {
        "query_id": response.query_id,
        "councils_asked": response.councils_asked,
        "councils_answered": response.councils_answered,
        "notes": list(response.notes),
        "results": results,
        "unanswered": [
            {
                "council": u.council_code,
                "council_name": u.council_name,
                "reason": closed_sets.UNANSWERED_REASON.read(u),
                "detail": u.detail,
            }
            for u in response.unanswered
        ],
    }
