"""Each floor of the library imports only the floors below it (design §2), read from the
source by ``tools/import_graph.py``: a new import upward, or between the device and the
emulator, fails here naming it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]

FLOORS = (
    ("errors",),
    ("serials", "atomic", "findings", "workers", "spreadsheet"),
    ("provenance",),
    ("format",),
    ("usb", "integrity", "timeline"),
    ("device", "emulator"),
    ("register",),
    ("forensics",),
    ("postuse",),
    ("returns",),
    ("report",),
    ("cli",),
    ("__main__",),
)
"""Lowest first; a floor may import only floors of a lower line (not its own line: the
host side never imports the emulator, nor the emulator the host side)."""


def _graph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools/import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("import_graph", module)
    spec.loader.exec_module(module)
    return module


def test_every_floor_imports_only_floors_below_it() -> None:
    level = {name: n for n, line in enumerate(FLOORS) for name in line}
    edges = _graph().edges(ROOT)
    unknown = sorted(set(edges) - set(level) - {"taserlink"})
    assert not unknown, f"floors not placed in FLOORS: {unknown}"
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in edges.items()
        if source != "taserlink"
        for target in targets
        if level.get(target, len(FLOORS)) >= level[source]
    )
    assert upward == []
    assert edges["register"] and edges["forensics"] >= {"register", "timeline"}
