#!/usr/bin/env python3
"""Print the matcher's validation record on simulated scenes (docs/matching.md §8).

    python bench/validate_match.py                  # seeds 12–21, 100 + 10 exhibits a cell
    python bench/validate_match.py --seeds 12 13 --per-cell 50
    python bench/validate_match.py --monotone       # more evidence, never a worse answer

For each truth — reads drawn from the matcher's stated model (``simulate.stated_noise()``)
and from a second, documented model (``simulate.second_noise()``: other look-alikes, more
unreadable characters and indels, tears with holes) — one
:func:`taserlink.forensics.simulate.validate` scene per seed, added up: 5,000 serials
(10 % look-alikes of others), and in each cell ``--per-cell`` exhibits of a listed
cartridge and ``--unlisted`` of an unlisted one.  The cells: reads with the truth's indels
and without (its ``p_skip``, ``p_insert`` made negligible, no character written as two) ×
every tag of the exhibit complete or every tag torn (fragments of 4 or more characters) ×
1, 2, 3, 5 or 10–20 tags.  All matched under the default model and settings.

Per cell the table gives: **matched right** (listed exhibits given a ``match`` row naming
their cartridge), **wrong match** (``match`` rows of listed exhibits naming another
serial, of all their ``match`` rows: the confident-wrong rate), **rank-1 recall** (listed
exhibits whose best serial — that of the row holding most of their reads, or its runner-up
when the row is ``none`` — is their cartridge) and **unlisted matched** (exhibits of an
unlisted cartridge given a ``match``).  Every wrong ``match`` is then listed with its
exhibit's reads.  Not a timing: the answers are deterministic, the same on any machine.
Prints Markdown tables.

``--monotone`` measures instead how the true serial's posterior moves as consistent reads
are added (reads every readable character of which is the serial's, complete or torn, with
holes and unreadable characters): ``--exhibits`` exhibits of 2–7 such reads of a random
serial of 1,000,000, each matched after every read added.  The posterior is the one the
answer gives the serial (as serial or runner-up of a ``match`` or ``ambiguous`` row; 0 in a
``none`` row, which answers no serial).  It prints how many times the posterior fell by
more than 1e-6, the largest fall, how many times a ``match`` turned into another status,
and every such exhibit with a fall above 1e-3 or a lost match.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from collections.abc import Callable

from bench_match import make_serials

from taserlink.forensics.match import Matcher, SerialIndex
from taserlink.forensics.simulate import (
    TAG_COUNTS,
    ReadNoise,
    Validation,
    ValidationCell,
    consistent_noise,
    posterior_path,
    second_noise,
    stated_noise,
    validate,
)

TRUTHS: dict[str, Callable[[], ReadNoise]] = {"stated": stated_noise, "second": second_noise}
LAYOUTS = (
    ("complete, with indels", True, False),
    ("torn, with indels", True, True),
    ("complete, without indels", False, False),
    ("torn, without indels", False, True),
)


def summed(truth: ReadNoise, seeds: range, per_cell: int, unlisted: int) -> Validation:
    """One scene per seed, added up cell by cell."""
    total: Validation | None = None
    for seed in seeds:
        run = validate(truth, seed, per_cell=per_cell, unlisted_per_cell=unlisted)
        total = run if total is None else total + run
    assert total is not None
    return total


def figures(cell: ValidationCell) -> dict[str, str]:
    """The table's four figures of one cell."""
    rate = f" ({cell.wrong_rate:.2%})" if cell.matched_wrong else ""
    return {
        "matched right": f"{cell.right_rate:.1%}",
        "wrong match": f"{cell.matched_wrong:,} of {cell.match_rows:,}{rate}",
        "rank-1 recall": f"{cell.recall:.1%}",
        "unlisted matched": f"{cell.unlisted_matched:,} of {cell.unlisted:,}",
    }


def print_table(v: Validation, label: str) -> None:
    """One Markdown table: a row per layout and figure, a column per tag count and all."""
    tags = [t for t, _, _ in TAG_COUNTS]
    first = v.select(tags=tags[0], indels=True, torn=False)
    print(
        f"\n**{label}** ({v.truth}; seeds {v.seeds[0]}–{v.seeds[-1]}, per cell "
        f"{first.listed:,} listed and {first.unlisted:,} unlisted exhibits)\n"
    )
    print(
        "| reads | figure | " + " | ".join(f"{t} tag{'s' * (t != '1')}" for t in tags) + " | all |"
    )
    print("|---|---|" + "---:|" * (len(tags) + 1))
    groups = [*LAYOUTS, ("all", None, None)]
    for name, indels, torn in groups:
        cells = [v.select(indels=indels, torn=torn, tags=t) for t in tags]
        cells.append(v.select(indels=indels, torn=torn))
        table = [figures(c) for c in cells]
        for i, key in enumerate(table[0]):
            print(
                f"| {name if i == 0 else ''} | {key} | " + " | ".join(f[key] for f in table) + " |"
            )
    whole = v.select()
    print(
        f"\nIn all: {whole.matched_right:,} of {whole.listed:,} listed exhibits matched right "
        f"({whole.right_rate:.1%}), {whole.matched_wrong:,} wrong of {whole.match_rows:,} "
        f"match answers ({whole.wrong_rate:.3%}), {whole.unlisted_matched:,} of "
        f"{whole.unlisted:,} unlisted matched; {whole.reads:,} reads."
    )


def print_wrong(v: Validation) -> None:
    """Every wrong ``match``: the cell, the truth, the row, the exhibit's reads."""
    for exhibit, row in v.wrong:
        layout = "torn" if exhibit.torn else "complete"
        layout += ", with indels" if exhibit.indels else ", without indels"
        runner_up = f"{row.runner_up} {row.runner_up_score or 0.0:.4f}" if row.runner_up else "-"
        print(
            f"- {layout}, {len(exhibit.texts)} tags, "
            f"{'listed' if exhibit.listed else 'unlisted'} cartridge {exhibit.serial}: "
            f"`match` {row.serial} (score {row.score or 0.0:.4f}, runner-up {runner_up}) "
            f"over tags {', '.join(row.tags)}; reads "
            + ", ".join(f"{i}:{t}" for i, t in enumerate(exhibit.texts))
        )


def monotone(exhibits: int, seed: int, serials: int = 1_000_000) -> None:
    """Print how the true serial's posterior moves as consistent reads are added: how
    often and how far it falls, each fall over 10⁻³ and each ``match`` lost, with the
    posterior before and after and the reads."""
    listed = make_serials(serials, seed)
    matcher = Matcher(SerialIndex(listed))
    rng = random.Random(seed)
    # (fall, before, after, serial, reads so far, match lost)
    steps: list[tuple[float, float, float, str, list[str], bool]] = []
    for _ in range(exhibits):
        serial = listed[rng.randrange(serials)]
        noise = consistent_noise(p_torn=rng.choice([0.0, 0.4, 1.0]), p_hole=rng.choice([0.0, 0.5]))
        texts = noise.reads([serial] * rng.randint(2, 7), random.Random(rng.randrange(2**32)))
        path = posterior_path(matcher, serial, texts)
        for k, ((before, was), (after, still)) in enumerate(itertools.pairwise(path)):
            steps.append((before - after, before, after, serial, texts[: k + 2], was and not still))
    fell = [step[0] for step in steps if step[0] > 1e-6]
    print(
        f"{exhibits:,} exhibits of 2–7 consistent reads at {serials:,} serials (seed {seed}), "
        f"{len(steps):,} reads added: the posterior fell by more than 1e-6 {len(fell):,} times "
        f"(largest {max(fell, default=0.0):.2g}); a match lost "
        f"{sum(step[5] for step in steps):,} times"
    )
    for fall, before, after, serial, texts, lost in sorted(steps, reverse=True):
        if fall > 1e-3 or lost:
            what = "match lost" if lost else f"fell {fall:.3g}"
            print(
                f"- {serial}: {what} ({before:.5f} → {after:.5f}) at read {len(texts)} of "
                + ", ".join(texts)
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=(12, 21), metavar=("FIRST", "LAST"))
    parser.add_argument("--per-cell", type=int, default=100, help="listed exhibits a cell (100)")
    parser.add_argument("--unlisted", type=int, default=10, help="unlisted exhibits a cell (10)")
    parser.add_argument(
        "--truth", choices=sorted(TRUTHS), nargs="+", default=list(TRUTHS), help="both"
    )
    parser.add_argument(
        "--monotone",
        action="store_true",
        help="instead: add consistent reads one at a time to exhibits at 1,000,000 serials "
        "and count how often the true serial's posterior falls (seeded by FIRST)",
    )
    parser.add_argument("--exhibits", type=int, default=300, help="exhibits of --monotone (300)")
    args = parser.parse_args(argv)
    if args.monotone:
        if args.exhibits < 1:
            parser.error("--exhibits ≥ 1")
        monotone(args.exhibits, args.seeds[0])
        return 0
    seeds = range(args.seeds[0], args.seeds[1] + 1)
    if not seeds or args.per_cell < 1 or args.unlisted < 0:
        parser.error("FIRST ≤ LAST, --per-cell ≥ 1, --unlisted ≥ 0")
    print(f"matched under the default model and settings; seeds {seeds.start}–{seeds.stop - 1}")
    for key in args.truth:
        start = time.perf_counter()
        truth = TRUTHS[key]()
        v = summed(truth, seeds, args.per_cell, args.unlisted)
        print_table(v, f"reads drawn from {key}_noise()")
        print(f"({time.perf_counter() - start:.1f} s)")
        if v.wrong:
            print(f"\nWrong `match` answers under {key}_noise():\n")
            print_wrong(v)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
