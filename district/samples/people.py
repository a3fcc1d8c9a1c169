"""The fictitious residents of the specimen documents, and their fake identifiers.

Pure data (no ReportLab): three families of Desa Pitulua (74.08.01.2002), Kecamatan
Lasusua, Kabupaten Kolaka Utara. Every NIK and No. KK follows the real structure but uses a
serial from :data:`FAKE_SERIALS` (0000 or 9990-9999), which is never issued, so no specimen
can collide with a real person:

* NIK ``PP KK CC DDMMYY SSSS``: the kecamatan of *first registration* (not the current
  address), the birth date with day + 40 for women, the serial;
* No. KK: the issuing kecamatan (6 digits), the recording date ``DDMMYY``, the serial.

Birth and death dates are counted back from ``today`` so that a bundle looks fresh; everything
else is fixed, so the same ``today`` always gives the same people.
"""

from __future__ import annotations

import datetime
import enum
import re
from dataclasses import dataclass
from typing import Final

FAKE_SERIALS: Final = frozenset({0, *range(9990, 10000)})
FEMALE_DAY_OFFSET: Final = 40
_KECAMATAN_CODE: Final = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}")

PROVINCE: Final = "SULAWESI TENGGARA"
REGENCY: Final = "KOLAKA UTARA"
REGENCY_CODE: Final = "74.08"
DISTRICT: Final = "LASUSUA"
VILLAGE: Final = "PITULUA"
VILLAGE_CODE: Final = "74.08.01.2002"
# Kecamatan of first registration (kode_wilayah, Kolaka Utara).
LASUSUA: Final = "74.08.01"
PAKUE: Final = "74.08.02"
BATU_PUTIH: Final = "74.08.03"
NGAPA: Final = "74.08.06"

BIRTH_AGE_DAYS: Final = 9  # the new baby of the birth bundle is this many days old
DEATH_AGE_DAYS: Final = 12  # the death of the death bundle happened this many days ago


class Sex(enum.Enum):
    """Jenis kelamin, as printed."""

    MALE = "LAKI-LAKI"
    FEMALE = "PEREMPUAN"


def fake_nik(kecamatan: str, born: datetime.date, sex: Sex, serial: int) -> str:
    """A NIK with a never-issued serial.

    Raises:
        ValueError: a serial outside FAKE_SERIALS, or a kecamatan code not like 74.08.01.
    """
    return f"{_region_digits(kecamatan)}{_nik_birth_digits(born, sex)}{_fake_serial(serial)}"


def fake_no_kk(kecamatan: str, recorded: datetime.date, serial: int) -> str:
    """A No. KK with a never-issued serial.

    Raises:
        ValueError: as :func:`fake_nik`.
    """
    return f"{_region_digits(kecamatan)}{recorded:%d%m%y}{_fake_serial(serial)}"


@dataclass(frozen=True, slots=True)
class Person:
    """One resident as the population register holds them (names in capitals)."""

    name: str
    sex: Sex
    birth_place: str
    born: datetime.date
    first_registered: str  # kecamatan code where the NIK was issued, e.g. "74.08.01"
    serial: int  # from FAKE_SERIALS
    education: str
    occupation: str
    marital_status: str
    relation: str  # status hubungan dalam keluarga
    father: str
    mother: str
    married: datetime.date | None = None
    religion: str = "ISLAM"
    blood_type: str = "TIDAK TAHU"
    nationality: str = "WNI"

    @property
    def nik(self) -> str:
        return fake_nik(self.first_registered, self.born, self.sex, self.serial)


@dataclass(frozen=True, slots=True)
class Family:
    """A household on one Kartu Keluarga; ``members`` start with the head of the family."""

    kecamatan: str  # where the KK was first recorded
    recorded: datetime.date
    serial: int
    street: str  # alamat: the dusun in this village
    rt_rw: str
    members: tuple[Person, ...]

    @property
    def no_kk(self) -> str:
        return fake_no_kk(self.kecamatan, self.recorded, self.serial)

    @property
    def head(self) -> Person:
        return self.members[0]


@dataclass(frozen=True, slots=True)
class Birth:
    """A registered birth: the child is already on the family's new KK."""

    child: Person
    order: int  # anak ke-
    family: Family
    place: str  # where the child was born (the regency, as the kutipan prints it)
    act_number: str
    registered: datetime.date


@dataclass(frozen=True, slots=True)
class Death:
    """A registered death; ``family`` is the household's new KK, without the deceased."""

    deceased: Person
    died: datetime.date
    place: str
    family: Family
    act_number: str
    registered: datetime.date


@dataclass(frozen=True, slots=True)
class Cast:
    """Everyone in the sample jobs."""

    kk_update: Family
    birth: Birth
    death: Death


def sample_cast(today: datetime.date) -> Cast:
    """The three fictitious families of the sample jobs, as of ``today``."""
    return Cast(kk_update=_asrul_family(), birth=_birth(today), death=_death(today))


def _asrul_family() -> Family:
    """A KK update: the eldest daughter finished senior high school."""
    father, mother = "MUH. ASRUL", "HASNAWATI"
    return Family(
        kecamatan=LASUSUA, recorded=datetime.date(2009, 3, 2), serial=9991,
        street="DUSUN I PITULUA", rt_rw="001/001",
        members=(
            Person(
                father, Sex.MALE, "LASUSUA", datetime.date(1982, 6, 14), LASUSUA, 9991,
                "SLTA/SEDERAJAT", "PETANI/PEKEBUN", "KAWIN TERCATAT", "KEPALA KELUARGA",
                "LA MUDDIN", "WA NURMA", married=datetime.date(2006, 9, 2), blood_type="O",
            ),
            Person(
                mother, Sex.FEMALE, "NGAPA", datetime.date(1985, 1, 23), NGAPA, 9992,
                "SLTP/SEDERAJAT", "MENGURUS RUMAH TANGGA", "KAWIN TERCATAT", "ISTRI",
                "H. ABD. RAHMAN", "ST. HAWANG", married=datetime.date(2006, 9, 2),
            ),
            _child(
                "NUR AFIFAH", Sex.FEMALE, datetime.date(2008, 3, 30), 9993,
                parents=(father, mother),
                education="SLTA/SEDERAJAT", occupation="BELUM/TIDAK BEKERJA",
            ),
            _child(
                "MUH. RIZAL", Sex.MALE, datetime.date(2012, 11, 5), 9994,
                parents=(father, mother),
                education="TAMAT SD/SEDERAJAT", occupation="PELAJAR/MAHASISWA",
            ),
        ),
    )  # fmt: skip


def _birth(today: datetime.date) -> Birth:
    """A birth: the second child of a young family, registered ``today``."""
    father, mother = "ANDI IRWANSYAH", "NUR'AINI"
    baby = _child(
        "ANDI ZAHRA AULIA", Sex.FEMALE, today - datetime.timedelta(days=BIRTH_AGE_DAYS), 0,
        parents=(father, mother), education="TIDAK/BELUM SEKOLAH",
        occupation="BELUM/TIDAK BEKERJA",
    )  # fmt: skip
    family = Family(
        kecamatan=LASUSUA, recorded=datetime.date(2017, 7, 24), serial=9993,
        street="DUSUN II PITULUA", rt_rw="002/001",
        members=(
            Person(
                father, Sex.MALE, "LASUSUA", datetime.date(1991, 2, 8), LASUSUA, 9995,
                "DIPLOMA IV/STRATA I", "GURU", "KAWIN TERCATAT", "KEPALA KELUARGA",
                "ANDI MAPPASESSU", "HJ. NURHAEDAH", married=datetime.date(2017, 7, 15),
                blood_type="B",
            ),
            Person(
                mother, Sex.FEMALE, "BATU PUTIH", datetime.date(1994, 9, 17), BATU_PUTIH, 9996,
                "DIPLOMA III", "MENGURUS RUMAH TANGGA", "KAWIN TERCATAT", "ISTRI",
                "LA ODE SAFARUDDIN", "WA ODE HALIMA", married=datetime.date(2017, 7, 15),
            ),
            _child(
                "ANDI MUH. FATHIR", Sex.MALE, datetime.date(2019, 4, 22), 9997,
                parents=(father, mother),
                education="BELUM TAMAT SD/SEDERAJAT", occupation="PELAJAR/MAHASISWA",
            ),
            baby,
        ),
    )  # fmt: skip
    return Birth(
        child=baby, order=2, family=family, place=REGENCY,
        act_number=f"7408-LU-{today:%d%m%Y}-9991", registered=today,
    )  # fmt: skip


def _death(today: datetime.date) -> Death:
    """A death: the head of an older family died; his widow heads the new KK."""
    widow = Person(
        "HAMSIAH", Sex.FEMALE, "PAKUE", datetime.date(1958, 5, 11), PAKUE, 9998,
        "TAMAT SD/SEDERAJAT", "MENGURUS RUMAH TANGGA", "CERAI MATI", "KEPALA KELUARGA",
        "LA SIKKI", "WA MINA",
    )  # fmt: skip
    deceased = Person(
        "BAHARUDDIN", Sex.MALE, "PAKUE", datetime.date(1954, 10, 2), PAKUE, 9999,
        "TAMAT SD/SEDERAJAT", "PETANI/PEKEBUN", "KAWIN TERCATAT", "KEPALA KELUARGA",
        "LA TANDE", "WA SAIDAH", married=datetime.date(1976, 8, 20),
    )  # fmt: skip
    son = Person(
        "IRFAN", Sex.MALE, "LASUSUA", datetime.date(1996, 12, 1), LASUSUA, 9990,
        "SLTA/SEDERAJAT", "NELAYAN/PERIKANAN", "BELUM KAWIN", "ANAK", deceased.name, widow.name,
        blood_type="A",
    )  # fmt: skip
    family = Family(
        kecamatan=LASUSUA, recorded=datetime.date(2010, 5, 20), serial=9995,
        street="DUSUN III PITULUA", rt_rw="003/002", members=(widow, son),
    )  # fmt: skip
    return Death(
        deceased=deceased, died=today - datetime.timedelta(days=DEATH_AGE_DAYS),
        place=REGENCY, family=family, act_number=f"7408-KM-{today:%d%m%Y}-9992",
        registered=today,
    )  # fmt: skip


def _child(
    name: str,
    sex: Sex,
    born: datetime.date,
    serial: int,
    *,
    parents: tuple[str, str],
    education: str,
    occupation: str,
) -> Person:
    """An unmarried child born in Lasusua, registered there."""
    return Person(
        name, sex, "LASUSUA", born, LASUSUA, serial, education, occupation, "BELUM KAWIN",
        "ANAK", *parents,
    )  # fmt: skip


def _region_digits(kecamatan: str) -> str:
    if not _KECAMATAN_CODE.fullmatch(kecamatan):
        raise ValueError(f"{kecamatan!r} is not a kecamatan code like 74.08.01")
    return kecamatan.replace(".", "")


def _nik_birth_digits(born: datetime.date, sex: Sex) -> str:
    day = born.day + (FEMALE_DAY_OFFSET if sex is Sex.FEMALE else 0)
    return f"{day:02d}{born:%m%y}"


def _fake_serial(serial: int) -> str:
    if serial not in FAKE_SERIALS:
        raise ValueError(f"serial {serial} may be a real one: use 0000 or 9990-9999")
    return f"{serial:04d}"
