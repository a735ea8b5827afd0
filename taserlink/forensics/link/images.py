"""The device downloads a linkage reads: every ``*.tdi`` of a folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from taserlink.errors import LinkError, TaserlinkError
from taserlink.format import Image, read_image

__all__ = ["IMAGE_SUFFIX", "image_paths", "read_images"]

IMAGE_SUFFIX: Final = ".tdi"
"""The suffix of dataport images (any case)."""


def image_paths(directory: str | os.PathLike[str]) -> list[Path]:
    """Every ``*.tdi`` file directly in ``directory`` (suffix in any case), by name.

    Raises:
        LinkError: ``directory`` is not a directory, or holds no image.
    """
    folder = Path(directory)
    try:
        paths = sorted(
            p for p in folder.iterdir() if p.suffix.lower() == IMAGE_SUFFIX and p.is_file()
        )
    except OSError as error:
        raise LinkError(f"{directory}: cannot list images: {error.strerror or error}") from None
    if not paths:
        raise LinkError(f"{directory}: no {IMAGE_SUFFIX} images in it")
    return paths


def read_images(directory: str | os.PathLike[str]) -> dict[str, Image]:
    """Every image of :func:`image_paths`, by its path as text.

    Raises:
        LinkError: no directory, no image, or an image that cannot be read or parsed
            (naming it; a cut download too — re-download it or leave it out).
        ImageIOError: an image file cannot be read (its message names it).
    """
    images: dict[str, Image] = {}
    for path in image_paths(directory):
        try:
            images[str(path)] = read_image(path)
        except TaserlinkError as error:
            if isinstance(error, OSError):
                raise
            raise LinkError(f"{path}: {error}") from error
    return images
