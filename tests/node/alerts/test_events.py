"""What practitioners at other councils are told when a child's record changes here, and what never."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from tests.node.records_factory import TODAY, camhs, child, shielded_child, social_worker
from whoelse.node.alerts.events import ChangeEvent, EventType, change_events, to_proto
from whoelse.node.disclosure import HoldingCouncil
from whoelse.node.records import Address, CauseForConcern, ChildRecord, Involvement, ServiceType, Shielding

LEEDS = HoldingCouncil("E08000035", "Leeds", "Leeds records team, 0113 496 0999")
NEW_HOME = Address(line1="4 Quarry Rise", town="Otley", postcode="LS21 3JP")


def health_visitor(**changes: object) -> Involvement:
    base = Involvement(
        practitioner="Jo Mensah",
        organisation="Leeds Community Healthcare",
        role="Health visitor",
        contact="0113 496 0300",
        service_type=ServiceType.HEALTH_VISITING,
        start_date=dt.date(2026, 11, 20),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def substance_misuse() -> Involvement:
    return replace(
        camhs(),
        practitioner="Lee Carter",
        organisation="Forward Leeds",
        role="Substance misuse worker",
        contact="0113 496 0400",
        service_type=ServiceType.SUBSTANCE_MISUSE,
    )


def with_involvement(record: ChildRecord, involvement: Involvement) -> ChildRecord:
    return replace(record, involvements=(*record.involvements, involvement))


def everything_said(events: list[ChangeEvent]) -> str:
    """All a receiving council gets: the serialised wire messages."""
    return "\n".join(str(to_proto(e, LEEDS)) for e in events)


# --- ordinary records --------------------------------------------------------------------------------------


def test_a_new_practitioner_is_announced_with_role_organisation_and_contact() -> None:
    old = child()
    events = change_events(old, with_involvement(old, health_visitor()), LEEDS, TODAY)
    assert events == [
        ChangeEvent(
            EventType.NEW_INVOLVEMENT,
            dt.date(2026, 11, 20),
            "A health visitor at Leeds Community Healthcare became involved",
            "Jo Mensah, 0113 496 0300",
        )
    ]


def test_roles_read_as_english() -> None:
    old = child()
    ewo = health_visitor(role="Education welfare officer", service_type=ServiceType.EDUCATION_WELFARE)
    gp = health_visitor(practitioner="Dr Ng", role="GP", service_type=ServiceType.PAEDIATRICS)
    summaries = [e.summary for e in change_events(old, replace(old, involvements=(ewo, gp)), LEEDS, TODAY)]
    assert summaries == [
        "An education welfare officer at Leeds Community Healthcare became involved",
        "A GP at Leeds Community Healthcare became involved",
    ]


def test_a_record_new_to_this_council_announces_its_current_involvements_and_concerns() -> None:
    ended = health_visitor(start_date=dt.date(2024, 1, 1), end_date=dt.date(2025, 1, 1))
    new = with_involvement(child(), ended)
    events = change_events(None, new, LEEDS, TODAY)
    assert [(e.event_type, e.summary, e.contact) for e in events] == [
        (
            "new_involvement",
            "A social worker at Leeds Children's Services became involved",
            "Sam Patel, 0113 496 0002",
        ),
        ("cause_for_concern", "A cause for concern was raised at Leeds", "Sam Patel, 0113 496 0002"),
    ]


def test_nothing_is_news_when_only_contacts_or_end_dates_change() -> None:
    old = child()
    new = replace(old, involvements=(social_worker(contact="0113 496 0777", end_date=dt.date(2027, 1, 1)),))
    assert change_events(old, new, LEEDS, TODAY) == []
    assert change_events(old, old, LEEDS, TODAY) == []


def test_an_involvement_that_has_ended_or_not_yet_started_is_not_announced() -> None:
    old = child()
    finished = health_visitor(start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 6, 1))
    future = health_visitor(start_date=TODAY + dt.timedelta(days=7))
    assert change_events(old, with_involvement(old, finished), LEEDS, TODAY) == []
    assert change_events(old, with_involvement(old, future), LEEDS, TODAY) == []


def test_a_new_concern_names_only_who_raised_it() -> None:
    old = child()
    concern = CauseForConcern("Mrs Hill (school nurse)", "0113 496 0500", dt.date(2026, 11, 21))
    events = change_events(old, replace(old, concerns=(*old.concerns, concern)), LEEDS, TODAY)
    assert events == [
        ChangeEvent(
            EventType.CAUSE_FOR_CONCERN,
            dt.date(2026, 11, 21),
            "A cause for concern was raised at Leeds",
            "Mrs Hill (school nurse), 0113 496 0500",
        )
    ]


def test_a_move_says_the_address_changed_but_never_where_to() -> None:
    old = child()
    events = change_events(old, replace(old, address=NEW_HOME), LEEDS, TODAY)
    assert events == [
        ChangeEvent(
            EventType.CHANGE_OF_ADDRESS,
            TODAY,
            "The child's address changed at Leeds",
            "Leeds records team, 0113 496 0999",
        )
    ]
    said = everything_said(events)
    for secret in ("LS21", "3JP", "Quarry", "Otley", "Mill Lane", "LS6"):
        assert secret not in said


def test_retyping_the_same_address_is_not_a_move() -> None:
    old = child()
    retyped = Address(line1="12  mill lane", town="LEEDS", postcode="ls62ab")
    assert change_events(old, replace(old, address=retyped), LEEDS, TODAY) == []


def test_a_record_past_retention_announces_nothing() -> None:
    adult = child(date_of_birth=dt.date(2007, 1, 1))
    assert change_events(None, adult, LEEDS, TODAY) == []
    assert change_events(adult, with_involvement(adult, health_visitor()), LEEDS, TODAY) == []


# --- sensitive services ------------------------------------------------------------------------------------


def test_a_sensitive_service_is_announced_only_by_the_fixed_phrase() -> None:
    old = child()
    events = change_events(old, with_involvement(old, camhs()), LEEDS, TODAY)
    assert events == [
        ChangeEvent(
            EventType.NEW_INVOLVEMENT,
            TODAY,
            "One or more specialist and targeted services have been recorded at Leeds",
            "Leeds records team, 0113 496 0999",
        )
    ]
    said = everything_said(events)
    for secret in ("CAMHS", "camhs", "Okafor", "psychologist", "0113 496 0100", "2026-03-01"):
        assert secret not in said


def test_a_further_sensitive_service_is_not_news_once_the_phrase_is_already_disclosed() -> None:
    old = with_involvement(child(), camhs())
    assert change_events(old, with_involvement(old, substance_misuse()), LEEDS, TODAY) == []


def test_a_new_record_with_two_sensitive_services_gives_one_phrase_and_no_names() -> None:
    new = replace(child(concerns=()), involvements=(social_worker(), camhs(), substance_misuse()))
    events = change_events(None, new, LEEDS, TODAY)
    assert [e.summary for e in events] == [
        "A social worker at Leeds Children's Services became involved",
        "One or more specialist and targeted services have been recorded at Leeds",
    ]
    said = everything_said(events)
    for secret in ("Forward Leeds", "Lee Carter", "Substance", "substance", "Okafor", "CAMHS"):
        assert secret not in said


# --- shielded records --------------------------------------------------------------------------------------


SHIELDED_SAYS = ("A change was recorded at Leeds", "Leeds records team, 0113 496 0999")


def test_a_shielded_childs_new_practitioner_is_only_a_change_to_ask_the_records_team_about() -> None:
    old = shielded_child()
    events = change_events(old, with_involvement(old, health_visitor()), LEEDS, TODAY)
    assert [(e.event_type, e.occurred_on, e.summary, e.contact) for e in events] == [
        ("new_involvement", TODAY, *SHIELDED_SAYS)
    ]
    said = everything_said(events)
    for secret in ("Mensah", "Community Healthcare", "visitor", "0113 496 0300"):
        assert secret not in said


def test_a_shielded_childs_concern_does_not_name_who_raised_it() -> None:
    old = shielded_child()
    concern = CauseForConcern("Mrs Hill, Hillside Primary", "0113 496 0500", dt.date(2026, 11, 21))
    events = change_events(old, replace(old, concerns=(*old.concerns, concern)), LEEDS, TODAY)
    assert [(e.event_type, e.summary, e.contact) for e in events] == [("cause_for_concern", *SHIELDED_SAYS)]
    assert "Hillside" not in everything_said(events)


def test_a_shielded_child_moving_is_never_announced() -> None:
    old = shielded_child()
    assert change_events(old, replace(old, address=NEW_HOME), LEEDS, TODAY) == []


def test_a_child_shielded_as_they_move_is_never_traced_to_the_new_address() -> None:
    old = child()
    shielding = Shielding("fled domestic abuse", "Records Team", TODAY)
    new_school_nurse = health_visitor(
        practitioner="Kim Ray", organisation="Otley School Nursing", role="School nurse"
    )
    new = replace(
        old, address=NEW_HOME, shielding=shielding, involvements=(social_worker(), new_school_nurse)
    )
    events = change_events(old, new, LEEDS, TODAY)
    assert [(e.event_type, e.summary, e.contact) for e in events] == [("new_involvement", *SHIELDED_SAYS)]
    said = everything_said(events)
    for secret in ("LS21", "Otley", "Quarry", "Kim Ray", "nurse", "address"):
        assert secret not in said


def test_several_changes_to_a_shielded_record_are_not_counted_out() -> None:
    old = shielded_child()
    new = replace(old, involvements=(*old.involvements, health_visitor(), camhs(), substance_misuse()))
    events = change_events(old, new, LEEDS, TODAY)
    assert [(e.event_type, e.summary) for e in events] == [("new_involvement", SHIELDED_SAYS[0])]
    assert "specialist" not in everything_said(events)


def test_the_wire_event_names_the_sending_council() -> None:
    old = child()
    (event,) = change_events(old, with_involvement(old, health_visitor()), LEEDS, TODAY)
    wire = to_proto(event, LEEDS)
    assert (wire.event_type, wire.occurred_on, wire.council_code, wire.council_name) == (
        "new_involvement",
        "2026-11-20",
        "E08000035",
        "Leeds",
    )
    assert (wire.summary, wire.contact) == (event.summary, event.contact)
