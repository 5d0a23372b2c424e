"""The importer's table of record ids seen (node/import_ids.py): the first line of every id, however many
ids the file holds, in a fraction of a dictionary's memory."""

from __future__ import annotations

import tracemalloc

from whoelse.node.import_ids import RecordIds


def test_every_id_keeps_the_line_it_was_first_on_through_growth() -> None:
    ids = RecordIds()
    for n in range(50_000):  # grows from 1,024 slots many times over
        assert ids.remember(f"BHM-{n:07d}", -(n + 2) if n % 7 == 0 else n + 2) is None
    assert ids.remember("BHM-0000003", 999_999) == 5  # listed again: keeps its first line
    assert len(ids) == 50_000
    assert ids.get("BHM-0000003") == 5
    assert ids.get("BHM-0000007") == -9  # that row was invalid
    assert ids.get("BHM-0050000") is None
    assert all(ids.get(f"BHM-{n:07d}") == (-(n + 2) if n % 7 == 0 else n + 2) for n in range(50_000))
    assert "BHM-0049999" in ids and "BHM-0050000" not in ids and 7 not in ids


def test_ids_differing_only_in_case_space_or_script_are_different_ids() -> None:
    ids = RecordIds()
    different = ["abc", "ABC", "abc ", "\u0430bc", "a\ud800"]  # a Cyrillic а; a lone surrogate
    for line, rid in enumerate(different, start=2):
        ids.remember(rid, line)
    assert [ids.get(r) for r in different] == [2, 3, 4, 5, 6]


def test_a_quarter_of_a_million_ids_take_well_under_half_what_a_dictionary_of_them_takes() -> None:
    """Measured as the importer holds them: the id strings read from the file are owned by a dictionary,
    where the table keeps only their digests."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    table = RecordIds()
    for n in range(260_000):
        table.remember(f"BHM-{n:07d}", n + 2)
    compact = tracemalloc.get_traced_memory()[0] - before
    before = tracemalloc.get_traced_memory()[0]
    plain = {f"BHM-{n:07d}": n + 2 for n in range(260_000)}
    dictionary = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(table) == len(plain)
    assert compact <= 11 * 2**20, compact  # 2**19 slots of 20 bytes
    assert compact < dictionary / 2.5, (compact, dictionary)
