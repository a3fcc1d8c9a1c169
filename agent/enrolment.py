"""``cedoka enroll``: make this PC a kiosk of one district.

The device keys are generated here and never leave the PC; the one-time code binds them
to the district (HMAC) and carries the district root's fingerprint, which the answer must
match before the root is pinned. Order of writes, for a crash at any point: keys, then the
spool with the pinned trust, then ``agent.toml`` last — its presence means "enrolled".

The trusted-time floor starts at 0 (protocol 4.4 step 7): the answer's ``server_time`` is
not signed by the root — a district clock that is wrong, or anyone holding the code (who
can MAC any answer), could otherwise set the floor years ahead and have every honest head
refused. Only a verified head's ``iat`` raises the floor (9.2).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from agent import trust as trust_store
from agent.client import enroll as enroll_request
from agent.files import private_dir
from agent.home import HomeLayout
from agent.keys import DeviceKeys
from agent.settings import save_config
from agent.spool import Spool
from kiosk.config import AgentConfig, parse_printer_target, validate_agent_config
from kiosk.errors import ConfigError, OperatorError
from kiosk.verify import TrustState, verify_keyring

log = logging.getLogger("cedoka.agent.enrol")


@dataclass(frozen=True)
class Enrolled:
    device_id: str
    district_code: str
    district_name: str
    office_code: str
    office_name: str


def enroll(
    home: Path, *, server_url: str, code: str, printers: dict[str, str], agent: str,
    verify: str | bool = True, request_timeout_s: float = 30,
) -> Enrolled:  # fmt: skip
    """Enrol over HTTP and write the kiosk's home.

    Raises:
        OperatorError: already enrolled; ConfigError: a bad --printer or server URL (checked
        before the network); RejectedError / TransportError from the district.
    """
    if HomeLayout(home).config.exists():
        raise OperatorError(f"{home} is already enrolled; use another --home to enrol again")
    from kiosk.config import PrinterRole

    for role, uri in printers.items():  # refuse a bad printer before the code is spent
        parse_printer_target(PrinterRole(role), uri)
    if "a4" not in printers:
        raise ConfigError(
            "printers.a4", "required: documents print on the A4 printer "
            "(--printer a4=cups:QUEUE, or a4=virtual:/folder for a demo)",
        )  # fmt: skip
    validate_agent_config({
        "server_url": server_url, "device_id": "dev_00000000000000000000000000",
        "district_code": "11.01", "office_code": "11.01.01.2001", "printers": printers,
    })  # fmt: skip
    keys = DeviceKeys.generate()
    answer = enroll_request(
        base_url=server_url, code_text=code, auth_key=keys.auth, seal_key=keys.seal,
        agent=agent, request_timeout_s=request_timeout_s, verify=verify,
    )  # fmt: skip
    keyring = verify_keyring(
        answer.keyring_token, district_code=answer.district_code, root_key=answer.root_key,
        current=None,
    )  # fmt: skip
    private_dir(home)
    keys.save(home)
    spool = Spool(HomeLayout(home).spool)
    try:
        trust = TrustState(
            district_code=answer.district_code, device_id=answer.device_id,
            root_key=answer.root_key, keyring=keyring, head=None, time_floor_s=0,
        )  # fmt: skip
        trust_store.pin(spool, trust, answer.keyring_token)
    finally:
        spool.close()
    raw: dict[str, object] = {
        "server_url": server_url, "device_id": answer.device_id,
        "district_code": answer.district_code, "office_code": answer.office_code,
        "printers": printers, "office_name": " ".join(answer.office_name.split())[:80],
    }  # fmt: skip
    config: AgentConfig = validate_agent_config(raw)
    save_config(home, config)
    log.info(
        "event=enrolled device=%s office=%s server_clock_offset_s=%d", answer.device_id,
        answer.office_code, answer.server_time_s - int(time.time()),
    )  # fmt: skip
    return Enrolled(answer.device_id, answer.district_code, answer.district_name,
                    answer.office_code, answer.office_name)  # fmt: skip
