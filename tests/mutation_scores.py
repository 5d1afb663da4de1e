"""Mutation score per module from `mutmut results --all true` on stdin (`make mutate`).

A mutant counts as killed when a test failed or timed out on it; mutants mutmut did not run
(not checked, skipped) do not count. Exits 1 if a module is below the target.
"""

from __future__ import annotations

import sys
from collections import Counter

TARGET = 85.0
KILLED = {"killed", "timeout"}
NOT_RUN = {"not checked", "skipped"}


def say(text: str) -> None:
    sys.stdout.write(text + "\n")


def main() -> int:
    mutants: Counter[str] = Counter()
    killed: Counter[str] = Counter()
    survivors: list[str] = []
    for line in sys.stdin:
        name, _, status = line.strip().partition(": ")
        if "__mutmut_" not in name or status in NOT_RUN:
            continue
        module = name.split(".")[1]
        mutants[module] += 1
        if status in KILLED:
            killed[module] += 1
        else:
            survivors.append(f"{name}: {status}")
    below = []
    for module in sorted(mutants):
        score = 100 * killed[module] / mutants[module]
        say(f"{module:<11} {killed[module]:4d} of {mutants[module]:4d} killed: {score:5.1f}%")
        if score < TARGET:
            below.append(module)
    if survivors:
        say("\nNot killed (`.venv/bin/mutmut show NAME` shows the change):")
        say("\n".join(survivors))
    if below:
        say(f"\nBelow {TARGET:.0f}%: {', '.join(below)}")
    return 1 if below or not mutants else 0


if __name__ == "__main__":
    sys.exit(main())
