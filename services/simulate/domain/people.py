"""The synthetic population: households and children with plausible personal details.

Families are created on demand and remembered, so the same child ids recur: repeat domestic-abuse
incidents in the same household within twelve months, and later contacts about known children.
Names come from short fixed lists that follow the household's ethnicity (weighted roughly like
a South Yorkshire borough); dates of birth, sex, UPNs with a correct check letter and disability
codes are drawn from the seeded generator passed in.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from schemas.codes import upn_check_letter
from services.simulate.domain.draws import pick

NAMES = {
    "british": (
        ("Amelia", "Olivia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Grace", "Poppy"),
        ("Oliver", "George", "Noah", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Alfie", "Riley"),
        ("Smith", "Jones", "Taylor", "Brown", "Wilson", "Walker", "Wood", "Robinson", "Shaw",
         "Wright", "Hall", "Green", "Turner", "Hughes", "Marsh", "Atkinson", "Booth", "Hirst"),
    ),
    "south_asian": (
        ("Aisha", "Maryam", "Zara", "Hafsa", "Khadija"),
        ("Muhammad", "Ibrahim", "Ali", "Yusuf", "Zayn"),
        ("Hussain", "Khan", "Ahmed", "Iqbal", "Akhtar"),
    ),
    "eastern_european": (
        ("Zuzana", "Maja", "Natalia", "Elena"),
        ("Jakub", "Filip", "Marek", "Denis"),
        ("Kowalski", "Lakatos", "Horvath", "Novak", "Balaz"),
    ),
    "african": (
        ("Amara", "Esther", "Zainab"),
        ("Daniel", "Samuel", "Tobi"),
        ("Balogun", "Mensah", "Okafor", "Haile"),
    ),
}  # fmt: skip
NAME_GROUP = {
    "APKN": "south_asian", "ABAN": "south_asian", "AIND": "south_asian", "AOTH": "south_asian",
    "WOTH": "eastern_european", "WROM": "eastern_european",
    "BAFR": "african", "BOTH": "african", "MWBA": "african",
}  # fmt: skip
ETHNICITY_WEIGHTS = (
    ("WBRI", 840), ("APKN", 50), ("WOTH", 30), ("WROM", 12), ("MWBC", 12), ("MOTH", 10),
    ("MWAS", 6), ("BAFR", 8), ("AOTH", 4), ("BOTH", 3), ("ABAN", 2), ("AIND", 2), ("CHNE", 1),
    ("OOTH", 5), ("WIRI", 2), ("WIRT", 1), ("MWBA", 2), ("BCRB", 1), ("REFU", 3), ("NOBT", 6),
)  # fmt: skip
DISABILITY_CODES = ("AUT", "LD", "COMM", "BEH", "MOB", "HEAR", "VIS", "DDA")
LA_NUMBER = "372"


STREETS = (
    "Elm Road", "Station Street", "Church Lane", "Moorgate", "Wellgate", "Park Avenue",
    "Canklow Road", "Herringthorpe Valley Road", "Fitzwilliam Road", "Doncaster Gate",
)  # fmt: skip
TOWNS = (
    ("Rotherham", "S60"), ("Rotherham", "S65"), ("Maltby", "S66"), ("Wath", "S63"),
    ("Dinnington", "S25"), ("Rawmarsh", "S62"),
)  # fmt: skip
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXY"


def home_address(family_id: str) -> str:
    """The family's one-line address, made from its id alone (a generator of its own, so the
    feed's other draws are unchanged): every child of a family lives at the same address."""
    rng = random.Random(zlib.crc32(family_id.encode()))
    town, district = rng.choice(TOWNS)
    unit = f"{rng.randint(1, 9)}{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
    return f"{rng.randint(1, 180)} {rng.choice(STREETS)}, {town} {district} {unit}"


@dataclass
class Child:
    child_id: str
    family_id: str
    given_name: str
    family_name: str
    sex: str
    ethnicity: str
    date_of_birth: date | None
    expected_birth_date: date | None
    upn: str | None
    disabilities: tuple[str, ...]
    episodes: list[tuple[datetime, datetime]] = field(default_factory=list)
    """(opened_at, closed_at) of each referral episode, in UTC."""

    def details(self) -> dict[str, Any]:
        """The ``child`` block of contact and referral payloads."""
        return {
            "given_name": self.given_name,
            "family_name": self.family_name,
            "date_of_birth": self.date_of_birth,
            "expected_birth_date": self.expected_birth_date,
            "sex": self.sex,
            "ethnicity": self.ethnicity,
            "upn": self.upn,
            "disabilities": list(self.disabilities),
            "address": home_address(self.family_id),
        }

    def is_open_or_pending(self, moment: datetime) -> bool:
        """True when an episode is open at ``moment`` or was opened after it."""
        return any(closed > moment for _, closed in self.episodes)


@dataclass
class Family:
    family_id: str
    family_name: str
    children: list[Child]
    da_incidents: list[datetime] = field(default_factory=list)

    def incidents_within_year(self, moment: datetime) -> int:
        return sum(1 for at in self.da_incidents if moment - timedelta(days=365) <= at < moment)


class Population:
    """Families and children created on demand from one seeded generator."""

    def __init__(self, rng: random.Random, today: date, *, id_prefix: str = "") -> None:
        self._rng = rng
        self._today = today
        self._prefix = id_prefix
        """Each feed's own id space (``S<seed>``, alphanumeric as the census needs)."""
        self._families: list[Family] = []
        self._da_families: list[Family] = []
        self._next_child = 100_001
        self._next_family = 50_001
        self._next_upn = 1

    def new_family(self, *, children: int, unborn: bool = False) -> Family:
        rng = self._rng
        family_id = f"{self._prefix}F{self._next_family:06d}"
        self._next_family += 1
        ethnicity = pick(rng, ETHNICITY_WEIGHTS)
        family_name = rng.choice(NAMES[NAME_GROUP.get(ethnicity, "british")][2])
        kids = [
            self._new_child(family_id, family_name, ethnicity, unborn=unborn and i == 0)
            for i in range(children)
        ]
        family = Family(family_id, family_name, kids)
        self._families.append(family)
        return family

    def _new_child(
        self, family_id: str, family_name: str, ethnicity: str, *, unborn: bool
    ) -> Child:
        rng = self._rng
        child_id = f"{self._prefix}C{self._next_child:07d}"
        self._next_child += 1
        if unborn:
            expected = self._today + timedelta(days=rng.randint(20, 150))
            return Child(child_id, family_id, "Baby", family_name, "U", ethnicity,
                         None, expected, None, ())  # fmt: skip
        age_days = int(rng.triangular(30, 17 * 365 + 300, 4 * 365))
        born = self._today - timedelta(days=age_days)
        sex = "F" if rng.random() < 0.49 else ("M" if rng.random() < 0.99 else "U")
        girls, boys, _ = NAMES[NAME_GROUP.get(ethnicity, "british")]
        names = girls if sex == "F" else boys
        upn = self._upn(born) if age_days >= 4 * 365 and rng.random() < 0.95 else None
        roll = rng.random()
        disabilities: tuple[str, ...]
        if roll < 0.82:
            disabilities = ("NONE",)
        elif roll < 0.93:
            disabilities = ()
        else:
            disabilities = tuple(sorted(rng.sample(DISABILITY_CODES, rng.choice((1, 1, 2)))))
        return Child(child_id, family_id, rng.choice(names), family_name, sex, ethnicity,
                     born, None, upn, disabilities)  # fmt: skip

    def _upn(self, born: date) -> str:
        school = self._rng.randint(2000, 7999)
        year = (born.year + 5) % 100
        body = f"{LA_NUMBER}{school:04d}{year:02d}{self._next_upn % 1000:03d}"
        self._next_upn += 1
        return upn_check_letter(body) + body

    def household_for_da(self, moment: datetime, repeat_share: float) -> Family:
        """A household for a DA incident: often one with an incident in the last year."""
        rng = self._rng
        if self._da_families and rng.random() < repeat_share:
            year_ago = moment - timedelta(days=365)
            for _ in range(6):
                family = rng.choice(self._da_families)
                if year_ago <= family.da_incidents[-1] < moment:
                    return family
        family = self.new_family(children=rng.choice((1, 1, 1, 2, 2, 3)))
        self._da_families.append(family)
        return family

    def known_child(self) -> Child | None:
        """A child already known (born), for a later contact of another kind."""
        if not self._families:
            return None
        family = self._rng.choice(self._families[-2000:])
        born = [c for c in family.children if c.date_of_birth is not None]
        return self._rng.choice(born) if born else None
