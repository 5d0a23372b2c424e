"""Name pools for synthetic people, drawn once from seeded Faker locales that reflect England's diversity.

Generating a child then only samples these pools with one uniform draw (Faker per child would be far too slow
for 350,000 children). A short list of deliberately awkward names (apostrophes, hyphens, accents, particles)
is mixed in, because those are the names that matching must not get wrong.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from dataclasses import dataclass

from faker import Faker

from whoelse.harness.synth.sampling import SynthRandom

# (Faker locale, share of families). en_GB dominates; the rest give the surnames and forenames of
# England's larger communities of Irish, South Asian, African, European and Vietnamese heritage.
CULTURES: tuple[tuple[str, float], ...] = (
    ("en_GB", 0.70),
    ("en_IE", 0.04),
    ("en_IN", 0.05),
    ("en_PK", 0.03),
    ("yo_NG", 0.02),
    ("ig_NG", 0.01),
    ("tw_GH", 0.01),
    ("en_KE", 0.01),
    ("pl_PL", 0.03),
    ("ro_RO", 0.02),
    ("lt_LT", 0.01),
    ("tr_TR", 0.01),
    ("vi_VN", 0.01),
    ("es_ES", 0.01),
    ("pt_PT", 0.02),
    ("fr_FR", 0.01),
    ("it_IT", 0.01),
)
# Faker's en_PK female list holds male names; borrow en_IN's for girls in those families.
_FEMALE_FROM = {"en_PK": "en_IN"}
_DRAWS = 1000  # draws per locale and kind; repeats keep Faker's frequency weighting

AWKWARD_FEMALE = (
    "Zoë", "Chloë", "Anne-Marie", "Mary-Jane", "Renée", "Siân", "Siobhán", "Niamh", "Aoife", "Anaïs",
    "Zsófia", "Ayşe", "Fatoumata", "Noémie", "Łucja",
)  # fmt: skip
AWKWARD_MALE = (
    "Seán", "Jean-Luc", "Noël", "Rhys", "Dafydd", "Oisín", "José", "Jürgen", "Muhammad", "Mohammed",
    "Łukasz", "Ciarán", "Eóin", "Jean-Baptiste", "Björn",
)  # fmt: skip
AWKWARD_SURNAMES = (
    "O'Neill", "O'Brien", "D'Souza", "Nguyễn", "de la Cruz", "MacDonald", "McAllister", "van der Merwe",
    "St. John", "Ó Súilleabháin", "da Silva", "dos Santos", "Al-Hassan", "Öztürk", "Wójcik", "Le Roux",
    "ffrench", "Ahmed-Khan", "Fitzgerald", "N'Diaye",
)  # fmt: skip
AWKWARD_SHARE = 0.03  # share of each pool drawn from the awkward lists
MAJORITY_FORENAME_SHARE = 0.15  # families of any heritage often choose forenames from the majority pool
_POOL_SIZE = 4000


def _clean(name: str) -> str | None:
    """Keep names the import format accepts (Latin letters, space, apostrophe, hyphen, full stop)."""
    name = name.replace("’", "'").strip()
    if not name or not name[0].isalpha() or not name[-1].isalpha():
        return None
    for ch in name:
        if ch.isalpha():
            if "LATIN" not in unicodedata.name(ch, ""):
                return None
        elif ch not in " '-.":
            return None
    return name


@dataclass(frozen=True, slots=True)
class CulturePool:
    """Ready-to-sample names for families of one heritage: one uniform draw gives a realistic name."""

    locale: str
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NamePools:
    cultures: tuple[CulturePool, ...]
    weights: tuple[float, ...]  # cumulative shares of families

    @property
    def majority(self) -> CulturePool:
        return self.cultures[0]

    def culture(self, rng: SynthRandom) -> CulturePool:
        return rng.pick(self.cultures, self.weights)

    def surname(self, rng: SynthRandom, culture: CulturePool) -> str:
        return rng.choice(culture.surnames)

    def forename(self, rng: SynthRandom, culture: CulturePool, female: bool) -> str:
        return rng.choice(culture.female if female else culture.male)


def _draw(faker: Faker, method: str, count: int) -> tuple[str, ...]:
    names = (_clean(getattr(faker, method)()) for _ in range(count))
    return tuple(name for name in names if name)


def _mix(
    rng: random.Random, own: tuple[str, ...], awkward: tuple[str, ...], majority: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """_POOL_SIZE names: mostly the culture's own, some majority-culture forenames, a few awkward."""
    pool = []
    for _ in range(_POOL_SIZE):
        roll = rng.random()
        if roll < AWKWARD_SHARE:
            pool.append(rng.choice(awkward))
        elif majority and roll < AWKWARD_SHARE + MAJORITY_FORENAME_SHARE:
            pool.append(rng.choice(majority))
        else:
            pool.append(rng.choice(own))
    return tuple(pool)


@functools.cache
def name_pools() -> NamePools:
    """Build the pools once per process (about two seconds); Faker is seeded so pools never vary."""
    fakers: dict[str, Faker] = {}
    for locale, _share in CULTURES:
        faker = Faker(locale)
        faker.seed_instance(f"whoelse-names:{locale}")
        fakers[locale] = faker
    raw: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}
    for locale, _share in CULTURES:
        faker = fakers[locale]
        raw[locale] = (
            _draw(fakers[_FEMALE_FROM.get(locale, locale)], "first_name_female", _DRAWS),
            _draw(faker, "first_name_male", _DRAWS),
            _draw(faker, "last_name", _DRAWS * (3 if locale == "en_GB" else 1)),
        )
    mix = random.Random("whoelse-name-mix")
    majority_female, majority_male, _ = raw[CULTURES[0][0]]
    pools: list[CulturePool] = []
    for locale, _share in CULTURES:
        female, male, surnames = raw[locale]
        is_majority = locale == CULTURES[0][0]
        pools.append(
            CulturePool(
                locale=locale,
                female=_mix(mix, female, AWKWARD_FEMALE, () if is_majority else majority_female),
                male=_mix(mix, male, AWKWARD_MALE, () if is_majority else majority_male),
                surnames=_mix(mix, surnames, AWKWARD_SURNAMES),
            )
        )
    cumulative: list[float] = []
    total = 0.0
    for _locale, share in CULTURES:
        total += share
        cumulative.append(total)
    return NamePools(tuple(pools), tuple(cumulative))


# Letters that Unicode does not decompose into a base letter plus accent.
_UNDECOMPOSED = str.maketrans(
    {"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "ß": "ss", "ı": "i"}
)


def ascii_fold(text: str) -> str:
    """'Zoë O'Neill' -> 'Zoe ONeill' style folding for usernames and e-mail addresses."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch in " -"))
