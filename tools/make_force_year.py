#!/usr/bin/env python3
"""Regenerate the worked example ``captures/force-year/`` byte for byte.

    python tools/make_force_year.py            # rewrite captures/force-year/
    python tools/make_force_year.py --check    # write nothing; exit 1 naming what differs

A force's year of accounts whose Home Office return is the published Derbyshire year to
March 2020 (:func:`taserlink.returns.forceyear.force_year`: multiply-ticked forms,
incidents of several reports, two-device reports, reports on the year's edges in UK local
time, decoys outside it), with what ``taserlink home-office`` writes for it and the
figures of ``taserlink scrutiny`` (``scrutiny.json``, full and public) against the census
2011 population of ``captures/population/``, run in-process in the folder as the README
tells.  The pack's page is not kept here: its plots are drawn by whichever matplotlib is
installed, so ``taserlink scrutiny`` makes it anew; its figures are the JSON kept.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from taserlink.atomic import stale_files, update_files
from taserlink.postuse.accounts import write_accounts
from taserlink.returns.forceyear import force_year
from taserlink.returns.population import DERBYSHIRE_2011, population_csv
from taserlink.returns.published import DERBYSHIRE_2019

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "captures" / "force-year"
SEED = 2020
ETHNICITY = {"White": 170, "Black": 20, "Asian": 16, "Mixed": 2, "Other": 1, None: 2}
"""The published White, Black and Asian uses; the other 5 spread over the other rows."""
ACCOUNTS = "captures/force-year/ACCOUNTS.csv"
POPULATION = "captures/population/derbyshire-2011.csv"
HOME_OFFICE = ("home-office", "--accounts", ACCOUNTS, "--year", "2019", "--out", "return-2019")
SCRUTINY = ("scrutiny", "--accounts", ACCOUNTS, "--year", "2019", "--population", POPULATION)
"""The commands as the README runs them, from the repository's top folder."""


def _run(folder: Path, argv: Sequence[str]) -> bytes:
    from taserlink.cli import main as taserlink

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = taserlink(list(argv))
    if code != 0:
        raise RuntimeError(f"taserlink {' '.join(argv)} exited {code}: {err.getvalue().strip()}")
    return out.getvalue().encode()


def expected_files() -> dict[str, bytes]:
    """Every file this script writes, by path relative to the example's folder."""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp)
        (top / POPULATION).parent.mkdir(parents=True)
        (top / POPULATION).write_bytes(population_csv(DERBYSHIRE_2011.counts))
        (top / ACCOUNTS).parent.mkdir(parents=True)
        write_accounts(
            force_year(2019, DERBYSHIRE_2019, ethnicity=ETHNICITY, seed=SEED), top / ACCOUNTS
        )
        files["ACCOUNTS.csv"] = (top / ACCOUNTS).read_bytes()
        files["expected-home-office.txt"] = _run(top, HOME_OFFICE)
        for path in sorted((top / "return-2019").iterdir()):
            files[f"expected-return/{path.name}"] = path.read_bytes()
        files["expected-scrutiny.txt"] = _run(top, (*SCRUTINY, "--out", "scrutiny-2019"))
        files["expected-scrutiny.json"] = (top / "scrutiny-2019" / "scrutiny.json").read_bytes()
        _run(top, (*SCRUTINY, "--out", "scrutiny-2019-public", "--public"))
        public = top / "scrutiny-2019-public" / "scrutiny.json"
        files["expected-scrutiny-public.json"] = public.read_bytes()
    files["README.md"] = _readme(files).encode()
    return files


def _readme(files: dict[str, bytes]) -> str:
    digests = "\n".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}" for name, data in sorted(files.items())
    )
    return f"""# A force's year: the Home Office return and the oversight group's pack

Made by `python tools/make_force_year.py` (seed {SEED}), byte for byte the same on every
machine; `--check` says whether this folder still is. Made up, not any force's records:
`ACCOUNTS.csv` holds accounts whose return for the financial year 2019 (1 April 2019 to
31 March 2020, UK local time) is exactly the Home Office's published table for Derbyshire
— 211 uses: drawn 41, aimed 13, red-dot 126, arced 9, drive stun 1, fired 20, angled drive
stun 0, not stated 1; White 170, Black 20, Asian 16 — written as forces write them:
multiply-ticked forms, several officers' reports on one subject, a report naming two
devices, a CED use with no device, reports at both edges of the year and a few just
outside it.

## Run it

From the repository's top folder:

```sh
taserlink {" ".join(HOME_OFFICE)}
taserlink {" ".join(SCRUTINY)} --out scrutiny-2019
taserlink {" ".join(SCRUTINY)} --out scrutiny-2019-public --public
```

The first writes the return (`reports.csv` and the four published tables, as in
`expected-return/`). The second writes the oversight group's pack into `scrutiny-2019/`:
open `scrutiny-2019/index.html` in any browser (it loads nothing from anywhere). It prints
the key
figures — 21 of the 211 uses were discharges; Black people were subject to Taser use at
11.1 times the rate of White people (95 % confidence interval 7.0 to 17.6), against the
2011 census — as in `expected-scrutiny.txt`, and `scrutiny-2019/scrutiny.json` is
`expected-scrutiny.json`. The third is the pack for publication: counts under 5 withheld
(`expected-scrutiny-public.json`).

How each figure is counted, and its caveats: `docs/returns.md`.

SHA-256 of every other file:

```
{digests}
```
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument(
        "--out", type=Path, default=OUT, help="folder (default captures/force-year/)"
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
