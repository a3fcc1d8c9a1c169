"""``<home>/agent.toml``: read with tomllib, written with tomli-w, validated by the core
(:func:`kiosk.config.validate_agent_config`) both ways."""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w

from agent.files import write_atomic
from agent.home import CONFIG_NAME, HomeLayout
from kiosk.config import AgentConfig, agent_config_to_raw, validate_agent_config
from kiosk.errors import ConfigError, OperatorError


def load_config(home: Path) -> AgentConfig:
    path = HomeLayout(home).config
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OperatorError(f"{path} missing: enrol this kiosk first ('cedoka enroll')") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(CONFIG_NAME, f"not valid TOML: {error}") from None
    return validate_agent_config(raw)


def save_config(home: Path, config: AgentConfig) -> None:
    raw = agent_config_to_raw(config)
    validate_agent_config(raw)  # the round trip must hold before anything is written
    header = b"# Cedoka agent settings (written by 'cedoka enroll'; see docs/operations.md)\n"
    write_atomic(HomeLayout(home).config, header + tomli_w.dumps(raw).encode())
