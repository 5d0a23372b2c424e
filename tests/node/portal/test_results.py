"""The results page's model: records grouped by child, possible matches and referrals apart, silence named."""

from __future__ import annotations

from whoelse.federation import closed_sets
from whoelse.node.portal.results import group
from whoelse.v1 import practitioner_pb2 as pp
from whoelse.v1 import records_pb2 as pb


def _candidate(
    record_id: str, forename: str, surname: str, dob: str, band: str = "match", nhs_number: str = ""
) -> pb.Candidate:
    return pb.Candidate(
        score=20.0,
        **closed_sets.BAND.fields(band),
        disclosure=pb.Disclosure(
            record_id=record_id,
            forename=forename,
            surname=surname,
            date_of_birth=dob,
            **closed_sets.SEX.fields("F"),
            nhs_number=nhs_number,
        ),
    )


def _answer(
    *councils: tuple[str, list[pb.Candidate]], unanswered: tuple[str, str] | None = None
) -> pp.SearchResponse:
    response = pp.SearchResponse(query_id="q1", councils_asked=3, councils_answered=3 - bool(unanswered))
    for name, candidates in councils:
        response.results.append(
            pp.CouncilResult(council_code=name[:3].upper(), council_name=name, candidates=candidates)
        )
    if unanswered:
        response.unanswered.append(
            pp.UnansweredCouncil(
                council_code="WKF",
                council_name=unanswered[0],
                **closed_sets.UNANSWERED_REASON.fields(unanswered[1]),
            )
        )
    return response


def test_spellings_of_one_child_at_two_councils_are_one_child_but_twins_are_two() -> None:
    found = group(
        _answer(
            (
                "Leeds",
                [
                    _candidate("L-1", "Zoë", "O'Neill", "2015-03-07"),
                    _candidate("L-2", "Ava", "O'Neill", "2015-03-07"),
                ],
            ),
            ("Bradford", [_candidate("B-7", "Zoe", "ONeil", "2015-03-07")]),
        )
    )
    assert [(c.name, [h.council_name for h in c.holdings]) for c in found.children] == [
        ("Zoë O'Neill", ["Leeds", "Bradford"]),
        ("Ava O'Neill", ["Leeds"]),
    ]
    assert found.children[0].date_of_birth == "7 March 2015"


def test_an_nhs_number_decides_and_possible_matches_come_last() -> None:
    found = group(
        _answer(
            (
                "Leeds",
                [_candidate("L-1", "Zoe", "Smith", "2015-03-07", band="possible", nhs_number="9434765919")],
            ),
            (
                "Bradford",
                [
                    _candidate("B-7", "Zoe", "Jones", "2015-03-07", nhs_number="9434765919"),
                    _candidate("B-8", "Amy", "Jones", "2011-01-01"),
                ],
            ),
        )
    )
    assert [(c.name, c.possible) for c in found.children] == [("Zoe Smith", False), ("Amy Jones", False)]
    zoe = found.children[0]
    assert [(h.record_id, h.possible) for h in zoe.holdings] == [("L-1", True), ("B-7", False)]


def test_referrals_and_unanswered_councils_are_listed_apart() -> None:
    referral = pb.Candidate(
        **closed_sets.BAND.fields("referral"),
        disclosure=pb.Disclosure(records_team_contact="Leeds records, 0113"),
    )
    found = group(_answer(("Leeds", [referral]), unanswered=("Wakefield", "unavailable")))
    assert found.children == []
    assert [(r.council_name, r.records_team_contact) for r in found.referrals] == [
        ("Leeds", "Leeds records, 0113")
    ]
    assert [(u.council_name, u.reason) for u in found.unanswered] == [("Wakefield", "did not respond")]
    assert (found.councils_asked, found.councils_answered) == (3, 2)
