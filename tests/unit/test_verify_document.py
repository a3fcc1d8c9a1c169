"""Document blobs: mix-and-match, endless data, truncation, HPKE failures, not-a-PDF."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

import pytest

from kiosk.errors import Reason, RejectedError
from kiosk.issue import IssuedJob
from kiosk.model import DocumentRef, VerifiedJob
from kiosk.seal import document_info, seal
from tests.sim.district import DistrictSim, KioskHarness, fixed_seal_key, make_pdf


def _verified(sim: DistrictSim, kiosk: KioskHarness, issued: IssuedJob) -> VerifiedJob:
    kiosk.take_head(sim.head())
    return kiosk.take_job(issued.token)


def _resealed(
    sim: DistrictSim, issued: IssuedJob, plaintext: bytes, *, info: bytes | None = None
) -> tuple[bytes, str]:
    """Seal ``plaintext`` as the job's first document and sign a manifest that matches it."""
    doc = issued.manifest.documents[0]
    blob = seal(
        plaintext,
        sim.seal_key.public_key(),
        info=info or document_info(sim.device_id, issued.manifest.job_id, doc.doc_id),
    )
    return blob, doc.doc_id


Scenario = Callable[[DistrictSim, KioskHarness], tuple[VerifiedJob, str, bytes]]


def longer_than_signed(sim: DistrictSim, kiosk: KioskHarness) -> tuple[VerifiedJob, str, bytes]:
    issued = sim.job()
    doc = issued.manifest.documents[0]
    return _verified(sim, kiosk, issued), doc.doc_id, issued.blobs[doc.doc_id] + b"\0" * 1024


def truncated(sim: DistrictSim, kiosk: KioskHarness) -> tuple[VerifiedJob, str, bytes]:
    issued = sim.job()
    doc = issued.manifest.documents[0]
    return _verified(sim, kiosk, issued), doc.doc_id, issued.blobs[doc.doc_id][:-1]


def bit_flip(sim: DistrictSim, kiosk: KioskHarness) -> tuple[VerifiedJob, str, bytes]:
    issued = sim.job()
    doc = issued.manifest.documents[0]
    blob = bytearray(issued.blobs[doc.doc_id])
    blob[100] ^= 0x01
    return _verified(sim, kiosk, issued), doc.doc_id, bytes(blob)


def blob_of_job_a_under_manifest_b(
    sim: DistrictSim, kiosk: KioskHarness
) -> tuple[VerifiedJob, str, bytes]:
    job_a, job_b = sim.job(), sim.job()  # same PDF, so same sealed size: only the hash differs
    kiosk.take_head(sim.head())
    verified_b = kiosk.take_job(job_b.token)
    blob_a = job_a.blobs[job_a.manifest.documents[0].doc_id]
    assert len(blob_a) == verified_b.manifest.documents[0].sealed_size
    return verified_b, job_b.manifest.documents[0].doc_id, blob_a


def _signed_over(
    sim: DistrictSim, kiosk: KioskHarness, issued: IssuedJob, blob: bytes
) -> VerifiedJob:
    """A district that signs whatever blob it is given (the relay or a server bug)."""
    doc = issued.manifest.documents[0]
    ref = replace(doc, sealed_size=len(blob), sealed_sha256=hashlib.sha256(blob).digest())
    refs: tuple[DocumentRef, ...] = (ref, *issued.manifest.documents[1:])
    token = sim.resign(issued, documents=refs)
    kiosk.take_head(sim.head())
    return kiosk.take_job(token)


def ciphertext_sealed_for_another_job(
    sim: DistrictSim, kiosk: KioskHarness
) -> tuple[VerifiedJob, str, bytes]:
    job_a, job_b = sim.job(), sim.job()
    blob_a = job_a.blobs[job_a.manifest.documents[0].doc_id]
    return _signed_over(sim, kiosk, job_b, blob_a), job_b.manifest.documents[0].doc_id, blob_a


def ciphertext_sealed_for_another_document(
    sim: DistrictSim, kiosk: KioskHarness
) -> tuple[VerifiedJob, str, bytes]:
    issued = sim.job(docs=(("KK", make_pdf()), ("AKTA_LAHIR", make_pdf())))
    first, second = issued.manifest.documents
    blob_second = issued.blobs[second.doc_id]
    return _signed_over(sim, kiosk, issued, blob_second), first.doc_id, blob_second


def sealed_to_another_device_key(
    sim: DistrictSim, kiosk: KioskHarness
) -> tuple[VerifiedJob, str, bytes]:
    issued = sim.job()
    doc = issued.manifest.documents[0]
    blob = seal(
        make_pdf(),
        fixed_seal_key("other-device").public_key(),
        info=document_info(sim.device_id, issued.manifest.job_id, doc.doc_id),
    )
    return _signed_over(sim, kiosk, issued, blob), doc.doc_id, blob


def hpke_bit_flip_under_a_matching_hash(
    sim: DistrictSim, kiosk: KioskHarness
) -> tuple[VerifiedJob, str, bytes]:
    issued = sim.job()
    doc = issued.manifest.documents[0]
    blob = bytearray(issued.blobs[doc.doc_id])
    blob[-1] ^= 0x80
    return _signed_over(sim, kiosk, issued, bytes(blob)), doc.doc_id, bytes(blob)


def hpke_truncated_under_a_matching_hash(
    sim: DistrictSim, kiosk: KioskHarness
) -> tuple[VerifiedJob, str, bytes]:
    issued = sim.job()
    doc = issued.manifest.documents[0]
    blob = issued.blobs[doc.doc_id][:40]
    return _signed_over(sim, kiosk, issued, blob), doc.doc_id, blob


def decrypts_but_not_pdf(sim: DistrictSim, kiosk: KioskHarness) -> tuple[VerifiedJob, str, bytes]:
    issued = sim.job()
    blob, doc_id = _resealed(sim, issued, b"<html>not a pdf</html>")
    return _signed_over(sim, kiosk, issued, blob), doc_id, blob


def pdf_magic_but_garbage(sim: DistrictSim, kiosk: KioskHarness) -> tuple[VerifiedJob, str, bytes]:
    issued = sim.job()
    blob, doc_id = _resealed(sim, issued, b"%PDF-1.7\n" + b"\x00garbage" * 100)
    return _signed_over(sim, kiosk, issued, blob), doc_id, blob


def document_not_in_manifest(
    sim: DistrictSim, kiosk: KioskHarness
) -> tuple[VerifiedJob, str, bytes]:
    issued = sim.job()
    return _verified(sim, kiosk, issued), "doc_01JD9999999999999999999999", b"x"


CASES: dict[str, tuple[Scenario, Reason]] = {
    "blob_longer_than_signed": (longer_than_signed, Reason.SIZE_MISMATCH),
    "blob_truncated": (truncated, Reason.SIZE_MISMATCH),
    "blob_bit_flip": (bit_flip, Reason.HASH_MISMATCH),
    "blob_of_job_a_under_manifest_b": (blob_of_job_a_under_manifest_b, Reason.HASH_MISMATCH),
    "ciphertext_sealed_for_another_job": (ciphertext_sealed_for_another_job, Reason.OPEN_FAILED),
    "ciphertext_sealed_for_another_document": (
        ciphertext_sealed_for_another_document,
        Reason.OPEN_FAILED,
    ),
    "hpke_wrong_key": (sealed_to_another_device_key, Reason.OPEN_FAILED),
    "hpke_bit_flip": (hpke_bit_flip_under_a_matching_hash, Reason.OPEN_FAILED),
    "hpke_truncation": (hpke_truncated_under_a_matching_hash, Reason.OPEN_FAILED),
    "decrypts_but_not_pdf": (decrypts_but_not_pdf, Reason.NOT_PDF),
    "pdf_magic_but_unparseable": (pdf_magic_but_garbage, Reason.PDF_INVALID),
    "document_not_in_manifest": (document_not_in_manifest, Reason.BAD_CLAIM),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_document_rejected(name: str) -> None:
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    scenario, reason = CASES[name]
    job, doc_id, blob = scenario(sim, kiosk)
    with pytest.raises(RejectedError) as caught:
        kiosk.open(job, doc_id, blob)
    assert caught.value.reason is reason, caught.value


def test_non_a4_pages_are_reported_not_hidden() -> None:
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    issued = sim.job(docs=(("SKET", make_pdf(width_pt=609.45, height_pt=935.43)),))  # F4 folio
    job = _verified(sim, kiosk, issued)
    doc = issued.manifest.documents[0]
    opened = kiosk.open(job, doc.doc_id, issued.blobs[doc.doc_id])
    assert opened.page_count == 1
    assert not opened.all_pages_a4
