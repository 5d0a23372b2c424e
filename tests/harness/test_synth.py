"""Synthetic England: real reference data, reproducible files, realistic families and cross-council copies."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.node.records_factory import born
from whoelse.federation.errors import InvalidInput
from whoelse.harness.synth import cli
from whoelse.harness.synth.councils import COUNCILS_CSV, DEFAULT_COUNCILS, all_councils, council, neighbours
from whoelse.harness.synth.generate import DIFFERENCE_WEIGHTS, Population, generate
from whoelse.harness.synth.nhs_numbers import NhsNumberAllocator, check_digit, is_valid
from whoelse.harness.synth.postcodes import POSTCODES_CSV_GZ, postcode_samples
from whoelse.harness.synth.variations import Difference, nickname, surname_one_part, swap_day_month, typo
from whoelse.harness.synth.writer import write
from whoelse.node.importer import validate_file
from whoelse.node.records import ChildRecord, CouncilCode, SensitiveBasis, ServiceType

TODAY = dt.date(2025, 6, 1)
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$")
ABOLISHED_2023 = {"E10000006", "E10000023", "E10000027"}
CREATED_2023 = {"E06000063", "E06000064", "E06000065", "E06000066"}


@pytest.fixture(scope="module")
def population() -> Population:
    return generate(DEFAULT_COUNCILS, children_per_council=600, seed=7, today=TODAY)


def _by_key(population: Population) -> dict[tuple[str, str], ChildRecord]:
    return {(code, r.record_id): r for code, records in population.records.items() for r in records}


# -- reference data ----------------------------------------------------------------------------------------


def test_councils_are_the_153_english_children_services_authorities_of_april_2023() -> None:
    with COUNCILS_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    codes = [row["code"] for row in rows]
    assert len(codes) == len(set(codes)) == 153
    assert all(re.fullmatch(r"E(06|08|09|10)\d{6}", code) for code in codes)
    assert set(codes) >= CREATED_2023
    assert not ABOLISHED_2023 & set(codes)
    assert council("E06000064").name == "Westmorland and Furness"


def test_approx_children_sum_to_twelve_million_with_realistic_extremes() -> None:
    councils = all_councils().values()
    assert sum(c.approx_children for c in councils) == 12_000_000
    biggest = max(councils, key=lambda c: c.approx_children)
    assert 250_000 <= biggest.approx_children <= 400_000
    assert council("E06000053").approx_children < 1_000  # Isles of Scilly


def test_every_council_ships_a_sample_of_real_postcodes_inside_it() -> None:
    samples = postcode_samples()
    assert set(samples) == set(all_councils())
    for code, sample in samples.items():
        assert 100 <= len(sample) <= 150, code
        assert all(POSTCODE.match(p.postcode) for p in sample), code
        home = council(code)
        # every sampled postcode lies within 80 km of its council's centroid
        assert all(abs(p.easting - home.easting) + abs(p.northing - home.northing) < 160_000 for p in sample)
    assert COUNCILS_CSV.stat().st_size + POSTCODES_CSV_GZ.stat().st_size < 2_000_000
    with gzip.open(POSTCODES_CSV_GZ, "rt", encoding="utf-8") as handle:
        assert handle.readline().strip() == "council,postcode,easting,northing,town"


def test_neighbours_are_nearby_councils() -> None:
    leeds_neighbours = {c.name for c in neighbours("E08000035", 4)}
    assert leeds_neighbours <= {"Bradford", "Wakefield", "Kirklees", "Calderdale", "North Yorkshire"}


# -- determinism and counts --------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files_and_a_new_seed_changes_them(tmp_path: Path) -> None:
    def run(seed: int, out: Path) -> dict[str, bytes]:
        write(generate(DEFAULT_COUNCILS[:3], children_per_council=150, seed=seed, today=TODAY), out)
        return {p.name: p.read_bytes() for p in sorted(out.iterdir())}

    first, again, other = run(3, tmp_path / "a"), run(3, tmp_path / "b"), run(4, tmp_path / "c")
    assert first == again
    write(generate(DEFAULT_COUNCILS[2::-1], children_per_council=150, seed=3, today=TODAY), tmp_path / "d")
    assert {
        p.name: p.read_bytes() for p in (tmp_path / "d").iterdir()
    } == first  # order of councils is irrelevant
    assert set(first) == {
        *(f"{c}.jsonl" for c in DEFAULT_COUNCILS[:3]),
        "ground_truth.jsonl",
        "practitioners.jsonl",
        "manifest.json",
    }
    assert first[f"{DEFAULT_COUNCILS[0]}.jsonl"] != other[f"{DEFAULT_COUNCILS[0]}.jsonl"]


def test_children_per_council_and_scale_set_record_counts(population: Population) -> None:
    assert {code: len(records) for code, records in population.records.items()} == dict.fromkeys(
        DEFAULT_COUNCILS, 600
    )
    scaled = generate(["E08000035", "E08000036"], scale=0.0005, seed=1, today=TODAY)
    assert len(scaled.records[CouncilCode("E08000035")]) == round(
        council("E08000035").approx_children * 0.0005
    )
    for records in population.records.values():
        assert len({r.record_id for r in records}) == len(records)


def test_unknown_council_or_bad_scale_is_refused_naming_the_problem() -> None:
    with pytest.raises(InvalidInput, match="E99999999"):
        generate(["E08000035", "E99999999"], today=TODAY)
    with pytest.raises(InvalidInput, match="E10000006"):  # Cumbria, abolished in 2023
        generate(["E10000006"], today=TODAY)
    with pytest.raises(InvalidInput, match="scale"):
        generate(["E08000035"], scale=0, today=TODAY)


# -- the records are valid import files --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_every_written_record_passes_the_importer(population: Population, tmp_path: Path, fmt: str) -> None:
    write(population, tmp_path, fmt)
    for code, records in population.records.items():
        assert validate_file(tmp_path / f"{code}.{fmt}", TODAY) == list(records)


def test_records_respect_the_import_rules_on_services_and_dates(population: Population) -> None:
    services: Counter[ServiceType] = Counter()
    for records in population.records.values():
        for r in records:
            assert TODAY - dt.timedelta(days=26 * 366) < born(r) <= TODAY
            for inv in r.involvements:
                services[inv.service_type] += 1
                assert born(r) <= inv.start_date <= TODAY
                assert inv.end_date is None or inv.start_date <= inv.end_date <= TODAY
                if inv.service_type.sensitive:
                    assert inv.sensitive_basis in (SensitiveBasis.CONSENT, SensitiveBasis.OVERRIDE)
                    assert inv.sensitive_basis is SensitiveBasis.CONSENT or inv.override_reason
                else:
                    assert inv.sensitive_basis is None
            for concern in r.concerns:
                assert concern.raised_on <= TODAY
    assert len(services) >= 12  # a realistic spread, not one service
    assert any(s.sensitive for s in services)


def test_involvement_counts_concerns_shielding_and_retention_are_realistic(population: Population) -> None:
    records = [r for rs in population.records.values() for r in rs]
    counts = Counter(min(len(r.involvements), 3) for r in records)
    assert counts[0] > counts[1] > counts[2] > counts[3] > 0
    assert 0.01 <= sum(bool(r.concerns) for r in records) / len(records) <= 0.06
    shielded = [r for r in records if r.shielding]
    assert 0 < len(shielded) / len(records) <= 0.04
    assert all(s.shielding and s.shielding.reason and s.shielding.shielded_by for s in shielded)
    ages = [(TODAY - born(r)).days / 365.25 for r in records]
    assert any(r.retention_consent_to_25 and 17 <= a < 18 for r, a in zip(records, ages, strict=True))
    adults = [(r, a) for r, a in zip(records, ages, strict=True) if a >= 18]
    assert adults and all(a < 26 for _, a in adults)


# -- families, twins, NHS numbers --------------------------------------------------------------------------


def test_siblings_share_surname_and_address_but_not_forename_or_birthday(population: Population) -> None:
    records = _by_key(population)
    families: dict[str, list[ChildRecord]] = defaultdict(list)
    twins = {p.person_id for p in population.people if p.twin_of}
    for person in population.people:
        if person.person_id not in twins:
            first = person.copies[0]
            families[person.family_id].append(records[(first.council, first.record_id)])
    sibling_groups = [group for group in families.values() if len(group) > 1]
    assert len(sibling_groups) > 50
    for group in sibling_groups:
        assert len({(r.surname, r.address) for r in group}) == 1
        assert len({r.forename for r in group}) == len(group)
        assert len({r.date_of_birth for r in group}) == len(group)


def test_twins_share_a_birthday_and_family(population: Population) -> None:
    people = {p.person_id: p for p in population.people}
    records = _by_key(population)
    twins = [p for p in population.people if p.twin_of]
    assert twins
    for person in twins:
        twin = people[person.twin_of or ""]
        assert twin.twin_of == person.person_id and twin.family_id == person.family_id
        a, b = (records[(x.copies[0].council, x.copies[0].record_id)] for x in (person, twin))
        assert a.date_of_birth == b.date_of_birth and a.forename != b.forename


def test_nhs_numbers_pass_modulus_11_and_identify_one_child(population: Population) -> None:
    records = _by_key(population)
    owner: dict[str, str] = {}
    present = 0
    for person in population.people:
        for copy in person.copies:
            number = records[(copy.council, copy.record_id)].nhs_number
            if number:
                present += 1
                assert is_valid(number) and number[0] == "9"
                assert owner.setdefault(number, person.person_id) == person.person_id
    assert 0.85 < present / population.record_count < 0.97  # most have one, some do not


def test_nhs_check_digit_matches_published_example() -> None:
    assert is_valid("943 476 5919") and not is_valid("9434765918")
    assert check_digit("943476591") == 9
    allocator = NhsNumberAllocator(seed=1)
    numbers = [allocator.number(i) for i in range(2000)]
    assert len(set(numbers) - {""}) == len([n for n in numbers if n])


# -- children known to two councils ------------------------------------------------------------------------


def test_about_four_percent_of_children_are_known_to_a_neighbouring_council(population: Population) -> None:
    shared = [p for p in population.people if len(p.copies) > 1]
    assert 0.03 <= len(shared) / len(population.people) <= 0.05
    for person in shared:
        home, other = person.copies
        assert home.council != other.council
        assert other.council in {c.code for c in neighbours(home.council, 3, among=population.councils)}


def test_second_copies_differ_as_their_ground_truth_says(population: Population) -> None:
    records = _by_key(population)
    seen: Counter[Difference] = Counter()
    moved = 0
    for person in population.people:
        if len(person.copies) < 2:
            continue
        first, second = person.copies
        a, b = records[(first.council, first.record_id)], records[(second.council, second.record_id)]
        moved += a.address.postcode != b.address.postcode
        differences = set(second.differences)
        seen.update(differences)
        assert (a.forename != b.forename) == bool(
            differences & {Difference.FORENAME_TYPO, Difference.NICKNAME}
        )
        assert (a.surname != b.surname) == bool(
            differences & {Difference.SURNAME_TYPO, Difference.SURNAME_ONE_PART}
        )
        assert (a.nhs_number != b.nhs_number) == (Difference.NHS_NUMBER_MISSING in differences)
        if Difference.DOB_DAY_MONTH_SWAPPED in differences:
            assert (born(b).day, born(b).month) == (born(a).month, born(a).day)
        else:
            assert a.date_of_birth == b.date_of_birth
        if Difference.SURNAME_ONE_PART in differences:
            assert b.surname in a.surname.split("-")
    assert moved > 0
    assert len(seen) >= 5


def test_a_larger_run_shows_every_kind_of_difference_of_todays_noise() -> None:
    big = generate(["E08000035", "E08000036"], children_per_council=3000, seed=11, today=TODAY)
    seen = {d for p in big.people for c in p.copies for d in c.differences}
    assert seen == set(DIFFERENCE_WEIGHTS)  # the realistic level's kinds: tests/harness/test_synth_noise.py


# -- the variations themselves -----------------------------------------------------------------------------


def test_nicknames_go_both_ways() -> None:
    import random

    rng = random.Random(1)
    assert nickname("William", rng) in {"Bill", "Will", "Billy", "Liam"}
    assert nickname("Liz", rng) == "Elizabeth"
    assert nickname("Alex", rng) in {"Alexander", "Alexandra"}
    assert nickname("Zebedee", rng) is None


def test_typos_are_one_slip_and_keep_a_valid_name() -> None:
    import random

    rng = random.Random(2)
    for name in ("Elizabeth", "O'Neill", "Anne-Marie", "Nguyễn", "de la Cruz"):
        for _ in range(20):
            changed = typo(name, rng)
            assert changed and changed != name
            assert abs(len(changed) - len(name)) <= 1
            assert changed[0] == name[0] and changed[-1].isalpha()
    assert typo("Al", rng) is None


def test_day_month_swap_and_surname_part_only_where_possible() -> None:
    import random

    assert swap_day_month(dt.date(2015, 3, 7), TODAY) == dt.date(2015, 7, 3)
    assert swap_day_month(dt.date(2015, 3, 17), TODAY) is None
    assert swap_day_month(dt.date(2015, 4, 4), TODAY) is None
    assert surname_one_part("Smith-Jones", random.Random(1)) in {"Smith", "Jones"}
    assert surname_one_part("Smith", random.Random(1)) is None


def test_names_include_apostrophes_hyphens_and_accents() -> None:
    big = generate(["E09000033", "E09000030"], children_per_council=2500, seed=5, today=TODAY)
    names = [f"{r.forename} {r.surname}" for rs in big.records.values() for r in rs]
    assert any("'" in n for n in names)
    assert any("-" in n for n in names)
    assert any(not n.isascii() for n in names)
    assert len({n.split()[-1] for n in names}) > 1000  # many distinct surnames


# -- practitioners, manifest and CLI -----------------------------------------------------------------------


def test_practitioners_file_lists_demo_accounts_per_council(population: Population, tmp_path: Path) -> None:
    write(population, tmp_path)
    rows = [
        json.loads(line)
        for line in (tmp_path / "practitioners.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    by_council = Counter(row["council"] for row in rows)
    assert set(by_council) == set(DEFAULT_COUNCILS) and min(by_council.values()) >= 5
    assert len({row["username"] for row in rows}) == len(rows)
    assert all(re.fullmatch(r"[a-z0-9.]+@[a-z0-9-]+\.whoelse\.test", row["username"]) for row in rows)
    assert all(row["service_type"] in set(ServiceType) for row in rows)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 7 and manifest["records"] == 3000 and manifest["today"] == "2025-06-01"
    truth = [
        json.loads(line)
        for line in (tmp_path / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(truth) == len(population.people)
    assert sum(len(t["copies"]) for t in truth) == 3000


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="whoelse")
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_writes_files_and_prints_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["synth", "--councils", "E06000063,E06000064", "--children", "40", "--seed", "2",
                   "--format", "csv", "--today", "2025-06-01", "--out", str(tmp_path)])  # fmt: skip
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "80 records" in out
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["E06000063.csv", "E06000064.csv"]


def test_cli_json_prints_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["synth", "--councils", "E06000063", "--children", "12", "--seed", "2",
                   "--today", "2025-06-01", "--out", str(tmp_path), "--json"])  # fmt: skip
    assert args.handler(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 12 and summary["councils"][0]["code"] == "E06000063"
    assert all(Path(path).exists() for path in summary["files"])


def test_cli_rejects_an_unknown_council_or_unwritable_output_by_name(tmp_path: Path) -> None:
    args = _parse(["synth", "--councils", "E08000035,X123", "--out", str(tmp_path)])
    with pytest.raises(InvalidInput, match="X123"):
        args.handler(args)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    args = _parse(["synth", "--councils", "E06000053", "--children", "3", "--out", str(blocker)])
    with pytest.raises(InvalidInput, match=r"--out .*a-file"):
        args.handler(args)


@pytest.mark.slow
def test_shipped_reference_data_is_what_the_build_script_produces() -> None:
    from whoelse.harness.synth.build_reference_data import build

    councils_csv, postcodes_gz = build()
    assert councils_csv == COUNCILS_CSV.read_bytes()
    assert postcodes_gz == POSTCODES_CSV_GZ.read_bytes()
