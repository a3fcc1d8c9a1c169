"""A running Cedoka on this machine for the benchmarks: the district server and an enrolled
``cedoka run`` as real processes (the same orchestration as ``cedoka demo``), plus pushes
through the district's own admin code, in this process.

    with Stack(tmp_dir) as stack:            # virtual A4 printer in tmp_dir/printed
        job_id = stack.push([("KK", pdf)])   # release=auto: prints on arrival
        ...
    stack.agent_log() / stack.district_log() # logfmt lines, ts= in UTC milliseconds
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from district.admin import DistrictAdmin
from district.keyring import Keys
from kiosk.model import ReleaseMode
from ui.demo import OFFICE_CODE, Demo, printer_choice

RESIDENT = "BENCH RESIDENT"  # a fake applicant: benchmarks never use real names


class Stack:
    def __init__(self, root: Path, *, printers: Sequence[str] = ()) -> None:
        self.root = root
        self.demo = Demo(root, printer_choice(root, printers), want_window=False,
                         stop=threading.Event(), say=lambda _line: None)  # fmt: skip
        self.server_url = ""
        self.device_id = ""
        self.screen_url = ""
        self._admin: DistrictAdmin | None = None

    def __enter__(self) -> Stack:
        try:
            self.demo.prepare()
            self.server_url = self.demo.start_district()
            self.device_id = self.demo.enrol(self.server_url)
            self.screen_url = self.demo.start_agent()
        except BaseException:
            self.demo.shutdown()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.demo.shutdown()

    @property
    def admin(self) -> DistrictAdmin:
        if self._admin is None:
            self._admin = DistrictAdmin(Keys.open(self.demo.district_home))
        return self._admin

    def push(self, documents: Sequence[tuple[str, bytes]], *,
             release: ReleaseMode = ReleaseMode.AUTO) -> str:  # fmt: skip
        """Push one job to the stack's kiosk; return its id (the push time is now)."""
        result = self.admin.push(office_code=OFFICE_CODE, resident=RESIDENT,
                                 documents=list(documents), release=release, copies=1,
                                 lifetime_s=3600)  # fmt: skip
        return result.job_id

    def pid(self, part: str) -> int:
        """The process id of ``agent`` or ``district``."""
        return next(p.proc.pid for p in self.demo.parts if p.name == part)

    @property
    def printed(self) -> Path:
        return self.root / "printed"

    def agent_log(self) -> str:
        return (self.root / "logs" / "agent.log").read_text(errors="replace")

    def district_log(self) -> str:
        return (self.root / "logs" / "district.log").read_text(errors="replace")

    def wait_printed(self, count: int, timeout_s: float = 120) -> None:
        """Until the virtual printer holds ``count`` PDFs."""
        deadline = time.monotonic() + timeout_s
        while len(list(self.printed.glob("*.pdf"))) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} documents not printed within {timeout_s:g} s")
            time.sleep(0.01)
