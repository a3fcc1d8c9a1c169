"""Protocol v1 constants: token types, size caps and time bounds (units in names).

These numbers are part of the wire contract (docs/protocol.md, "Limits"); changing one is a
protocol change and needs the test vectors regenerated.
"""

from __future__ import annotations

from typing import Final

# JWS "typ" header values (RFC 8725 explicit typing).
TYP_MANIFEST: Final = "cedoka-job+jwt"
TYP_HEAD: Final = "cedoka-head+jwt"
TYP_KEYRING: Final = "cedoka-keyring+jwt"
TYP_PROOF: Final = "cedoka-proof+jwt"
TYP_EVENT: Final = "cedoka-event+jwt"
TYP_AUDIT: Final = "cedoka-audit+jwt"
TYP_ROOT: Final = "cedoka-root+jwt"

# The one signature algorithm (RFC 9864 fully-specified name for Ed25519).
JWS_ALG: Final = "Ed25519"

# Size caps, checked on the raw bytes before any parsing.
MAX_MANIFEST_BYTES: Final = 16 * 1024
MAX_HEAD_BYTES: Final = 24 * 1024
MAX_KEYRING_BYTES: Final = 16 * 1024
MAX_ROOT_BYTES: Final = 2 * 1024  # one token of a root-chain link
MAX_PROOF_BYTES: Final = 4 * 1024
MAX_EVENT_BYTES: Final = 4 * 1024
MAX_DISPLAY_SEALED_BYTES: Final = 4 * 1024
MAX_FEED_RESPONSE_BYTES: Final = 1024 * 1024
MAX_DOCUMENT_SEALED_BYTES: Final = 100 * 1024 * 1024
MAX_JSON_DEPTH: Final = 8

# Counts.
MAX_DOCUMENTS_PER_JOB: Final = 10
MAX_COPIES: Final = 5
MAX_JOBS_PER_FEED: Final = 50
MAX_CANCELLED_IN_HEAD: Final = 256
MAX_KEYS_IN_KEYRING: Final = 8
MAX_ROOT_LINKS: Final = 16  # links of the root chain (root versions 2 … 17)
MAX_PDF_PAGES: Final = 50
MAX_EVENTS_PER_BATCH: Final = 100

# Time bounds.
DEFAULT_LEEWAY_S: Final = 60
MAX_JOB_LIFETIME_S: Final = 14 * 24 * 3600
MAX_HEAD_LIFETIME_S: Final = 3600
MAX_PROOF_LIFETIME_S: Final = 120

# JSON integers must be exactly representable in every language's JSON (IEEE double).
MAX_SAFE_INT: Final = 2**53 - 1
