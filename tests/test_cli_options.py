"""The option groups the commands share (``taserlink.cli.common``): declared once, taken
the same way by every command that has them, and no command importing another's."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

from taserlink.cli import COMMANDS, build_parser
from taserlink.cli.common import UsageError

CLI = Path(__file__).resolve().parent.parent / "taserlink" / "cli"
SHARED = {
    "taserlink.cli.common",
    "taserlink.cli.custody",
    "taserlink.cli.dock",
    "taserlink.cli.year_return",
}
"""The CLI modules that are not commands: what commands may import from the CLI."""


def _actions() -> dict[str, dict[str, argparse.Action]]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: {option: a for a in sub._actions for option in a.option_strings}
        for name, sub in subparsers.choices.items()
    }


def test_every_roots_option_is_the_shared_one() -> None:
    takers = {name: opts["--roots"] for name, opts in _actions().items() if "--roots" in opts}
    assert set(takers) == {
        "verify",
        "link",
        "download",
        "reconcile",
        "home-office",
        "scrutiny",
        "report",
    }
    for action in takers.values():
        assert isinstance(action, argparse._AppendAction)
        assert (action.dest, action.metavar, action.default) == ("roots", "DIR", None)
        assert action.help is not None
        assert action.help.startswith("trusted manufacturer root certificates")
        assert "(repeatable; default: $TASERLINK_ROOTS, else " in action.help


@pytest.mark.parametrize("name", ["verify", "devices", "download", "clock", "match"])
def test_json_alone_is_a_flag(name: str) -> None:
    action = _actions()[name]["--json"]
    assert isinstance(action, argparse._StoreTrueAction)
    assert (action.dest, action.default) == ("json", False)


@pytest.mark.parametrize("name", ["show", "link"])
def test_csv_or_json_is_one_output_choice(name: str) -> None:
    options = _actions()[name]
    csv, json = options["--csv"], options["--json"]
    assert (csv.dest, csv.const, csv.default) == ("output", "csv", "text")
    assert (json.dest, json.const) == ("output", "json")
    with pytest.raises(UsageError, match="not allowed with"):
        build_parser().parse_args([name, "--csv", "--json", "x"])


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.NAME)
def test_no_command_imports_another(command: object) -> None:
    source = CLI / f"{command.__name__.rsplit('.', 1)[-1]}.py"  # type: ignore[attr-defined]
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "taserlink.cli":
                imported |= {f"taserlink.cli.{alias.name}" for alias in node.names}
            else:
                imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert {m for m in imported if m.startswith("taserlink.cli")} <= SHARED
