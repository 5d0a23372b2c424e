"""Addresses, schools, GP practices and telephone numbers for one council's synthetic families.

Postcodes are real (from the shipped sample); street, school and practice names are invented from name stems.
Telephone numbers come only from Ofcom's ranges reserved for drama, so no synthetic record holds a number
that rings anyone: SPEC: https://www.ofcom.org.uk/phones-and-broadband/phone-numbers/numbers-for-drama
"""

from __future__ import annotations

from dataclasses import dataclass

from whoelse.harness.synth.councils import Council
from whoelse.harness.synth.postcodes import Postcode
from whoelse.harness.synth.sampling import SynthRandom
from whoelse.node.records import Address

STREET_STEMS = (
    "Church", "Mill", "Station", "Park", "High", "Victoria", "Queen's", "King's", "Manor", "Chapel",
    "Albert", "Beech", "Oak", "Elm", "Ash", "Willow", "Meadow", "Orchard", "Green", "Hill", "Bridge", "Moor",
    "Windsor", "York", "Grange", "Springfield", "Westfield", "Highfield", "Cherry", "Hawthorn", "Rose",
    "Holly", "Cedar", "Poplar", "Woodland", "Kingsway", "Marlborough", "Nelson", "Wellington", "Hollins",
)  # fmt: skip
STREET_SUFFIXES = (
    "Road", "Road", "Street", "Street", "Lane", "Avenue", "Close", "Close", "Drive", "Way", "Crescent",
    "Grove", "Gardens", "Terrace", "Place", "Court", "Walk", "Mews", "Rise", "View",
)  # fmt: skip
SAINTS = (
    "Mary",
    "John",
    "Peter",
    "Paul",
    "Michael",
    "Andrew",
    "Anne",
    "Joseph",
    "Thomas",
    "Margaret",
    "Luke",
)

# Drama numbers: (area code, easting, northing) of the cities with a reserved block, and the block format.
_DRAMA_CITIES: tuple[tuple[str, int, int], ...] = (
    ("0113 496 0{:03d}", 430_000, 433_000),  # Leeds
    ("0114 496 0{:03d}", 435_000, 387_000),  # Sheffield
    ("0115 496 0{:03d}", 457_000, 340_000),  # Nottingham
    ("0116 496 0{:03d}", 458_000, 304_000),  # Leicester
    ("0117 496 0{:03d}", 359_000, 173_000),  # Bristol
    ("0118 496 0{:03d}", 471_000, 173_000),  # Reading
    ("0121 496 0{:03d}", 407_000, 286_000),  # Birmingham
    ("0151 496 0{:03d}", 335_000, 390_000),  # Liverpool
    ("0161 496 0{:03d}", 384_000, 398_000),  # Manchester
    ("0191 498 0{:03d}", 425_000, 564_000),  # Tyneside
    ("020 7946 0{:03d}", 530_000, 180_000),  # London
)
_NO_AREA = "01632 960{:03d}"  # the drama block with no real area
_NEAR_ENOUGH = 45_000  # metres: further from every listed city than this, use the no-area block
MOBILE = "07700 900{:03d}"


def landline_format(council: Council) -> str:
    """The drama number block for the nearest city with one, so a Leeds record has a 0113 number."""
    best = min(_DRAMA_CITIES, key=lambda c: (c[1] - council.easting) ** 2 + (c[2] - council.northing) ** 2)
    distance = ((best[1] - council.easting) ** 2 + (best[2] - council.northing) ** 2) ** 0.5
    return best[0] if distance <= _NEAR_ENOUGH else _NO_AREA


@dataclass(frozen=True, slots=True)
class Locality:
    """Everything place-like that one council's records draw on, built once per council."""

    council: Council
    postcodes: tuple[Postcode, ...]
    streets: tuple[str, ...]
    nurseries: tuple[str, ...]
    primaries: tuple[str, ...]
    secondaries: tuple[str, ...]
    colleges: tuple[str, ...]
    practices: tuple[str, ...]
    landline: str

    def phone(self, rng: SynthRandom) -> str:
        return self.landline.format(rng.below(1000))

    def address(self, rng: SynthRandom) -> Address:
        """A household address at one of the council's real postcodes."""
        place = rng.choice(self.postcodes)
        street = rng.choice(self.streets)
        if rng.random() < 0.15:
            line1 = f"Flat {rng.randint(1, 24)}, {rng.choice(STREET_STEMS)} {rng.choice(('Court', 'House'))}"
            return Address(
                line1=line1, line2=f"{rng.randint(1, 120)} {street}", town=place.town, postcode=place.postcode
            )
        return Address(line1=f"{rng.randint(1, 180)} {street}", postcode=place.postcode, town=place.town)


def build_locality(
    council: Council,
    postcodes: tuple[Postcode, ...],
    children: int,
    surnames: tuple[str, ...],
    rng: SynthRandom,
) -> Locality:
    """Invent street, school and practice names in proportion to the council's number of children."""

    plain = tuple(s for s in surnames if s.isascii() and " " not in s) or STREET_STEMS

    def stem() -> str:
        return rng.choice(STREET_STEMS) if rng.random() < 0.5 else rng.choice(plain)

    towns = sorted({p.town for p in postcodes})
    streets = tuple(
        sorted({f"{stem()} {rng.choice(STREET_SUFFIXES)}" for _ in range(max(60, children // 40))})
    )
    nurseries = tuple(
        sorted(
            {
                rng.choice((f"{stem()} Nursery", f"Little {stem()} Pre-school"))
                for _ in range(max(3, children // 400))
            }
        )
    )
    primaries = tuple(
        sorted(
            {
                rng.choice(
                    (
                        f"{stem()} Primary School",
                        f"St {rng.choice(SAINTS)}'s C of E Primary School",
                        f"{stem()} Infant and Junior School",
                        f"{stem()} Primary Academy",
                    )
                )
                for _ in range(max(4, children // 300))
            }
        )
    )
    secondaries = tuple(
        sorted(
            {
                rng.choice(
                    (f"{stem()} Academy", f"{stem()} High School", f"{rng.choice(towns)} {stem()} School")
                )
                for _ in range(max(2, children // 1500))
            }
        )
    )
    colleges = tuple(f"{town} College" for town in towns)
    practices = tuple(
        sorted(
            {
                rng.choice(
                    (
                        f"{stem()} Surgery",
                        f"{stem()} Medical Centre",
                        f"{stem()} Health Centre",
                        f"The {stem()} Practice",
                    )
                )
                for _ in range(max(3, children // 2000))
            }
        )
    )
    return Locality(
        council=council,
        postcodes=postcodes,
        streets=streets,
        nurseries=nurseries,
        primaries=primaries,
        secondaries=secondaries,
        colleges=colleges,
        practices=practices,
        landline=landline_format(council),
    )
