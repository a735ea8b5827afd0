"""Print which of taserlink's floors import which: one line per package or top-level module.

Read from the source with :mod:`ast` (nothing is imported or run), so it works on any
checkout, e.g. an older one unpacked with ``git archive``::

    python tools/import_graph.py                 # this checkout
    python tools/import_graph.py /tmp/old        # a folder holding another taserlink/

A floor only ever imports floors below it (``docs`` and the README name them); a line
naming a floor above its own is a defect.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def _unit(module: str) -> str:
    """``taserlink.forensics.link.driver`` → ``forensics``; ``taserlink.errors`` → ``errors``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def edges(root: Path) -> dict[str, set[str]]:
    """Floor → the floors it imports, from every ``taserlink/**/*.py`` under ``root``."""
    found: dict[str, set[str]] = {}
    for path in sorted((root / "taserlink").rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        source = _unit(module.removesuffix(".__init__"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.startswith("taserlink."):
                    floor = _unit(target)
                    if floor != source:
                        found.setdefault(source, set()).add(floor)
    return found


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    for source, targets in sorted(edges(root).items()):
        print(f"{source:<12} -> {', '.join(sorted(targets))}")


if __name__ == "__main__":
    main()
