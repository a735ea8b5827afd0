#!/usr/bin/env python3
"""Regenerate the worked example ``captures/station-month/`` byte for byte from a seed.

    python tools/make_station_month.py            # rewrite captures/station-month/
    python tools/make_station_month.py --check    # write nothing; exit 1 naming what differs

A station's month (:func:`taserlink.emulator.station.station_month`): six devices with
drifting clocks on daily duty, spark tests at every shift's start, sixteen uses of force
and the officers' accounts of them, with one planted case of every reconciliation finding;
the store room's downloads, the issue list, ``ACCOUNTS.csv``, the truth, and what
``taserlink reconcile`` prints on them (text, ``--json`` and ``--csv``), run in-process in
the folder as the README tells a SPOC to.  ``README.md`` tells the story and lists every
file's SHA-256.  The expected outputs change whenever reconciliation changes, and must then
be regenerated on purpose.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from taserlink.atomic import stale_files, update_files
from taserlink.emulator.pki import test_roots_pem
from taserlink.emulator.station import StationMonth, station_month
from taserlink.timeline.times import utc_text

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "captures" / "station-month"
SEED = 1
RECONCILE = (
    "reconcile",
    "--images",
    "images",
    "--accounts",
    "ACCOUNTS.csv",
    "--issues",
    "issues.csv",
    "--roots",
    "../test-root.pem",
)
"""``taserlink reconcile`` as the README runs it, in the folder."""


def _run(folder: Path, argv: Sequence[str]) -> tuple[int, bytes]:
    from taserlink.cli import main as taserlink

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = taserlink(list(argv))
    if code not in (0, 1):
        raise RuntimeError(f"taserlink {' '.join(argv)} exited {code}: {err.getvalue().strip()}")
    return code, out.getvalue().encode()


def _truth(month: StationMonth) -> dict[str, Any]:
    return {
        "seed": month.seed,
        "devices": list(month.devices),
        "officers": list(month.officers),
        "uses": [
            {
                "device": u.device,
                "officer": u.officer,
                "start": utc_text(u.start_ms),
                "end": utc_text(u.end_ms),
                "highest_use": u.highest_use,
                "cartridges": list(u.cartridges),
                "cycles": u.cycles,
                "longest_ms": u.longest_ms,
                "reports": list(u.reports),
                "planted": u.planted,
            }
            for u in month.uses
        ],
        "planted": [
            {"kind": p.kind, "device": p.device, "report": p.report, "at": utc_text(p.start_ms)}
            for p in month.planted
        ],
        "corroborated": list(month.corroborated),
    }


def expected_files(seed: int = SEED) -> dict[str, bytes]:
    """Every file this script writes, by path relative to the example's folder."""
    month = station_month(seed)
    files = {f"images/{name}": data for name, data in month.images.items()}
    files["issues.csv"] = month.issues_csv
    files["ACCOUNTS.csv"] = month.accounts_csv
    files["truth.json"] = (json.dumps(_truth(month), indent=1) + "\n").encode()
    codes = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "station-month"
        (Path(tmp) / "test-root.pem").write_bytes(test_roots_pem())
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        codes["text"], files["expected-reconcile.txt"] = _run(folder, RECONCILE)
        codes["json"], files["expected-reconcile.json"] = _run(folder, (*RECONCILE, "--json"))
        codes["csv"], files["expected-reconcile.csv"] = _run(folder, (*RECONCILE, "--csv"))
    files["README.md"] = _reflow(_readme(month, files, codes)).encode()
    return files


def _reflow(text: str, width: int = 90) -> str:
    """Markdown with its plain paragraphs filled to ``width`` (headings, lists, tables and
    code blocks as they are)."""
    out, paragraph, code = [], [], False

    def flush() -> None:
        if paragraph:
            out.extend(textwrap.wrap(" ".join(paragraph), width, break_on_hyphens=False))
            paragraph.clear()

    for line in text.split("\n"):
        if line.startswith("```"):
            flush()
            code = not code
            out.append(line)
        elif code or not line.strip() or line.startswith(("#", "|", "- ", "  ")):
            flush()
            out.append(line)
        else:
            paragraph.append(line.strip())
    flush()
    return "\n".join(out)


def _readme(month: StationMonth, files: dict[str, bytes], codes: dict[str, int]) -> str:
    planted = "\n".join(
        f"| `{p.kind}` | {p.device} | {p.report or '—'} | {utc_text(p.start_ms)} |"
        for p in month.planted
    )
    digests = "\n".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}" for name, data in sorted(files.items())
    )
    images = len([n for n in files if n.startswith("images/")])
    accounts = month.accounts_csv.count(b"\n") - 1
    return f"""# A station's month: device logs held against the officers' accounts

Made by `python tools/make_station_month.py` (seed {month.seed}), byte for byte the same
on every machine; `--check` says whether this folder still is. The devices, their logs and
downloads come from taserlink's firmware model; the accounts are written as officers
write them, after the event.

## The story

A station keeps {len(month.devices)} devices and {len(month.officers)} officers on its
roster. For 28 days from Monday 2 March 2026 each device goes out for one shift a day (early or
late) with its two cartridges; at the start of each shift the officer spark-tests it in
the store room (an episode of kind `test`, which needs no account). The devices' clocks
start up to 40 s off and drift by up to 90 ppm; every Monday evening the store room
downloads every device and sets any clock more than 30 s off. On the last day, the devices
going out on the late shift are downloaded before it, not after.

There were {len(month.uses)} uses of force and {accounts} accounts. One use had two
subjects, a report each: fired at one, only aimed at the other — together they corroborate
the device. Nine cases are planted, one of each finding a SPOC must chase:

| finding | device | report | when (true UTC) |
|---|---|---|---|
{planted}

Every other account is `corroborated`. `truth.json` holds every use as it happened.

## Run it

From this folder (the test root signs the downloads):

```sh
taserlink {" ".join(RECONCILE)}
```

It prints the queue — the errors, then the warnings, oldest first — and the counts, and
exits {codes["text"]} (there are errors). `--json` and `--csv` give the same findings as
data. The expected outputs are `expected-reconcile.txt`, `.json` and `.csv`.

How to read each finding: `docs/postuse.md`.

## The files

- `images/` — {images} store-room downloads, `<device>-<date>.tdi`.
- `issues.csv` — the issue list: `serial, officer, issued_at, returned_at`.
- `ACCOUNTS.csv` — the accounts (README "Use-of-force accounts").
- `truth.json` — what happened: every use, the planted cases, the corroborated reports.
- `expected-reconcile.txt`, `expected-reconcile.json`, `expected-reconcile.csv` — what
  `taserlink reconcile` prints.

SHA-256 of every other file:

```
{digests}
```
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument(
        "--out", type=Path, default=OUT, help="folder (default captures/station-month/)"
    )
    args = parser.parse_args(argv)
    files = expected_files()
    changed = update_files(args.out, files, check=args.check)
    stale = stale_files(args.out, files)
    verb = "differ" if args.check else "written"
    print(f"{len(changed)} file(s) {verb}: {', '.join(changed) or '-'}")
    if stale:
        print(f"{len(stale)} file(s) not made by this script: {', '.join(stale)}")
    return 1 if args.check and (changed or stale) else 0


if __name__ == "__main__":
    sys.exit(main())
