"""A tiny receiver of Cedoka's webhooks, for the team that runs an integration (e.g. the
WhatsApp service that pushed the job). Run: ``python webhook_receiver.py`` with the
secret district IT gave you in ``CEDOKA_WEBHOOK_SECRET`` (``whsec_…``); it listens on
127.0.0.1, port ``CEDOKA_WEBHOOK_PORT`` (8081) — put it behind your own HTTPS front.

Cedoka signs each message the Standard Webhooks way (https://www.standardwebhooks.com):
headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,`` and the
base64 HMAC-SHA256 of ``id.timestamp.body`` with the secret). The ``standardwebhooks``
library (``pip install standardwebhooks``; libraries exist for other languages too) checks
the signature and that the timestamp is within five minutes. A message may arrive more than
once (after a timeout): ``webhook-id`` is the same each time, so keep the ids you have
handled. Answer 2xx quickly; anything else is retried (10 s, doubling up to an hour, for
three days).

A body: ``{"type": "job.held", "timestamp": 1790000000, "data": {"job_id": "job_…",
"office_code": "74.08.01.2002", "state": "held", "reason": null, "message_id": "msg_…"}}``.
Types: job.held (ready to collect: tell the resident, with the claim code you got when you
pushed the job), job.printed, job.handed_over, job.cancelled, job.expired, job.failed.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

HOOK = Webhook(os.environ["CEDOKA_WEBHOOK_SECRET"])
SEEN: set[str] = set()  # use your database in real life


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            message = HOOK.verify(body, dict(self.headers.items()))
        except WebhookVerificationError:
            self.send_response(400)
            self.end_headers()
            return
        if self.headers["webhook-id"] not in SEEN:
            SEEN.add(self.headers["webhook-id"])
            # e.g. send the resident "Dokumen Anda siap diambil" on job.held
            print(json.dumps(message), flush=True)
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    port = int(os.environ.get("CEDOKA_WEBHOOK_PORT", "8081"))
    print(f"listening on 127.0.0.1:{port}", flush=True)
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
