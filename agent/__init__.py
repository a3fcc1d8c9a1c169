"""The village service: district client, enrolment, sync, spool, dispatch.

``agent`` does the I/O around the pure core: it fetches signed manifests and sealed
documents from the district server, has ``kiosk`` verify them, keeps them in the SQLite
spool and hands them to ``printers``. It also holds the composition root, the one place
that picks the real network, spool, printers and clock, and the ``cedoka`` command line.
Imports point one way: ``agent`` uses ``kiosk`` and ``printers``.
"""
