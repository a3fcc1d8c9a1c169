"""What the webhooks say (issue 17 item 5, ADR 0022): their event types and JSON bodies.

Pure: the mapping from a kiosk's job event (protocol section 11) to a webhook type, and the
body of a message. A body carries ids, the office, the state, times and a reason code —
never a document, a resident's name, a NIK or a claim code (the integration that pushed the
job got the claim code in the push's answer).
"""

from __future__ import annotations

from typing import Final

from kiosk.strictjson import canonical_dumps

HELD: Final = "job.held"
PRINTED: Final = "job.printed"
HANDED_OVER: Final = "job.handed_over"
CANCELLED: Final = "job.cancelled"
EXPIRED: Final = "job.expired"
FAILED: Final = "job.failed"
TYPES: Final = (HELD, PRINTED, HANDED_OVER, CANCELLED, EXPIRED, FAILED)

# kiosk job event -> webhook type (the others — verify_ok, release, submit, purge … — are
# steps an integration does not act on)
KIOSK_EVENTS: Final = {
    "hold": HELD,
    "print_done": PRINTED,
    "hand_over": HANDED_OVER,
    "cancel": CANCELLED,
    "expire": EXPIRED,
    "verify_fail": FAILED,
    "print_fail": FAILED,
    "reconcile_lost": FAILED,
}


def body(*, message_id: str, type_: str, job_id: str, office_code: str, state: str | None,
         at_s: int, reason: str | None) -> bytes:  # fmt: skip
    """The JSON body of one message (canonical: sorted keys, no spaces)."""
    data: dict[str, object] = {"type": type_, "timestamp": at_s, "data": {
        "job_id": job_id, "office_code": office_code, "state": state, "reason": reason,
        "message_id": message_id,
    }}  # fmt: skip
    return canonical_dumps(data)
