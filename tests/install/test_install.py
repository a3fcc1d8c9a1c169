"""install.sh: the production modes into a throw-away root (``--root DIR``), the usage errors,
and the development venv's pip stamp (``--demo`` after ``--test`` installs nothing).

The installs are real: each release gets its own venv, and pip installs this project
(non-editable) with its extras and all their dependencies. What cannot run here - apt,
useradd, chown, systemctl, udevadm, a graphical login - is skipped under ``--root`` and
checked only through the lines that say so; the units are checked by ``systemd-analyze
verify``.

The kiosk tests share one root, in stages that are module fixtures: the install, an upgrade
from a changed source tree, a re-run of that tree, the district added beside the kiosk, and
(the last test of the file) the uninstall. Each stage keeps a snapshot of the files, so a test
reads the stage it names even though later stages change the root. The district alone is
installed by the unprivileged user ``nobody`` when the tests run as root.
"""

from __future__ import annotations

import configparser
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.commands import EXIT_REVOKED
from agent.settings import CONFIG_NAME
from district.cli import EXIT_USAGE

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
AGENT_UNIT = "cedoka-agent.service"
DISTRICT_UNIT = "cedoka-district.service"
UPDATE_SERVICE, UPDATE_TIMER = "cedoka-update.service", "cedoka-update.timer"
KIOSK_EXTRAS = "printers,ui,window"
CUPSD_ORIGINAL = (  # no PreserveJobFiles line, and no newline at the end
    "LogLevel warn\nMaxLogSize 0\nListen localhost:631\n<Location />\n  Order allow,deny\n"
    "</Location>"
)
# The environment the tests do not hand on to install.sh: it must not depend on them.
DROPPED_ENV = (
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CEDOKA_HOME", "CEDOKA_DISTRICT_HOME",
    "CEDOKA_KIOSK_URL_FILE", "CEDOKA_PYTHON", "DISPLAY", "WAYLAND_DISPLAY", "CI",
)  # fmt: skip


def _setup_cfg() -> configparser.RawConfigParser:
    config = configparser.RawConfigParser()
    config.read(REPO / "setup.cfg")
    return config


VERSION = _setup_cfg()["metadata"]["version"]
PACKAGES = sorted(
    {name.split(".")[0] for name in _setup_cfg()["options.packages.find"]["include"].split()}
)
RELEASE_NAME = re.compile(rf"{re.escape(VERSION)}-[0-9a-f]{{12}}")


# --- running install.sh ------------------------------------------------------------------------


def _nobody() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


# When the tests run as root, the unprivileged runs go through setpriv as nobody.
AS_ROOT = os.geteuid() == 0
NOBODY = _nobody() if AS_ROOT and shutil.which("setpriv") else None


def unprivileged_prefix() -> list[str]:
    """The command prefix that runs a command as a user other than root."""
    if not AS_ROOT:
        return []
    if NOBODY is None:
        pytest.skip("running as root without setpriv or a user 'nobody'")
    return ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups"]


def run(
    command: list[str | Path],
    *,
    ci: bool = True,
    unprivileged: bool = False,
    home: Path | None = None,
    cwd: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with no standard input (as CI does) and CI=true unless ``ci`` is off."""
    env = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
    if ci:
        env["CI"] = "true"
    if home is not None:
        env["HOME"] = str(home)
        env.pop("XDG_CACHE_HOME", None)
        env.pop("TMPDIR", None)
    env.update(extra_env or {})
    prefix = unprivileged_prefix() if unprivileged else []
    return subprocess.run(
        [*prefix, *map(str, command)], stdin=subprocess.DEVNULL, capture_output=True,
        text=True, env=env, cwd=cwd, check=False,
    )  # fmt: skip


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n"
        + (result.stderr[-4000:])
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, explain(result)
    return result


def copy_source(dest: Path) -> Path:
    """A snapshot of what install.sh installs from (the tree may change while tests run)."""
    dest.mkdir(parents=True)
    for name in ("install.sh", "setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for name in ("deploy", *PACKAGES):
        shutil.copytree(
            REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    return dest


# --- snapshots of a root ------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    mode: int  # permission bits
    kind: str  # "dir", "file", "link"
    content: str | None = None  # a file's text, a link's target


def snapshot(root: Path) -> dict[str, Entry]:
    """Every path under ``root`` (relative), without descending into a release's venv or the
    systemd units copied in for ``systemd-analyze``."""
    entries: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        if rel_dir in {"opt/cedoka/releases", "usr/lib/systemd"}:
            for name in dirnames:
                entries[f"{rel_dir}/{name}"] = Entry(0, "dir")
            dirnames.clear()
            continue
        for name in [*dirnames, *filenames]:
            path = here / name
            rel = path.relative_to(root).as_posix()
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = Entry(mode, "link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[rel] = Entry(mode, "dir")
            elif rel.endswith(".lock"):
                entries[rel] = Entry(mode, "file")
            else:
                entries[rel] = Entry(mode, "file", path.read_text())
    return entries


@dataclass(frozen=True)
class Stage:
    result: subprocess.CompletedProcess[str]
    files: dict[str, Entry]

    def text(self, rel: str) -> str:
        entry = self.files[rel]
        assert entry.content is not None, rel
        return entry.content

    def link(self, rel: str) -> str | None:
        entry = self.files.get(rel)
        return entry.content if entry is not None and entry.kind == "link" else None

    @property
    def releases(self) -> set[str]:
        prefix = "opt/cedoka/releases/"
        return {rel.removeprefix(prefix) for rel in self.files if rel.startswith(prefix)}

    @property
    def out(self) -> str:
        return self.result.stdout


def take(root: Path, result: subprocess.CompletedProcess[str]) -> Stage:
    return Stage(succeeded(result), snapshot(root))


def marker(root: Path, release_link: str) -> dict[str, str]:
    """The key=value lines of a release's .cedoka-release."""
    lines = (root / "opt/cedoka" / release_link / ".cedoka-release").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def unit_settings(text: str) -> dict[str, list[str]]:
    """``Section.Key`` → every value given (systemd allows repeated keys)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key}", []).append(value)
    return settings


def env_file(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def verify_unit(root: Path, unit: str) -> str:
    """``systemd-analyze verify`` on ``unit`` installed in ``root``, every path (ExecStart=
    included) resolved inside ``root``; returns what it printed. It exits 0 even for an
    unknown option (it says "ignoring"), so the output is what counts. The units systemd
    ships (sysinit.target …) come from this machine."""
    assert SYSTEMD_ANALYZE is not None
    units = root / "usr/lib/systemd/system"
    if not units.exists():
        shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", f"--root={root}", "--man=no", "--generators=no", unit],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}".strip()


needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (apt package systemd)"
)


# --- the shipped files, as they are -------------------------------------------------------------


def test_agent_unit_matches_the_agent_and_its_environment_file() -> None:
    unit = unit_settings((DEPLOY / "systemd" / AGENT_UNIT).read_text())
    env = env_file((DEPLOY / "env/agent.env").read_text())
    desktop = (DEPLOY / "xdg/cedoka-kiosk.desktop").read_text()

    assert unit["Service.ExecStart"] == ["/opt/cedoka/current/bin/cedoka run"]
    assert unit["Service.User"] == unit["Service.Group"] == ["cedoka"]
    assert unit["Unit.ConditionPathExists"] == [f"/var/lib/cedoka/{CONFIG_NAME}"]
    assert unit["Service.RestartPreventExitStatus"] == [str(EXIT_REVOKED)]
    assert unit["Service.Restart"] == ["on-failure"]
    assert unit["Unit.After"] == ["network-online.target cups.service"]
    assert unit["Unit.Wants"] == ["network-online.target cups.service"]
    assert unit["Service.EnvironmentFile"] == ["/etc/cedoka/agent.env"]
    # The environment file's paths are the directories systemd makes for the unit.
    assert env["CEDOKA_HOME"] == "/var/lib/" + unit["Service.StateDirectory"][0]
    assert env["CEDOKA_KIOSK_URL_FILE"] == f"/run/{unit['Service.RuntimeDirectory'][0]}/kiosk-url"
    assert (
        env["ESCPOS_CAPABILITIES_PICKLE_DIR"] == "/var/cache/" + unit["Service.CacheDirectory"][0]
    )
    assert unit["Service.StateDirectoryMode"] == ["0700"]
    assert unit["Service.RuntimeDirectoryMode"] == ["0750"]
    assert unit["Service.UMask"] == ["0077"]
    # The window reads the file the agent writes.
    assert (
        f"Exec=env CEDOKA_KIOSK_URL_FILE={env['CEDOKA_KIOSK_URL_FILE']} "
        "/opt/cedoka/current/bin/cedoka kiosk --wait 300\n" in desktop
    )
    # Hardening, and the printer ports it leaves open.
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "CapabilityBoundingSet": "", "DevicePolicy": "closed",
        "SystemCallFilter": "@system-service", "SystemCallArchitectures": "native",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "SupplementaryGroups": "lp dialout",
    }.items():  # fmt: skip
        assert unit[f"Service.{key}"] == [value], key
    assert set(unit["Service.DeviceAllow"]) >= {
        "char-usb_device rw", "char-usb rw", "char-ttyUSB rw", "char-ttyACM rw",
    }  # fmt: skip
    assert "Service.MemoryDenyWriteExecute" not in unit  # cffi/libffi
    assert "Service.PrivateDevices" not in unit  # it would hide the USB printers


def test_district_unit_matches_the_server_and_its_environment_file() -> None:
    unit = unit_settings((DEPLOY / "systemd" / DISTRICT_UNIT).read_text())
    env = env_file((DEPLOY / "env/district.env").read_text())

    assert unit["Service.ExecStart"] == [
        "/opt/cedoka/current/bin/cedoka-district serve $CEDOKA_SERVE_ARGS"
    ]
    assert unit["Service.User"] == unit["Service.Group"] == ["cedoka-district"]
    # What `cedoka-district init` creates on either store (district.sqlite is SQLite's only).
    assert unit["Unit.ConditionPathIsDirectory"] == ["/var/lib/cedoka-district/keys"]
    assert unit["Service.RestartPreventExitStatus"] == [str(EXIT_USAGE)]
    assert env["CEDOKA_DISTRICT_HOME"] == "/var/lib/" + unit["Service.StateDirectory"][0]
    assert env["CEDOKA_SERVE_ARGS"] == "--listen 127.0.0.1:8700"
    assert unit["Service.PrivateDevices"] == ["yes"]
    assert unit["Service.ProtectSystem"] == ["strict"]
    assert unit["Service.CapabilityBoundingSet"] == [""]


def test_udev_rule_gives_group_lp_read_and_write_on_printer_class_usb_devices() -> None:
    rules = (DEPLOY / "udev/70-cedoka-receipt.rules").read_text()
    active = [line for line in rules.splitlines() if line and not line.startswith("#")]
    assert 'ENV{ID_USB_INTERFACES}=="*:0701??:*", GROUP="lp", MODE="0660"' in active
    for vendor, product in (("04b8", "0202"), ("0fe6", "811e"), ("0416", "5011")):
        assert (
            f'ATTR{{idVendor}}=="{vendor}", ATTR{{idProduct}}=="{product}", GROUP="lp", '
            'MODE="0660"' in active
        )
    assert 'ENV{DEVTYPE}!="usb_device", GOTO="cedoka_receipt_end"' in active


# --- the kiosk: install, upgrade, re-run, district beside it, uninstall -------------------------


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two source trees: this one, and a newer one (one module changed)."""
    base = tmp_path_factory.mktemp("sources")
    first, second = copy_source(base / "first"), copy_source(base / "second")
    with (second / "ui" / "__init__.py").open("a") as module:
        module.write("# a newer release (tests/install)\n")
    return first, second


@pytest.fixture(scope="module")
def kiosk_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("kiosk-root")
    yield root
    shutil.rmtree(root, ignore_errors=True)  # a release is ≈ 650 MB


@pytest.fixture(scope="module")
def installed(kiosk_root: Path, sources: tuple[Path, Path]) -> Stage:
    (kiosk_root / "etc/cups").mkdir(parents=True)
    (kiosk_root / "etc/cups/cupsd.conf").write_text(CUPSD_ORIGINAL)
    result = run([sources[0] / "install.sh", "--root", kiosk_root, "--kiosk-user", "staff"])
    return take(kiosk_root, result)


@pytest.fixture(scope="module")
def upgraded(installed: Stage, kiosk_root: Path, sources: tuple[Path, Path]) -> Stage:
    """The newer tree installed over the first, after the admin and the agent changed things."""
    (kiosk_root / "var/lib/cedoka/marker").write_text("the agent's state\n")
    with (kiosk_root / "etc/cedoka/agent.env").open("a") as env:
        env.write("# edited by the admin\nCEDOKA_EXAMPLE=1\n")
    (kiosk_root / "etc/cups/cupsd.conf").write_text(
        "LogLevel warn\n  PreserveJobFiles Yes\nListen localhost:631\n"
    )
    (kiosk_root / "opt/cedoka/releases/0.0.9-000000000000").mkdir()  # an older release
    return take(kiosk_root, run([sources[1] / "install.sh", "--root", kiosk_root]))


@pytest.fixture(scope="module")
def rerun(upgraded: Stage, kiosk_root: Path, sources: tuple[Path, Path]) -> Stage:
    return take(kiosk_root, run([sources[1] / "install.sh", "--root", kiosk_root]))


@pytest.fixture(scope="module")
def with_district(rerun: Stage, kiosk_root: Path, sources: tuple[Path, Path]) -> Stage:
    return take(kiosk_root, run([sources[1] / "install.sh", "--district", "--root", kiosk_root]))


def test_kiosk_install_says_what_it_skipped_under_root(installed: Stage) -> None:
    for skipped in (
        "skipped under --root: apt-get install cups python3-venv build-essential python3-dev "
        "libcups2-dev libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0",
        "skipped under --root: useradd --system cedoka",
        "skipped under --root: chown cedoka:cedoka ",
        "skipped under --root: usermod -a -G cedoka staff",
        "skipped under --root: systemctl try-restart cups.service",
        "skipped under --root: udevadm control --reload",
        "skipped under --root: udevadm trigger --subsystem-match=usb",
        "skipped under --root: systemctl daemon-reload",
        "skipped under --root: systemctl enable cedoka-agent.service",
        "skipped under --root: systemctl enable --now cedoka-update.timer",
    ):
        assert skipped in installed.out
    assert "sudo -u cedoka cedoka enroll --server" in installed.out  # the next steps
    assert "systemctl start cedoka-agent" in installed.out


def test_kiosk_install_lays_out_release_config_state_and_units(installed: Stage) -> None:
    files = installed.files
    (release,) = installed.releases
    assert RELEASE_NAME.fullmatch(release)
    assert installed.link("opt/cedoka/current") == f"releases/{release}"  # relative
    assert installed.link("opt/cedoka/previous") is None
    assert files["var/lib/cedoka"] == Entry(0o700, "dir")
    for rel, shipped in {
        "etc/cedoka/agent.env": "env/agent.env",
        f"etc/systemd/system/{AGENT_UNIT}": f"systemd/{AGENT_UNIT}",
        f"etc/systemd/system/{UPDATE_SERVICE}": f"systemd/{UPDATE_SERVICE}",
        f"etc/systemd/system/{UPDATE_TIMER}": f"systemd/{UPDATE_TIMER}",
        "etc/xdg/autostart/cedoka-kiosk.desktop": "xdg/cedoka-kiosk.desktop",
        "etc/udev/rules.d/70-cedoka-receipt.rules": "udev/70-cedoka-receipt.rules",
        "etc/modules-load.d/cedoka-serial.conf": "modules-load/cedoka-serial.conf",
    }.items():
        assert files[rel] == Entry(0o644, "file", (DEPLOY / shipped).read_text()), rel
    assert "etc/cedoka/agent.env.new" not in files
    assert f"etc/systemd/system/{DISTRICT_UNIT}" not in files
    assert installed.link("usr/local/bin/cedoka") == "../../../opt/cedoka/current/bin/cedoka"


def test_kiosk_release_is_a_real_install_that_runs(installed: Stage, kiosk_root: Path) -> None:
    current = str(installed.link("opt/cedoka/current"))
    release = kiosk_root / "opt/cedoka" / current
    assert marker(kiosk_root, current)["extras"] == KIOSK_EXTRAS
    cedoka = release / "bin/cedoka"
    assert succeeded(run([cedoka, "--version"])).stdout == f"cedoka {VERSION}\n"
    assert "FAIL" not in succeeded(run([cedoka, "selftest"])).stdout
    # Non-editable: the code is a copy inside the release, not this tree; the drivers of the
    # extras are there. (-I: not the current directory first on sys.path)
    imports = "import kiosk, cups, escpos.printer, webview, fastapi, pypdfium2"
    probe = succeeded(
        run([release / "bin/python", "-I", "-c", f"{imports}; print(kiosk.__file__)"])
    )
    assert Path(probe.stdout.strip()).resolve().is_relative_to(release.resolve())
    (direct_url,) = release.glob("lib/python3*/site-packages/cedoka-*.dist-info/direct_url.json")
    assert not json.loads(direct_url.read_text()).get("dir_info", {}).get("editable", False)


def test_cupsd_conf_without_the_line_gets_it_appended_with_a_backup(installed: Stage) -> None:
    assert installed.text("etc/cups/cupsd.conf") == CUPSD_ORIGINAL + (
        "\n# Cedoka (install.sh): keep no document files after printing.\nPreserveJobFiles No\n"
    )
    assert installed.text("etc/cups/cupsd.conf.cedoka-orig") == CUPSD_ORIGINAL
    assert "skipped under --root: systemctl try-restart cups.service" in installed.out


@needs_systemd_analyze
def test_installed_agent_unit_passes_systemd_analyze_verify(
    installed: Stage, kiosk_root: Path
) -> None:
    assert verify_unit(kiosk_root, AGENT_UNIT) == "exit 0"


@needs_systemd_analyze
def test_installed_self_update_units_pass_systemd_analyze_verify(
    installed: Stage, kiosk_root: Path
) -> None:
    for unit in (UPDATE_SERVICE, UPDATE_TIMER):
        assert verify_unit(kiosk_root, unit) == "exit 0", unit
    service = (DEPLOY / "systemd" / UPDATE_SERVICE).read_text()
    assert "ExecStart=/opt/cedoka/current/bin/cedoka update\n" in service
    assert "SuccessExitStatus=8\n" in service  # waiting for the printer is no failure


@needs_systemd_analyze
def test_systemd_analyze_verify_reports_a_misspelt_option(
    installed: Stage, kiosk_root: Path
) -> None:
    """The check above can fail: a unit with a typo does not pass."""
    unit = (kiosk_root / "etc/systemd/system" / AGENT_UNIT).read_text()
    typo = kiosk_root / "etc/systemd/system/cedoka-typo.service"
    typo.write_text(unit.replace("ProtectClock=yes", "ProtectClok=yes"))
    try:
        assert "Unknown key 'ProtectClok'" in verify_unit(kiosk_root, typo.name)
    finally:
        typo.unlink()


def test_upgrade_keeps_the_state_and_the_edited_configuration(upgraded: Stage) -> None:
    assert upgraded.text("var/lib/cedoka/marker") == "the agent's state\n"
    assert upgraded.files["var/lib/cedoka"].mode == 0o700
    assert upgraded.text("etc/cedoka/agent.env").endswith("CEDOKA_EXAMPLE=1\n")
    assert upgraded.text("etc/cedoka/agent.env.new") == (DEPLOY / "env/agent.env").read_text()
    assert "kept your /etc/cedoka/agent.env" in upgraded.out
    assert "agent.env.new" in upgraded.out


def test_upgrade_switches_current_keeps_previous_and_prunes_older(
    installed: Stage, upgraded: Stage, kiosk_root: Path
) -> None:
    first = installed.link("opt/cedoka/current")
    new = upgraded.link("opt/cedoka/current")
    assert new != first
    assert new is not None
    assert RELEASE_NAME.fullmatch(new.removeprefix("releases/"))
    assert upgraded.link("opt/cedoka/previous") == first
    assert {f"releases/{name}" for name in upgraded.releases} == {first, new}
    assert "pruned: /opt/cedoka/releases/0.0.9-000000000000" in upgraded.out
    assert not any(rel.startswith("opt/cedoka/.") and "tmp" in rel for rel in upgraded.files)


def test_upgrade_replaces_preservejobfiles_yes_and_keeps_the_first_backup(
    upgraded: Stage,
) -> None:
    assert upgraded.text("etc/cups/cupsd.conf") == (
        "LogLevel warn\nPreserveJobFiles No\nListen localhost:631\n"
    )
    assert upgraded.text("etc/cups/cupsd.conf.cedoka-orig") == CUPSD_ORIGINAL


def test_rerun_of_the_same_source_changes_nothing(upgraded: Stage, rerun: Stage) -> None:
    assert rerun.files == upgraded.files
    for said in (
        "already built: /opt/cedoka/releases/",
        "current is already",
        "unchanged: /etc/systemd/system/cedoka-agent.service",
        "already set",
    ):
        assert said in rerun.out
    assert "pip install" not in rerun.out


def test_district_beside_the_kiosk_shares_one_release_with_both_extras(
    rerun: Stage, with_district: Stage, kiosk_root: Path
) -> None:
    assert marker(kiosk_root, "current")["extras"] == "district," + KIOSK_EXTRAS
    assert with_district.link("opt/cedoka/previous") == rerun.link("opt/cedoka/current")
    assert with_district.files["var/lib/cedoka-district"] == Entry(0o700, "dir")
    assert with_district.text("etc/cedoka/district.env") == (
        (DEPLOY / "env/district.env").read_text()
    )
    assert with_district.text("var/lib/cedoka/marker") == "the agent's state\n"
    assert with_district.link("usr/local/bin/cedoka-district") == (
        "../../../opt/cedoka/current/bin/cedoka-district"
    )
    assert succeeded(run([kiosk_root / "opt/cedoka/current/bin/cedoka-district", "--version"]))


def test_uninstall_under_ci_keeps_the_state_and_says_so_then_purge_removes_it(
    with_district: Stage, kiosk_root: Path
) -> None:
    """The last test of the kiosk's root: it removes everything."""
    district_gone = succeeded(run(["./install.sh", "--uninstall", "--district", "--root",
                                   kiosk_root], cwd=REPO))  # fmt: skip
    assert "kept: /opt/cedoka (the installed cedoka-agent runs from it)" in district_gone.stdout
    assert (kiosk_root / "opt/cedoka/current/bin/cedoka").exists()

    result = succeeded(run(["./install.sh", "--uninstall", "--root", kiosk_root], cwd=REPO))
    left = snapshot(kiosk_root)
    for removed in (
        "opt/cedoka", f"etc/systemd/system/{AGENT_UNIT}", f"etc/systemd/system/{DISTRICT_UNIT}",
        f"etc/systemd/system/{UPDATE_SERVICE}", f"etc/systemd/system/{UPDATE_TIMER}",
        "etc/xdg/autostart/cedoka-kiosk.desktop", "etc/udev/rules.d/70-cedoka-receipt.rules",
        "etc/modules-load.d/cedoka-serial.conf", "usr/local/bin/cedoka",
        "usr/local/bin/cedoka-district",
    ):  # fmt: skip
        assert removed not in left, removed
    assert left["var/lib/cedoka/marker"].content == "the agent's state\n"
    assert "etc/cedoka/agent.env" in left
    assert "(CI is set: not asking whether to delete it)" in result.stdout
    assert "kept: /var/lib/cedoka" in result.stdout
    assert f"./install.sh --uninstall --purge --root {kiosk_root}" in result.stdout
    assert "skipped under --root: systemctl disable --now cedoka-agent.service" in result.stdout

    purged = succeeded(run(["./install.sh", "--uninstall", "--purge", "--root", kiosk_root],
                           cwd=REPO))  # fmt: skip
    left = snapshot(kiosk_root)
    assert "var/lib/cedoka" not in left
    assert "etc/cedoka/agent.env" not in left
    assert "var/lib/cedoka-district" in left  # the district's state is its own to purge
    assert "skipped under --root: userdel cedoka" in purged.stdout
    assert left["etc/cups/cupsd.conf"].content == (
        "LogLevel warn\nPreserveJobFiles No\nListen localhost:631\n"
    )  # a safe setting for any CUPS: left as it is


# --- the district alone, installed by an unprivileged user ---------------------------------------


@dataclass(frozen=True)
class DistrictInstall:
    source: Path
    root: Path
    home: Path
    stage: Stage


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory the unprivileged user can reach (pytest's own tmp root is 0700)."""
    base = Path(tempfile.mkdtemp(prefix="cedoka-install-test-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def readable_by_all(tree: Path) -> Path:
    subprocess.run(["chmod", "-R", "a+rX", str(tree)], check=True)
    return tree


def owned_by_the_unprivileged_user(path: Path) -> Path:
    path.mkdir()
    if AS_ROOT and NOBODY is not None:
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    return path


@pytest.fixture(scope="module")
def district() -> Iterator[DistrictInstall]:
    base = Path(tempfile.mkdtemp(prefix="cedoka-install-test-"))
    try:
        base.chmod(0o755)  # the unprivileged user reads the source and writes root and home
        source = readable_by_all(copy_source(base / "source"))
        root = owned_by_the_unprivileged_user(base / "root")
        home = owned_by_the_unprivileged_user(base / "home")
        result = run([source / "install.sh", "--district", "--root", root], unprivileged=True,
                     home=home)  # fmt: skip
        yield DistrictInstall(source, root, home, take(root, result))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_district_install_as_an_unprivileged_user(district: DistrictInstall) -> None:
    stage, root = district.stage, district.root
    assert stage.files["var/lib/cedoka-district"] == Entry(0o700, "dir")
    assert stage.text("etc/cedoka/district.env") == (DEPLOY / "env/district.env").read_text()
    assert stage.text(f"etc/systemd/system/{DISTRICT_UNIT}") == (
        (DEPLOY / "systemd" / DISTRICT_UNIT).read_text()
    )
    assert marker(root, "current")["extras"] == "district"
    for kiosk_only in ("var/lib/cedoka", "etc/xdg", "etc/udev", f"etc/systemd/system/{AGENT_UNIT}"):
        assert kiosk_only not in stage.files
    assert (root / "opt/cedoka/current/bin/cedoka-district").stat().st_uid == os.stat(
        district.home
    ).st_uid  # written by the installing user, nothing chowned
    for skipped in ("apt-get install python3-venv", "useradd --system cedoka-district",
                    "systemctl enable cedoka-district.service"):  # fmt: skip
        assert f"skipped under --root: {skipped}" in stage.out
    assert "cedoka-district --home /var/lib/cedoka-district init" in stage.out


def test_district_unit_starts_once_init_has_created_its_condition(
    district: DistrictInstall,
) -> None:
    """ConditionPathIsDirectory= names the directory `cedoka-district init` creates."""
    unit = unit_settings(district.stage.text(f"etc/systemd/system/{DISTRICT_UNIT}"))
    condition = district.root / unit["Unit.ConditionPathIsDirectory"][0].lstrip("/")
    assert not condition.exists()
    home = district.root / "var/lib/cedoka-district"
    cli = district.root / "opt/cedoka/current/bin/cedoka-district"
    succeeded(run([cli, "--home", home, "init", "--name", "Disdukcapil Uji", "--code", "74.08"],
                  unprivileged=True, home=district.home))  # fmt: skip
    assert condition.is_dir()


@needs_systemd_analyze
def test_installed_district_unit_passes_systemd_analyze_verify(
    district: DistrictInstall,
) -> None:
    assert verify_unit(district.root, DISTRICT_UNIT) == "exit 0"


def test_district_uninstall_without_a_terminal_keeps_the_state_then_purge_removes_it(
    district: DistrictInstall,
) -> None:
    root = district.root
    command: list[str | Path] = [
        district.source / "install.sh",
        "--uninstall",
        "--district",
        "--root",
        root,
    ]
    kept = succeeded(run(command, ci=False, unprivileged=True, home=district.home))
    assert not (root / "opt/cedoka").exists()
    assert not (root / f"etc/systemd/system/{DISTRICT_UNIT}").exists()
    assert not (root / "usr/local/bin/cedoka-district").exists()
    assert (root / "var/lib/cedoka-district").is_dir()
    assert (root / "etc/cedoka/district.env").is_file()
    assert "kept: /var/lib/cedoka-district" in kept.stdout
    assert "--purge" in kept.stdout
    assert "CI is set" not in kept.stdout  # no terminal either: not asked

    purged = succeeded(run([*command, "--purge"], unprivileged=True, home=district.home))
    assert not (root / "var/lib/cedoka-district").exists()
    assert not (root / "etc/cedoka").exists()  # empty once district.env is gone
    assert "skipped under --root: userdel cedoka-district" in purged.stdout


# --- the uninstall's question, on a terminal --------------------------------------------------


def left_over_state(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "var/lib/cedoka").mkdir(parents=True)
    (root / "etc/cedoka").mkdir(parents=True)
    (root / "etc/cedoka/agent.env").write_text("CEDOKA_HOME=/var/lib/cedoka\n")
    return root


def on_a_terminal(command: str, typed: str, *, ci: bool) -> subprocess.CompletedProcess[str]:
    """Run ``command`` on a pseudo-terminal (util-linux ``script``) and type ``typed``."""
    env = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        ["script", "--quiet", "--return", "--command", command, "/dev/null"],
        input=typed, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


needs_script = pytest.mark.skipif(shutil.which("script") is None, reason="no util-linux script")


@needs_script
@pytest.mark.parametrize(("typed", "deleted"), [("yes\n", True), ("no\n", False), ("y\n", False)])
def test_uninstall_on_a_terminal_deletes_the_state_only_after_yes(
    typed: str, deleted: bool, tmp_path: Path
) -> None:
    root = left_over_state(tmp_path)
    result = on_a_terminal(f"{REPO / 'install.sh'} --uninstall --root {root}", typed, ci=False)
    assert result.returncode == 0, explain(result)
    assert "Type yes to delete them" in result.stdout
    assert (root / "var/lib/cedoka").exists() is not deleted
    assert (root / "etc/cedoka/agent.env").exists() is not deleted


@needs_script
def test_uninstall_never_asks_under_ci_even_on_a_terminal(tmp_path: Path) -> None:
    root = left_over_state(tmp_path)
    result = on_a_terminal(f"{REPO / 'install.sh'} --uninstall --root {root}", "", ci=True)
    assert result.returncode == 0, explain(result)
    assert "Type yes" not in result.stdout
    assert "(CI is set: not asking whether to delete it)" in result.stdout
    assert (root / "var/lib/cedoka").exists()


# --- usage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--root", "relative/dir"], "--root needs an absolute path, not 'relative/dir'"),
        (["--root"], "--root needs a value"),
        (["--root", "--district"], "--root needs a value"),
        (["--root="], "--root needs a value"),
        (["--root", "/"], "leave --root out"),
        (["--kiosk-user"], "--kiosk-user needs a value"),
        (["--district", "--kiosk-user", "staff", "--root", "ROOT"], "kiosk install only"),
        (["--purge", "--root", "ROOT"], "--purge goes with --uninstall"),
        (["--no-such-flag"], "unknown option: --no-such-flag"),
        (["--root", "ROOT", "--test"], "--test comes alone"),
        (["--test", "--root", "ROOT"], "--test takes no other argument"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message_and_change_nothing(
    args: list[str], message: str, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    result = run([REPO / "install.sh", *(str(root) if a == "ROOT" else a for a in args)],
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, explain(result)
    assert message in result.stderr
    assert "--help" in result.stderr
    assert result.stdout == ""
    assert not root.exists()


def test_help_describes_every_mode() -> None:
    result = succeeded(run([REPO / "install.sh", "--help"]))
    for mode in ("--test", "--demo", "(no mode)", "--district", "--uninstall", "--purge",
                 "--root DIR", "--kiosk-user USER", "--help"):  # fmt: skip
        assert mode in result.stdout, mode


@pytest.mark.parametrize("args", [[], ["--district"], ["--uninstall", "--purge"]])
def test_production_modes_without_root_refuse_a_non_root_user(
    args: list[str], public_dir: Path
) -> None:
    """Run unprivileged only: as root without --root this would install for real."""
    script = public_dir / "install.sh"
    shutil.copy2(REPO / "install.sh", script)
    readable_by_all(public_dir)
    result = run([script, *args], unprivileged=True, home=Path("/nonexistent"))
    assert result.returncode == 1, explain(result)
    assert "run it as root" in result.stderr
    assert "--root DIR" in result.stderr
    assert "==> installing apt packages" not in result.stdout


# --- the development venv: the pip stamp, --demo ------------------------------------------------


FAKE_PYTHON = """#!/bin/sh
# A venv's python that records pip's installs instead of running them.
if [ "$1" = -m ] && [ "$2" = pip ]; then
    [ "$3" = --version ] && { echo "pip (fake)"; exit 0; }
    shift 2
    echo "$*" >>"$(dirname "$0")/../pip.log"
    exit 0
fi
exec {python} "$@"
"""


@pytest.fixture
def devtree(tmp_path: Path) -> Path:
    """A copy of the packaging files with a fake .venv (no pip runs) and fake system tools
    first on PATH: dpkg says every package is installed, apt-get and sudo fail loudly."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("install.sh", "setup.cfg", "pyproject.toml"):
        shutil.copy2(REPO / name, tree / name)
    for name in PACKAGES:
        (tree / name).mkdir()
        (tree / name / "__init__.py").write_text("")
    venv_bin = tree / ".venv/bin"
    venv_bin.mkdir(parents=True)
    fakes = {
        venv_bin / "python": FAKE_PYTHON.replace("{python}", sys.executable),
        venv_bin / "cedoka": '#!/bin/sh\necho "cedoka $* (in $PWD)"\n',
        tmp_path / "bin/dpkg": "#!/bin/sh\necho 'Status: install ok installed'\n",
        tmp_path / "bin/apt-get": "#!/bin/sh\necho 'apt-get must not run' >&2\nexit 99\n",
        tmp_path / "bin/sudo": "#!/bin/sh\necho 'sudo must not run' >&2\nexit 99\n",
        tmp_path / "bin/lpstat": '#!/bin/sh\n[ -n "$FAKE_QUEUE" ] && echo "$FAKE_QUEUE"\nexit 0\n',
    }
    for tool in ("ruff", "mypy", "pytest"):
        fakes[venv_bin / tool] = f"#!/bin/sh\necho '{tool} (fake) passed'\n"
    (tmp_path / "bin").mkdir()
    for path, text in fakes.items():
        path.write_text(text)
        path.chmod(0o755)
    return tree


def dev(tree: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    path = f"{tree.parent / 'bin'}:{os.environ['PATH']}"
    return run([tree / "install.sh", *args], cwd=tree.parent, extra_env={"PATH": path, **env})


def pip_log(tree: Path) -> list[str]:
    log = tree / ".venv/pip.log"
    return log.read_text().splitlines() if log.exists() else []


def test_demo_after_test_installs_nothing_and_execs_the_demo(devtree: Path) -> None:
    (devtree / ".venv/.cedoka-installed-test,district,printers,ui,window").write_text("old\n")
    succeeded(dev(devtree, "--test"))
    installs = pip_log(devtree)
    assert installs[-1].endswith("-e .[demo,district,printers,test,ui,window]")
    assert not list(devtree.glob(".venv/.cedoka-installed-*"))  # the older stamp is gone

    demo = succeeded(dev(devtree, "--demo", "--no-window", "--dir", "state", DISPLAY=":99",
                         FAKE_QUEUE="office-a4"))  # fmt: skip
    assert pip_log(devtree) == installs
    assert "up to date" in demo.stdout
    # exec'd with the arguments, in the caller's directory (relative paths keep their meaning)
    assert demo.stdout.endswith(f"cedoka demo --no-window --dir state (in {devtree.parent})\n")


def test_demo_extras_follow_the_display_and_the_cups_queues(devtree: Path) -> None:
    succeeded(dev(devtree, "--demo"))
    assert pip_log(devtree)[-1].endswith("-e .[demo,district,ui]")
    succeeded(dev(devtree, "--demo"))
    assert len(pip_log(devtree)) == 2  # pip upgrade + the install, once

    succeeded(dev(devtree, "--demo", DISPLAY=":99"))
    assert pip_log(devtree)[-1].endswith("-e .[demo,district,ui,window]")
    succeeded(dev(devtree, "--demo", FAKE_QUEUE="office-a4"))
    assert pip_log(devtree)[-1].endswith("-e .[demo,district,printers,ui]")
    # Everything installed so far is recorded: both together need nothing more.
    count = len(pip_log(devtree))
    succeeded(dev(devtree, "--demo", DISPLAY=":99", FAKE_QUEUE="office-a4"))
    assert len(pip_log(devtree)) == count
    assert (devtree / ".venv/.cedoka-installed").read_text().splitlines()[1] == (
        "demo,district,printers,ui,window"
    )


def test_changed_packaging_installs_again_and_forgets_the_older_extras(devtree: Path) -> None:
    succeeded(dev(devtree, "--demo", DISPLAY=":99"))
    count = len(pip_log(devtree))
    with (devtree / "setup.cfg").open("a") as setup:
        setup.write("# changed\n")
    succeeded(dev(devtree, "--demo"))
    assert len(pip_log(devtree)) == count + 2
    assert (devtree / ".venv/.cedoka-installed").read_text().splitlines()[1] == ("demo,district,ui")
