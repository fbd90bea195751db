"""Where the CLI finds the server and its key: flags, then environment, then the config file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from corral.sdk._calls import DEFAULT_URL


def config_path() -> Path:
    """``$CORRAL_CONFIG``, else ``$XDG_CONFIG_HOME/corral/config.json`` (``~/.config`` default)."""
    explicit = os.environ.get("CORRAL_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "corral" / "config.json"


@dataclass(frozen=True)
class Connection:
    url: str
    api_key: str | None


def load_saved() -> dict[str, str]:
    path = config_path()
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save(url: str, api_key: str) -> Path:
    """Store the server and key, readable by the owner only (0600)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "api_key": api_key}, handle, indent=2)
    os.chmod(path, 0o600)
    return path


def forget() -> bool:
    path = config_path()
    if path.exists():
        path.unlink()
        return True
    return False


def resolve(url: str | None, api_key: str | None) -> Connection:
    saved = load_saved()
    return Connection(
        url=(url or os.environ.get("CORRAL_URL") or saved.get("url") or DEFAULT_URL).rstrip("/"),
        api_key=api_key or os.environ.get("CORRAL_API_KEY") or saved.get("api_key"),
    )
