"""taserlink: conducted-energy-device (Taser) data forensics.

Layers, each importing only those below it: :mod:`taserlink.errors` ←
:mod:`taserlink.format` ← :mod:`taserlink.integrity` ← :mod:`taserlink.emulator` ←
:mod:`taserlink.cli`.
"""

from taserlink.errors import FormatError, TaserlinkError
from taserlink.format import EventCode, Image, read_image

__version__ = "0.1.0"

__all__ = ["EventCode", "FormatError", "Image", "TaserlinkError", "__version__", "read_image"]
