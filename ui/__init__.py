"""The kiosk face: a local HTTP API, static files and the pywebview window.

``ui`` is a thin face over the agent's service object. The HTML, CSS and JavaScript live
as static files in ``ui/static``; no business rule lives in JavaScript that the backend
does not enforce again. Imports point one way: ``ui`` uses ``agent``, ``printers`` and
``kiosk``.
"""
