"""Human messages exist for every reason; nothing personal travels in the clear."""

from __future__ import annotations

import pytest

from kiosk.errors import Reason, RejectedError
from kiosk.messages import MESSAGES, text
from kiosk.model import ReleaseMode
from kiosk.wire import manifest_claims
from tests.sim.district import FAKE_NIK, RESIDENT, DistrictSim, KioskHarness, make_pdf


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_an_indonesian_and_an_english_message(reason: Reason) -> None:
    indonesian, english = MESSAGES[reason]
    assert indonesian and english and indonesian != english
    assert text(reason) == indonesian and text(reason, "en") == english


def test_no_plaintext_personal_data_in_manifest_or_blobs() -> None:
    """The manifest passes through proxies and logs: no name, NIK or title in the clear."""
    sim = DistrictSim()
    pdf = make_pdf() + f"% {RESIDENT} {FAKE_NIK}\n".encode()  # the PDF itself names the resident
    issued = sim.job(release=ReleaseMode.CLAIM, claim_code=_valid_code(), docs=(("KK", pdf),))
    exposed = [issued.token, str(manifest_claims(issued.manifest)).encode(), *issued.blobs.values()]
    for needle in (
        RESIDENT.encode(),
        RESIDENT.split()[0].encode(),
        FAKE_NIK.encode(),
        b"Dokumen KK",
    ):
        assert all(needle not in blob for blob in exposed), needle


def test_rejection_details_carry_no_personal_data() -> None:
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    issued = sim.job(device_id="dev_01JD0000000000000000000999")
    kiosk.take_head(sim.head())
    with pytest.raises(RejectedError) as caught:
        kiosk.take_job(issued.token)
    assert RESIDENT not in str(caught.value) and FAKE_NIK not in str(caught.value)


def _valid_code() -> str:
    from kiosk.claim import damm_check_digit

    digits = "12345678901"
    return digits + damm_check_digit(digits)
