"""Cedoka's pure core: the job model, lifecycle, wire format, verification and policies.

Nothing in this package performs I/O (no files, sockets, databases, printers, clocks or
randomness of its own): time and randomness are passed in, and the adapters in
``printers/``, ``agent/``, ``ui/`` and ``district/`` do the I/O around it. A ruff rule
(TID251, banned-api) enforces this.
"""

PROTOCOL_VERSION = 1
