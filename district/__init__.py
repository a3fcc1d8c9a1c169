"""The reference district server and district IT's command line (``cedoka-district``).

It signs manifests, seals documents to enrolled village devices, and serves them over
HTTPS long-poll. It shares only the pure core: ``district`` imports ``kiosk`` and nothing
from ``agent``, ``printers`` or ``ui``.
"""
