"""Linkage at force scale: ``link`` against ``verify`` over the same folder of downloads.

One run:

1. prints the machine;
2. writes ``--images`` generated images of ``--records`` records each
   (:func:`taserlink.emulator.synthetic.synthetic_image`, one device each, seeds 0, 1, …)
   to a temporary folder, and builds the inputs of a real linkage: a match row (status
   ``match``) for every ``--recovered-every``-th cartridge each image deployed (by default
   one in 1,000: these generated logs deploy a cartridge every 50 records, some 2,000 per
   image, far more than a real device in a year), and an issue list signing each device
   and those cartridges out to one officer for the whole log;
3. times, best of ``--repeat`` with garbage collection off (the two commands alternated,
   so that other work on the machine slows both alike), each with every usable core
   (``--workers``) and with one process:

   - ``verify``: :func:`taserlink.integrity.batch.verify_files` (what ``taserlink verify
     DIR/*.tdi`` runs): every image read and verified, continuity checked;
   - ``link``: :func:`taserlink.forensics.link.link` over the image paths (what ``taserlink
     link`` runs): every image read and verified, each device's timeline built, the
     cartridges linked and every rule run;

   and prints link / verify, target ≤ 1.2× with every core;
4. measures the memory a linkage holds as the folder grows (``tracemalloc`` peak of one
   process, which numpy's arrays report to): ``link`` over the first 10, 25, 50 and 100 % of
   the images given as paths (read when needed), and over the same images parsed first (a
   ``dict`` of :class:`~taserlink.format.Image`, how ``taserlink link`` read them before):
   beyond what the result keeps (its rows, devices, clock models, findings), the first
   must stay flat; the second grows by an image's size per image.

The machine is a shared 2-core VM: quote ratios from one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from common import best_of, machine_info, verdict

import taserlink
from taserlink.emulator.pki import test_authority
from taserlink.emulator.synthetic import synthetic_image
from taserlink.forensics.issues import parse_issues
from taserlink.forensics.link import link
from taserlink.forensics.results import MatchRow, MatchStatus
from taserlink.format import EventCode, payload_view, read_image
from taserlink.integrity import TrustStore
from taserlink.integrity.batch import verify_files
from taserlink.timeline.times import utc_text
from taserlink.workers import usable_cores


def _inputs(paths: list[Path], every: int) -> tuple[list[MatchRow], str]:
    """Match rows for every ``every``-th cartridge each image deployed (by serial), and an
    issue list (CSV text) signing each device and those cartridges out to one officer over
    the whole log."""
    matches: list[MatchRow] = []
    lines = ["serial,officer,issued_at,returned_at"]
    for k, path in enumerate(paths):
        image = read_image(path)
        officer = f"PC {1000 + k}"
        start = utc_text(image.acquisition.host_utc_start_ms - 400 * 86_400_000)
        lines.append(f"{image.identity.serial},{officer},{start},")
        deployed = image.records[image.records["code"] == EventCode.DEPLOY]
        deploys = payload_view(deployed, EventCode.DEPLOY)
        serials = sorted({bytes(s).rstrip(b"\0").decode() for s in deploys["serial"]})
        for j, serial in enumerate(serials[::every]):
            matches.append(
                MatchRow(
                    exhibit=f"E{k}-{j}",
                    serial=serial,
                    status=MatchStatus.MATCH,
                    score=0.999,
                    tags=("t1", "t2", "t3"),
                    runner_up="",
                    runner_up_score=None,
                    explanation="",
                )
            )
            lines.append(f"{serial},{officer},{start},")
    return matches, "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100, help="images (default 100)")
    parser.add_argument("--records", type=int, default=100_000, help="records each (100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (3)")
    parser.add_argument("--workers", type=int, default=usable_cores(), help="processes")
    parser.add_argument(
        "--recovered-every",
        type=int,
        default=1000,
        metavar="K",
        help="a recovered cartridge for every K-th cartridge an image deployed (1000)",
    )
    args = parser.parse_args()
    print("\n".join(machine_info({"taserlink": taserlink.__version__, "numpy": np.__version__})))
    trust = TrustStore.from_pem(test_authority().root_pem())
    with tempfile.TemporaryDirectory(prefix="bench-link-") as folder:
        paths = []
        for k in range(args.images):
            path = Path(folder) / f"{k:03d}.tdi"
            path.write_bytes(synthetic_image(args.records, seed=k))
            paths.append(path)
        size = sum(p.stat().st_size for p in paths) / 1e6
        matches, issues_text = _inputs(paths, args.recovered_every)
        issues = parse_issues(issues_text, "bench-issues.csv")
        print(
            f"\n{args.images} images x {args.records:,} records ({size:,.0f} MB), "
            f"{len(matches)} recovered cartridges, {len(issues)} issue rows\n"
        )
        names = [str(p) for p in paths]
        by_name = {str(p): p for p in paths}
        rows = []
        for workers in (args.workers, 1):
            verify_s = link_s = float("inf")
            for _ in range(args.repeat):  # alternated, so a busy neighbour slows both
                once, outcomes = best_of(1, lambda w=workers: verify_files(names, trust, workers=w))
                verify_s = min(verify_s, once)
                once, result = best_of(
                    1, lambda w=workers: link(by_name, issues, matches, trust=trust, workers=w)
                )
                link_s = min(link_s, once)
                assert all(o.ok for o in outcomes), "every generated image verifies"
                assert len(result.rows) == len(matches)
            rows.append((workers, verify_s, link_s))
        print(f"{'':<28}{'verify':>10}{'link':>10}{'link/verify':>14}")
        for workers, verify_s, link_s in rows:
            ratio = link_s / verify_s
            mark = f"  target <= 1.2x: {verdict(ratio <= 1.2)}" if workers == args.workers else ""
            print(
                f"{workers} process(es), seconds{'':<6}{verify_s:>10.2f}{link_s:>10.2f}"
                f"{ratio:>13.2f}x{mark}"
            )
        (many, verify_many, link_many), (_, verify_one, link_one) = rows
        print(
            f"{many} processes against one: verify {verify_one / verify_many:.2f}x, "
            f"link {link_one / link_many:.2f}x faster"
        )
        print("\nmemory of one linkage process (tracemalloc, MB): peak while linking, and what")
        print("the result keeps (its summaries, deployments and findings) when it returns")
        print(
            f"{'images':>8}{'paths: peak':>14}{'result':>9}{'parsed first: peak':>21}{'result':>9}"
        )
        for share in (0.1, 0.25, 0.5, 1.0):
            count = max(1, round(args.images * share))
            subset = dict(list(by_name.items())[:count])
            cells = []
            for parsed in (False, True):
                tracemalloc.start()
                given = {n: read_image(p) for n, p in subset.items()} if parsed else subset
                kept = link(given, issues, matches, trust=trust, workers=1)  # type: ignore[arg-type]
                del given
                held, peak = tracemalloc.get_traced_memory()
                cells += [peak / 1e6, held / 1e6]
                tracemalloc.stop()
                del kept
            print(f"{count:>8}{cells[0]:>14.1f}{cells[1]:>9.1f}{cells[2]:>21.1f}{cells[3]:>9.1f}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
