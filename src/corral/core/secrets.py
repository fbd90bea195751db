"""The server's master secret and the keys derived from it, one per purpose."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from corral.settings import Settings


def load_master_secret(settings: Settings) -> bytes:
    """``CORRAL_SECRET_KEY`` if set; otherwise a random secret kept in ``secret.key`` under the
    home directory, created on first use (mode 0600). Worker processes starting together agree on
    one file: creation is exclusive, and the losers read the winner's."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = Path(settings.home) / "secret.key"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        value = secrets.token_urlsafe(48).encode()
        handle.write(value)
    return value


def derive_key(master: bytes, purpose: str, length: int = 32) -> bytes:
    """An independent key for one purpose (cookie signing, checkpoint signing, encryption)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"corral", info=purpose.encode()
    ).derive(master)
