"""The small I/O layer that the agent, the district server and the printer adapters share.

It sits beside the pure core (:mod:`kiosk` stays free of I/O) and holds only what each of
them would otherwise write for itself:

- :mod:`cedoka_io.files`: the atomic, durable, private file write (temp file, ``fsync``,
  ``chmod``, ``os.replace``, ``fsync`` of the directory);
- :mod:`cedoka_io.sqlite`: one SQLite file with one connection per thread, ``BEGIN
  IMMEDIATE`` write transactions and forward-only migrations in ``PRAGMA user_version``
  (the SQL and the schemas stay in each store);
- :mod:`cedoka_io.logs`: the logging formatter that writes :mod:`kiosk.logfmt` lines, and the
  journald detection;
- :mod:`cedoka_io.version`: the installed version of the ``cedoka`` distribution.

It imports only the standard library and :mod:`kiosk`; ``agent``, ``district``, ``printers``
and ``ui`` may import it, the core may not (``tests/test_architecture.py``).
"""
