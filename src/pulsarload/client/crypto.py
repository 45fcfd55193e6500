"""End-to-end encryption in the official clients' wire format (pycryptodome underneath).

What the C++ and Java clients do, and so what this module does:
- a producer draws a random 32-byte AES data key and encrypts it for every recipient key name
  with that recipient's RSA public key (RSA-OAEP, SHA-1 and MGF1-SHA-1: OpenSSL's
  `RSA_PKCS1_OAEP_PADDING`); a fresh data key is drawn every 4 hours;
- each entry (a whole batch, after compression, before chunking) is encrypted with AES-256-GCM
  under a fresh 12-byte IV; the 16-byte tag follows the ciphertext;
- `MessageMetadata` carries one `EncryptionKeys(key name, encrypted data key, key metadata)`
  per recipient and the IV as `encryption_param`;
- a consumer decrypts the data key with the private key its `CryptoKeyReader` gives for one of
  the key names, caches it by the MD5 of the encrypted key, and decrypts before decompressing.

pycryptodome is used because it keeps the GIL off on 3.13t (its native code is loaded with
ctypes); `cryptography` has no free-threaded 3.13 wheel and does not build there.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from Crypto.Cipher import AES, PKCS1_OAEP
from Crypto.PublicKey import RSA
from Crypto.Random import get_random_bytes

from pulsarload.client.consumer_config import ConsumerCryptoFailureAction
from pulsarload.client.errors import CryptoError, InvalidConfiguration
from pulsarload.wire.messages import EncryptionKeys, key_values, properties_dict

if TYPE_CHECKING:
    from pulsarload.client.settings import CompressionType
    from pulsarload.wire.messages import MessageMetadata

__all__ = [
    "ConsumerCryptoFailureAction",
    "CryptoKeyReader",
    "EncryptionContext",
    "EncryptionKey",
    "MessageDecryptor",
    "MessageEncryptor",
]

_DATA_KEY_BYTES = 32
_IV_BYTES = 12
_TAG_BYTES = 16
#: How long a producer keeps one data key (the C++ and Java clients' 4 hours).
_DATA_KEY_LIFETIME_S = 4 * 3600.0
#: How long a consumer keeps a decrypted data key it has not used.
_CACHE_LIFETIME_S = 4 * 3600.0


class CryptoKeyReader:
    """Reads the RSA key pair from PEM files (the official default reader): every key name
    gets the same public key (producers) and private key (consumers). Subclass and override
    `get_public_key` / `get_private_key` to serve several names."""

    def __init__(self, public_key_path: str, private_key_path: str) -> None:
        for name, value in (
            ("public_key_path", public_key_path),
            ("private_key_path", private_key_path),
        ):
            if not isinstance(value, str):
                raise InvalidConfiguration(f"{name}: expected a path string, got {value!r}")
        self.public_key_path = public_key_path
        self.private_key_path = private_key_path

    @staticmethod
    def _read(path: str, what: str) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as err:
            raise CryptoError(f"cannot read the {what} key {path}: {err.strerror or err}") from None

    def get_public_key(
        self, key_name: str, metadata: Mapping[str, str]
    ) -> tuple[bytes, Mapping[str, str]]:
        """(PEM bytes, key metadata sent along with the encrypted data key)."""
        return self._read(self.public_key_path, "public"), {}

    def get_private_key(self, key_name: str, metadata: Mapping[str, str]) -> bytes:
        """PEM bytes of the private key for `key_name` (`metadata` came with the message)."""
        return self._read(self.private_key_path, "private")


def _rsa(pem: bytes, key_name: str, what: str) -> RSA.RsaKey:
    try:
        return RSA.import_key(pem)
    except (ValueError, IndexError, TypeError) as err:
        raise CryptoError(
            f"the {what} key for {key_name!r} is not an RSA PEM key ({err})"
        ) from None


class MessageEncryptor:
    """A producer's encryption state: the data key and its encrypted copies per key name."""

    def __init__(self, key_names: Sequence[str], reader: CryptoKeyReader) -> None:
        self._names = tuple(key_names)
        self._reader = reader
        self._lock = threading.Lock()
        self._data_key = b""
        self._born = -_DATA_KEY_LIFETIME_S
        self._wrapped: tuple[EncryptionKeys, ...] = ()
        self._renew()  # fails at producer creation when a key cannot be read or used

    def _renew(self) -> None:
        data_key = get_random_bytes(_DATA_KEY_BYTES)
        wrapped = []
        for name in self._names:
            pem, meta = self._reader.get_public_key(name, {})
            cipher = PKCS1_OAEP.new(_rsa(pem, name, "public"))
            try:
                value = cipher.encrypt(data_key)
            except (ValueError, TypeError) as err:
                raise CryptoError(f"encrypting the data key for {name!r} failed: {err}") from None
            wrapped.append(EncryptionKeys(key=name, value=value, metadata=key_values(meta or {})))
        self._data_key = data_key
        self._wrapped = tuple(wrapped)
        self._born = time.monotonic()

    def encrypt(
        self, payload: bytes | bytearray | memoryview
    ) -> tuple[bytes, tuple[EncryptionKeys, ...], bytes]:
        """(ciphertext with its tag, EncryptionKeys for the metadata, IV)."""
        with self._lock:
            if time.monotonic() - self._born > _DATA_KEY_LIFETIME_S:
                self._renew()
            key, wrapped = self._data_key, self._wrapped
        iv = get_random_bytes(_IV_BYTES)
        cipher = AES.new(key, AES.MODE_GCM, nonce=iv, mac_len=_TAG_BYTES)
        body, tag = cipher.encrypt_and_digest(bytes(payload))
        return body + tag, wrapped, iv


class MessageDecryptor:
    """A consumer's decryption state: data keys already unwrapped, by MD5 of their wrapping."""

    def __init__(self, reader: CryptoKeyReader) -> None:
        self._reader = reader
        self._lock = threading.Lock()
        self._keys: dict[bytes, tuple[bytes, float]] = {}

    def decrypt(self, md: MessageMetadata, payload: bytes | bytearray | memoryview) -> bytes:
        """The plaintext of an encrypted entry; raises `CryptoError` when no key fits."""
        iv = md.encryption_param
        data = bytes(payload)
        if not iv or len(data) < _TAG_BYTES:
            raise CryptoError("encrypted entry without an IV or shorter than its tag")
        last: Exception | None = None
        for ek in md.encryption_keys:
            digest = hashlib.md5(ek.value, usedforsecurity=False).digest()
            with self._lock:
                cached = self._keys.get(digest)
            try:
                key = cached[0] if cached else self._unwrap(ek)
                plain = self._open(key, iv, data)
            except CryptoError as err:
                last = err
                continue
            now = time.monotonic()
            with self._lock:
                self._keys[digest] = (key, now)
                stale = [d for d, (_, t) in self._keys.items() if now - t > _CACHE_LIFETIME_S]
                for d in stale:
                    del self._keys[d]
            return plain
        names = ", ".join(ek.key for ek in md.encryption_keys) or "none"
        raise CryptoError(f"cannot decrypt the message (key names: {names}): {last}")

    def _unwrap(self, ek: EncryptionKeys) -> bytes:
        pem = self._reader.get_private_key(ek.key, properties_dict(ek.metadata))
        try:
            return PKCS1_OAEP.new(_rsa(pem, ek.key, "private")).decrypt(ek.value)
        except (ValueError, TypeError) as err:
            raise CryptoError(f"the data key for {ek.key!r} does not open ({err})") from None

    @staticmethod
    def _open(key: bytes, iv: bytes, data: bytes) -> bytes:
        cipher = AES.new(key, AES.MODE_GCM, nonce=iv, mac_len=_TAG_BYTES)
        try:
            return cipher.decrypt_and_verify(data[:-_TAG_BYTES], data[-_TAG_BYTES:])
        except ValueError as err:
            raise CryptoError(f"the payload does not verify ({err})") from None


class EncryptionKey:
    """One recipient entry of an encrypted message (the official `pulsar.EncryptionKey`)."""

    def __init__(self, key: str, value: bytes, metadata: dict[str, str]) -> None:
        #: The key name; `value` is the data key encrypted for it; `metadata` came with it.
        self.key = key
        self.value = value
        self.metadata = metadata

    def __repr__(self) -> str:
        return (
            f"EncryptionKey(key={self.key}, value_len={len(self.value)}, metadata={self.metadata})"
        )


class EncryptionContext:
    """How a received message was encrypted (the official `pulsar.EncryptionContext`): what an
    application needs to decrypt a message delivered still encrypted (CONSUME)."""

    def __init__(self, md: MessageMetadata, decryption_failed: bool) -> None:
        self._md = md
        self._failed = decryption_failed

    def keys(self) -> list[EncryptionKey]:
        return [
            EncryptionKey(k.key, k.value, properties_dict(k.metadata))
            for k in self._md.encryption_keys
        ]

    def param(self) -> bytes:
        return self._md.encryption_param or b""

    def algorithm(self) -> str:
        return self._md.encryption_algo or ""

    def compression_type(self) -> CompressionType:
        from pulsarload.client.settings import CompressionType

        return CompressionType(int(self._md.compression or 0))

    def uncompressed_message_size(self) -> int:
        return self._md.uncompressed_size or 0 if self._md.compression else 0

    def batch_size(self) -> int:
        n = self._md.num_messages_in_batch
        return n if n is not None else -1

    def is_decryption_failed(self) -> bool:
        return self._failed

    def __repr__(self) -> str:
        return (
            f"EncryptionContext(algorithm={self.algorithm()}, "
            f"compression_type={self.compression_type().name}, "
            f"uncompressed_message_size={self.uncompressed_message_size()}, "
            f"is_decryption_failed={self._failed}, keys={self.keys()})"
        )
