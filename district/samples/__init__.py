"""Specimen documents for the demo: realistic, fictitious, unmistakably marked A4 PDFs.

:func:`sample_jobs` gives the bundles a district pushes in the demo (``cedoka-district
samples`` and ``push-samples``): a KK update, a PALI-style birth bundle and a death bundle.
The package is split by job: :mod:`.people` (the fictitious families and their fake
identifiers, pure), :mod:`.wording` (Indonesian dates and numbers, pure), :mod:`.sheet` (the
only ReportLab code: A4 pages with the specimen marks) and :mod:`.documents` (the layouts).

ReportLab is an optional dependency (the ``demo`` extra): ``district`` imports this package
without it, and :func:`sample_jobs` raises an :class:`~kiosk.errors.OperatorError` naming
the install command when it is missing. Every NIK and No. KK uses a never-issued serial
(0000 or 9990-9999, see :mod:`.people`); see ADR 0018.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

from district.samples.people import sample_cast
from kiosk.errors import OperatorError

INSTALL_HINT: Final = "pip install 'cedoka[demo]'"


@dataclass(frozen=True, slots=True)
class SampleJob:
    """One bundle as district IT would push it.

    ``documents`` are (document type code, PDF) pairs printable at a village; ``cards`` are
    the bundle's card items (``KIA``, ``KTP_EL``) that go by courier or pickup: shown, never
    pushed.
    """

    title: str  # English, for the operator's screen: never the resident's name
    resident: str  # the applicant
    documents: tuple[tuple[str, bytes], ...]
    cards: tuple[str, ...]


def sample_jobs(today: datetime.date) -> list[SampleJob]:
    """The demo's sample jobs as of ``today`` (the same date gives the same bytes).

    Raises:
        OperatorError: ReportLab is not installed.
    """
    try:
        import reportlab  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise OperatorError(
            f"the specimen documents need ReportLab, which is not installed: {INSTALL_HINT}"
        ) from None
    from district.samples import documents

    cast = sample_cast(today)
    update, birth, death = cast.kk_update, cast.birth, cast.death
    return [
        SampleJob(
            title="KK update", resident=update.head.name,
            documents=(("KK", documents.kartu_keluarga(update, issued=today)),), cards=(),
        ),
        SampleJob(
            title="Birth registration", resident=birth.family.head.name,
            documents=(
                ("AKTA_LAHIR", documents.akta_kelahiran(birth)),
                ("KK", documents.kartu_keluarga(birth.family, issued=today)),
            ),
            cards=("KIA",),
        ),
        SampleJob(
            title="Death registration", resident=death.family.head.name,
            documents=(
                ("AKTA_MATI", documents.akta_kematian(death)),
                ("KK", documents.kartu_keluarga(death.family, issued=today)),
            ),
            cards=("KTP_EL",),
        ),
    ]  # fmt: skip
