"""The records team's pages: practitioners (add or reset with a one-time hand-over, change details and the
records team's role, suspend, reinstate, end, unlock),
shielding a record, subject access reports, imports and retention, and the audit log's signed head.

Views are thin: parse the form, call node/portal/records_team.py (which authorises the session as a member of
the records team before anything else), render a template. A child's record ID travels only in POST bodies
and the server-side session, never in a URL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

import segno
from flask import Blueprint, Response, redirect, request, session, url_for
from flask_wtf import FlaskForm
from markupsafe import Markup

from whoelse.federation.errors import InvalidInput, NotFound, PermissionDenied, StaleVersion, Unauthenticated
from whoelse.node.portal import results
from whoelse.node.portal.records_team import Handover, RecordsTeam
from whoelse.node.portal.records_team_forms import (
    DATE_QUESTIONS,
    AccountForm,
    AddPractitionerForm,
    ChangePractitionerForm,
    RecordForm,
    ResetForm,
    ShieldingForm,
    SubjectAccessForm,
    field_for,
)
from whoelse.node.portal.views import _sentence, _sign_out, error_list, page, portal, signed_in_only
from whoelse.node.subject_access import FIELDS, PURPOSES, SENSITIVE_SERVICES

desk = Blueprint("desk", __name__, url_prefix="/records-team")
RECORDS_TEAM_ONLY = "This page is for the council's records team. Ask them if you need something changed."
DONE = {"suspend": "suspended", "reinstate": "reinstated", "end": "ended", "unlock": "unlocked"}
F = TypeVar("F", bound=Callable[..., Any])


def _desk() -> RecordsTeam | None:
    found = portal().records_team
    return found if found is not None and session.get("records_team") else None


def _refused() -> Any:
    return page("error.html", 403, heading="You cannot use this page", message=RECORDS_TEAM_ONLY)


def records_team_only(view: F) -> F:
    """Signed in, and one of the records team; the node checks the role again on every call."""

    @functools.wraps(view)
    @signed_in_only
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        team = _desk()
        if team is None:
            return _refused()
        try:
            return view(team, str(session["token"]), *args, **kwargs)
        except Unauthenticated:
            return _sign_out("ended")
        except PermissionDenied:
            return _refused()

    return wrapper  # type: ignore[return-value]


def _go_back() -> Any:
    """A form that only the portal's own pages send (hidden fields), sent broken or tampered with."""
    return page("error.html", 400, heading="That did not work", message="Go back and try again.")


def _put_beside(form: FlaskForm, exc: Exception, general: list[str]) -> None:
    name, message = field_for(str(exc), form)
    if name is None:
        general.append(_sentence(message))
    else:
        form[name].errors = [*form[name].errors, message.rstrip(".")]


# --- the records team's home: accounts and the audit log


@desk.get("")
@records_team_only
def home(team: RecordsTeam, token: str) -> Any:
    accounts = team.practitioners(token)
    head, report = team.audit_status(token)
    rows = [results.account(p, locked) for p, locked in accounts]
    done = session.pop("records_team_done", "")
    return page(
        "records_team.html",
        accounts=rows,
        head=results.tree_head(head),
        report=report,
        done=done,
        record_form=RecordForm(formdata=None),
    )


@desk.post("/account")
@records_team_only
def account(team: RecordsTeam, token: str) -> Any:
    form = AccountForm()
    if not form.validate_on_submit():
        return _go_back()
    username, action = str(form.username.data), str(form.action.data)
    reason = (form.reason.data or "").strip()
    asking = bool(request.form.get("start"))
    if action in ("suspend", "end") and (asking or (action == "suspend" and not reason)):
        # suspending needs a reason; ending, a confirmation page (it cannot be undone)
        if not asking:
            form.reason.errors = ["Say why you are suspending this account"]
        errors = error_list(form)
        return page("account_change.html", 400 if errors else 200, form=form, action=action, errors=errors)
    try:
        team.change_account(token, username, action, reason)
    except (InvalidInput, NotFound) as exc:
        return page("error.html", 400, heading="That did not work", message=_sentence(str(exc)))
    session["records_team_done"] = f"{username} has been {DONE[action]}."
    return redirect(url_for("desk.home"))


@desk.route("/practitioners/add", methods=["GET", "POST"])
@records_team_only
def add_practitioner(team: RecordsTeam, token: str) -> Any:
    form = AddPractitionerForm()
    general: list[str] = []
    status = 200
    if form.validate_on_submit():
        username = (form.username.data or "").strip()
        try:
            handover = team.add_practitioner(token, username=username, **form.facts())
        except InvalidInput as exc:
            _put_beside(form, exc, general)
            status = 400
        else:
            return _handover(handover, reset=False)
    elif form.is_submitted():
        status = 400
    return page(
        "add_practitioner.html",
        status,
        form=form,
        errors=error_list(form, general),
        date_questions=DATE_QUESTIONS,
    )


def _handover(handover: Handover, *, reset: bool) -> Any:
    """The one-time page with an account's new secrets. Answered on the POST that made them, never after a
    redirect: the secrets are on this response (no-store) only."""
    p = handover.practitioner
    qr = segno.make(handover.totp.uri, error="m").svg_inline(
        scale=4, title=f"QR code for {p.username}'s authenticator app", svgclass="portal-qr"
    )
    return page("handover.html", handover=handover, qr=Markup(qr), reset=reset)


@desk.post("/practitioners/change")
@records_team_only
def change_practitioner(team: RecordsTeam, token: str) -> Any:
    """From the accounts table (`start`): the account's details to change; then: the changes, saved."""
    form = ChangePractitionerForm()
    try:
        current = team.practitioner(token, str(form.username.data or ""))
    except NotFound:
        return _go_back()
    general: list[str] = []
    status = 200
    if request.form.get("start"):
        form = ChangePractitionerForm(formdata=None)
        form.fill(current)
    elif form.validate_on_submit():
        changes = form.changes(current)
        try:
            if changes:
                team.update_practitioner(token, current.username, **changes)
        except InvalidInput as exc:
            _put_beside(form, exc, general)
            status = 400
        else:
            what = "saved" if changes else "unchanged: nothing was different"
            session["records_team_done"] = f"{current.username}'s details {what}."
            return redirect(url_for("desk.home"))
    else:
        status = 400
    return page(
        "change_practitioner.html",
        status,
        form=form,
        errors=error_list(form, general),
        date_questions=DATE_QUESTIONS,
    )


@desk.post("/practitioners/reset")
@records_team_only
def reset_practitioner(team: RecordsTeam, token: str) -> Any:
    """From the accounts table: a page that says what a reset does; confirmed: the new secrets, once."""
    form = ResetForm()
    if not form.validate_on_submit():
        return _go_back()
    if form.confirm.data != "yes":
        return page("reset_practitioner.html", form=form)
    try:
        handover = team.reset_credentials(token, str(form.username.data))
    except (InvalidInput, NotFound) as exc:
        return page("error.html", 400, heading="That did not work", message=_sentence(str(exc)))
    return _handover(handover, reset=True)


# --- a child's record: shielding and subject access


@desk.route("/record", methods=["GET", "POST"])
@records_team_only
def record(team: RecordsTeam, token: str) -> Any:
    """POST: find a record by its ID (then show it, or its subject access report); GET: the record found
    last in this session, with the banner of what was just done to it."""
    if request.method == "POST":
        form = RecordForm()
        if form.validate_on_submit():
            record_id = str(form.record_id.data).strip()
            try:
                if form.action.data == "subject-access":
                    return _subject_access_page(team, token, record_id)
                team.find_record(token, record_id)
            except NotFound as exc:
                if form.action.data == "subject-access":  # a purged record's history is still reported
                    council = portal().config.council_name
                    form.record_id.errors = [f"{council} holds no such record, and no audit entry names it"]
                else:
                    _put_beside(form, exc, [])
            else:
                session["desk_record"] = record_id
                return redirect(url_for("desk.record"))
        return page("record_lookup.html", 400, form=form, errors=error_list(form))
    record_id = str(session.get("desk_record", ""))
    if not record_id:
        return page("record_lookup.html", form=RecordForm(formdata=None), errors=[])
    try:
        held = team.find_record(token, record_id)
    except NotFound:
        session.pop("desk_record", None)
        return page("record_lookup.html", form=RecordForm(formdata=None), errors=[])
    done = session.pop("records_team_done", "")
    return page("record.html", held=held, form=ShieldingForm(formdata=None), errors=[], done=done)


@desk.post("/record/shielding")
@records_team_only
def shielding(team: RecordsTeam, token: str) -> Any:
    form = ShieldingForm()
    general: list[str] = []
    if form.validate_on_submit():
        record_id, action = str(form.record_id.data), str(form.action.data)
        reason = (form.reason.data or "").strip()
        try:
            change = team.shield if action == "shield" else team.unshield
            change(token, record_id, int(str(form.version.data)), reason)
        except StaleVersion:
            general.append(
                "This record was changed while you were looking at it. Check it again below, then try again."
            )
        except (InvalidInput, NotFound) as exc:
            _put_beside(form, exc, general)
        else:
            session["desk_record"] = record_id
            done = "shielded" if action == "shield" else "no longer shielded"
            session["records_team_done"] = f"Record {record_id} is {done}."
            return redirect(url_for("desk.record"))
    elif "reason" in form.errors:
        form.reason.errors = [form.reason_missing() if e == "Say why" else e for e in form.reason.errors]
    try:
        held = team.find_record(token, str(form.record_id.data or ""))
    except NotFound:
        return page("record_lookup.html", 400, form=RecordForm(formdata=None), errors=[])
    form.version.data = str(held.version)
    return page("record.html", 400, held=held, form=form, errors=error_list(form, general), done="")


@desk.post("/subject-access")
@records_team_only
def subject_access(team: RecordsTeam, token: str) -> Any:
    form = SubjectAccessForm()
    if not form.validate_on_submit():
        return _go_back()
    record_id = str(form.record_id.data)
    if form.format.data == "json":
        try:
            report = team.subject_access(token, record_id)
        except NotFound as exc:
            return page("error.html", 404, heading="No such record", message=_sentence(str(exc)))
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", record_id)[:64]
        return Response(
            report.to_json(),
            mimetype="application/json",
            headers={"Content-Disposition": f'attachment; filename="subject-access-{safe}.json"'},
        )
    try:
        return _subject_access_page(team, token, record_id)
    except NotFound as exc:
        return page("error.html", 404, heading="No such record", message=_sentence(str(exc)))


def _subject_access_page(team: RecordsTeam, token: str, record_id: str) -> Any:
    """Raises NotFound when the council holds no such record and no audit entry names it."""
    report = team.subject_access(token, record_id)
    return page(
        "subject_access.html",
        report=report,
        purposes=PURPOSES,
        fields=FIELDS,
        services=SENSITIVE_SERVICES,
        form=SubjectAccessForm(formdata=None, record_id=record_id),
    )


# --- imports and retention


@desk.get("/imports")
@records_team_only
def imports(team: RecordsTeam, token: str) -> Any:
    runs = team.imports(token)
    return page("imports.html", runs=[results.import_run(r) for r in runs], retention=team.retention(token))
