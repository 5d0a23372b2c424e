"""Rebuild the bad-input corpus: one file per class of input the importer must refuse (issue #11).

Each file has a valid first row (GOOD-1), so a quarantine import of it shows the good row is kept, then the
bad input. tests/node/test_bad_input_corpus.py names what each file must be refused for.
Run: python tests/assets/bad_input/make_corpus.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def row(record_id: str = "GOOD-1", **changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "record_id": record_id,
        "forename": "Zoë",
        "surname": "O'Neill",
        "date_of_birth": "2015-03-07",
        "sex": "F",
        "address": {"line1": "12 Mill Lane", "postcode": "LS6 2AB"},
    }
    value.update(changes)
    return value


def involvement(**changes: Any) -> dict[str, Any]:
    value = {
        "practitioner": "Sam Patel",
        "organisation": "Leeds Children's Services",
        "role": "Social worker",
        "contact": "0113 496 0002",
        "service_type": "social_care",
        "start_date": "2024-01-10",
    }
    value.update(changes)
    return value


def line(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)


def jsonl(name: str, *lines: str) -> None:
    (HERE / name).write_text("".join(text + "\n" for text in lines), encoding="utf-8")


def main() -> None:
    good = line(row())
    bad = row("BAD-1")
    deep = '{"record_id": "BAD-1", "forename": ' + "[" * 30000 + "]" * 30000 + "}"
    jsonl("deep_nesting.jsonl", good, deep)
    jsonl("huge_number.jsonl", good, line(bad)[:-1] + ', "nhs_number": ' + "9" * 5000 + "}")
    jsonl("lone_surrogate.jsonl", good, line(bad).replace('"12 Mill Lane"', '"12 Mill \\ud800Lane"'))
    jsonl("nul_character.jsonl", good, line(bad).replace('"12 Mill Lane"', '"12 Mill\\u0000Lane"'))
    jsonl("name_folds_to_nothing.jsonl", good, line({**bad, "forename": "\u02bc", "surname": ""}))
    jsonl("no_name_at_all.jsonl", good, line({**bad, "forename": "  ", "surname": "  "}))
    jsonl("blank_shielding_reason.jsonl", good, line({**bad, "shielding": {
        "reason": "   ", "shielded_by": "Pat Jones", "shielded_on": "2024-01-01"}}))  # fmt: skip
    jsonl("empty_shielding.jsonl", good, line({**bad, "shielding": {}}))
    jsonl("blank_address_line.jsonl", good, line({**bad, "address": {"line1": "  ", "postcode": "LS6 2AB"}}))
    jsonl("blank_practitioner.jsonl", good, line({**bad, "involvements": [involvement(practitioner="  ")]}))
    jsonl("blank_contact.jsonl", good, line({**bad, "involvements": [involvement(contact=" ")]}))
    jsonl("blank_organisation.jsonl", good, line({**bad, "involvements": [involvement(organisation=" ")]}))
    jsonl("blank_role.jsonl", good, line({**bad, "involvements": [involvement(role="\t")]}))
    jsonl("too_many_previous_surnames.jsonl", good, line({**bad, "previous_surnames": ["Smith"] * 60}))
    long_names = ["Abcdefghijklmnopqrstuvwxyz"] * 20
    jsonl("previous_surnames_too_long.jsonl", good, line({**bad, "previous_surnames": long_names}))
    jsonl("iso_week_date.jsonl", good, line({**bad, "date_of_birth": "2020-W10-1"}))
    jsonl("compact_end_date.jsonl", good, line({**bad, "involvements": [involvement(end_date="20260110")]}))
    jsonl(
        "involvement_before_birth.jsonl",
        good,
        line({**bad, "involvements": [involvement(start_date="2010-01-01")]}),
    )
    jsonl("bidi_override.jsonl", good, line({**bad, "involvements": [involvement(contact="0113 \u202e496")]}))
    jsonl("duplicate_key.jsonl", good, line(bad)[:-1] + ', "forename": "Liam"}')
    jsonl("duplicate_record_id.jsonl", good, line(row("DUP-1")), line(row("DUP-1", forename="Liam")))
    jsonl("case_notes.jsonl", good, line({**bad, "case_notes": "seen at home"}))
    jsonl("not_json.jsonl", good, '{"record_id": "BAD-1", "forename": ')
    jsonl("line_too_long.jsonl", good, line({**bad, "forename": "A" * 70000}))
    header = "record_id,forename,surname,date_of_birth,sex,address_line1,address_postcode"
    csv_good = "GOOD-1,Zoë,O'Neill,2015-03-07,F,12 Mill Lane,LS6 2AB"
    (HERE / "duplicate_header.csv").write_text(f"{header},surname\n{csv_good},Smith\n", encoding="utf-8")
    (HERE / "not_utf8.csv").write_bytes(
        f"{header}\n".encode()
        + b"GOOD-1,Zoe,O'Neill,2015-03-07,F,12 Mill Lane,LS6 2AB\n"
        + "BAD-1,Renée,Dubois,2015-03-07,F,1 Rue,LS6 2AB\n".encode("cp1252")
    )
    (HERE / "utf16.csv").write_bytes(f"{header}\n{csv_good}\n".encode("utf-16"))
    (HERE / "more_cells_than_columns.csv").write_text(
        f"{header}\n{csv_good}\nBAD-1,Liam,Smith,2015-03-07,M,1 Road,LS6 2AB,extra\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
