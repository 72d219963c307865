"""Encryption at rest for identity and free text: Fernet tokens under a key ring (MultiFernet).

Keys come from `HELPLINE_IDENTITY_KEYS` (comma-separated, newest first). The newest key encrypts;
every key in the ring decrypts, so a new key can be put in front while old tokens stay readable,
and `helpline keys rotate` then re-encrypts everything to the newest key without downtime.

The ring is process-wide and set explicitly by whoever starts the process (`create_app`, the CLI,
the worker): domain functions that encrypt or decrypt read it from here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from console.settings import Settings, SettingsError

ENV_VAR = "HELPLINE_IDENTITY_KEYS"
_ring: KeyRing | None = None


class CipherUnavailable(RuntimeError):
    """No key ring is configured in this process (a start-up step was skipped)."""


class KeyRing:
    """The keys of one process, newest first."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self.keys = tuple(keys)
        self._newest = Fernet(keys[0])
        self._multi = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._newest.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            # Never echo the token: it is the protected value's only form.
            raise InvalidToken(
                "a stored value cannot be decrypted with any configured key"
            ) from exc

    def rotate(self, token: str) -> str:
        """The same plaintext, encrypted under the newest key (the original timestamp is kept)."""
        return self._multi.rotate(token.encode("ascii")).decode("ascii")

    def is_current(self, token: str) -> bool:
        """True when the newest key already decrypts the token (nothing to rotate)."""
        try:
            self._newest.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True


def keyed_with_secret(secret_key: str, purpose: bytes, stored: str) -> bytes:
    """An HMAC key whose random half (`stored`, hex) is in the database and whose other half is
    the secret key, which never is: a copy of the database alone cannot rebuild it, so hashes
    kept beside `stored` cannot be tested against every phone number or address."""
    return hmac.new(
        secret_key.encode("utf-8"), purpose + bytes.fromhex(stored), hashlib.sha256
    ).digest()


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def parse_keys(raw: str) -> list[str]:
    """Validate a comma-separated key list; the error names the setting, never a key."""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SettingsError(
                f"{ENV_VAR}: key #{index + 1} is not a Fernet key (32 url-safe base64 bytes; "
                "make one with `helpline keys generate`)"
            ) from exc
    return keys


def _demo_keys(instance_dir: Path) -> list[str]:
    """The demo keeps one generated key in instance/ so stored identity survives a restart."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "identity_keys"
    if path.exists():
        return parse_keys(path.read_text())
    key = generate_key()
    path.write_text(key)
    path.chmod(0o600)
    return [key]


def keys_from_settings(settings: Settings) -> list[str]:
    """The configured keys; production without them fails at start-up with one clear line."""
    raw = settings.env.get(ENV_VAR, "").strip()
    if raw:
        keys = parse_keys(raw)
        if keys:
            return keys
    if settings.mode == "production":
        raise SettingsError(
            f"{ENV_VAR}: required outside demo and test, newest key first "
            "(make one with `helpline keys generate`)"
        )
    if settings.mode == "demo":
        return _demo_keys(settings.instance_dir)
    return [generate_key()]


def configure(keys: Sequence[str]) -> KeyRing:
    global _ring
    _ring = KeyRing(keys)
    return _ring


def configure_from_settings(settings: Settings) -> KeyRing:
    return configure(keys_from_settings(settings))


def ring() -> KeyRing:
    if _ring is None:
        raise CipherUnavailable(
            "no identity key ring is configured in this process (create_app, the CLI and the "
            "worker set it from HELPLINE_IDENTITY_KEYS)"
        )
    return _ring


def is_configured() -> bool:
    return _ring is not None


def encrypt(plaintext: str) -> str:
    return ring().encrypt(plaintext)


def decrypt(token: str) -> str:
    return ring().decrypt(token)


def random_ref(nbytes: int = 6) -> str:
    """A public reference that says nothing about what it names."""
    return secrets.token_hex(nbytes).upper()
