"""Where a verifier's trusted manufacturer roots come from (**contract**).

Paths the caller was given (the commands' ``--roots PATH``, repeatable) win; without any,
the paths in ``$TASERLINK_ROOTS`` (:data:`ROOTS_ENV`, separated by ``os.pathsep``, empty
entries ignored); without that, **no** root: every image's chain is then ``untrusted_root``.
A path is a PEM/DER certificate file or a directory of ``*.pem``, ``*.crt``, ``*.cer``,
``*.der`` (:meth:`TrustStore.from_paths`).  The emulator's TEST root is never trusted unless
named.

    roots = RootPaths.configured(["captures/test-root.pem"])
    trust = roots.load()
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from taserlink.errors import TrustStoreError
from taserlink.integrity.trust import TrustStore

__all__ = ["ROOTS_ENV", "RootPaths"]

ROOTS_ENV: Final = "TASERLINK_ROOTS"
"""Environment variable naming the trusted roots when none are given."""


@dataclass(frozen=True)
class RootPaths:
    """The trusted-root paths a verifier is configured with, and where they were named.

    Attributes:
        paths: files and directories of root certificates, in order; empty when none is
            configured.
        origin: where they were named, for messages: the caller's name for paths it was
            given (the commands say ``--roots``) or ``$TASERLINK_ROOTS``.
    """

    paths: tuple[str, ...]
    origin: str

    @classmethod
    def configured(
        cls,
        given: Iterable[str] | None,
        environment: Mapping[str, str] | None = None,
        *,
        given_origin: str = "given roots",
    ) -> RootPaths:
        """The paths ``given`` when there are any, else those of :data:`ROOTS_ENV` in
        ``environment`` (default ``os.environ``).  Never raises: whether the paths hold
        certificates is :meth:`load`'s question."""
        paths = tuple(given or ())
        if paths:
            return cls(paths, given_origin)
        if environment is None:
            environment = os.environ
        text = environment.get(ROOTS_ENV) or ""
        return cls(tuple(p for p in text.split(os.pathsep) if p), f"${ROOTS_ENV}")

    def load(self) -> TrustStore:
        """The trust store of these roots; an empty store (nothing trusted) when there is
        no path.

        Raises:
            TrustStoreError: a path is missing or unreadable, a file holds no certificate,
                or no root was found; the message starts with :attr:`origin`.
        """
        if not self.paths:
            return TrustStore(())
        try:
            return TrustStore.from_paths(self.paths)
        except TrustStoreError as error:
            raise TrustStoreError(f"{self.origin}: {error}") from error
