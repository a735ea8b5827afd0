"""Print the matcher's validation figures on simulated scenes (docs/matching.md §8).

For each truth model — the stated default, and reads noisier than it (p_correct 0.75,
unreadable 0.10) — :func:`taserlink.forensics.simulate.validate` runs one scene per seed
(2,000 exhibits of 1–5 reads against 5,000 serials with 10 % look-alikes, 20 % torn
reads, 5 % unlisted cartridges), matched under the default model; the figures are summed
over the seeds.  Not a timing: the answers are deterministic, the same on any machine.

    python bench/validate_match.py                 # seeds 12–16
    python bench/validate_match.py --seeds 12 40
"""

from __future__ import annotations

import argparse

from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.simulate import Validation, validate

TRUTHS = {
    "the stated model": ConfusionModel.default(),
    "examiners erring more (p_correct 0.75, unreadable 0.10)": ConfusionModel.default(
        p_correct=0.75, p_confusable=0.15, p_unreadable=0.1
    ),
}


def summed(truth: ConfusionModel, seeds: range) -> Validation:
    """The figures of every seed's scene, added up."""
    runs = [validate(truth, seed) for seed in seeds]
    return Validation(*(sum(getattr(v, f) for v in runs) for f in Validation.__dataclass_fields__))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=(12, 16), metavar=("FIRST", "LAST"))
    args = parser.parse_args(argv)
    seeds = range(args.seeds[0], args.seeds[1] + 1)
    print(f"seeds {seeds.start}–{seeds.stop - 1}, matched under the default model")
    print(
        f"{'reads drawn from':<58}{'listed matched':>22}{'wrong match':>16}{'unlisted matched':>20}"
    )
    for name, truth in TRUTHS.items():
        v = summed(truth, seeds)
        answered = v.matched_right + v.matched_wrong
        unlisted = v.exhibits - v.listed
        print(
            f"{name:<58}"
            f"{f'{v.matched_right:,} of {v.listed:,} ({v.matched_right / v.listed:.1%})':>22}"
            f"{f'{v.matched_wrong:,} of {answered:,}':>16}"
            f"{f'{v.unlisted_matched:,} of {unlisted:,}':>20}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
