#!/usr/bin/env python3
"""Plan shards with pytest-split's own algorithms, for `cargo xtask bench-plan-quality`.

The benchmark compares dtf's planner with pytest-split on the same timing sets. Rather
than re-implementing pytest-split (and risking comparing against a strawman), this
calls the algorithms of the installed PyPI package exactly as its plugin does:
``Algorithms[name].value(splits, items, durations)``. The algorithms only read
``item.nodeid`` (and ``str(item)`` to break ties), so a small stand-in for pytest's
``Function`` item is enough; its ``repr`` copies pytest's (``<Function name>``) so that
ties break as they would in a real session.

Usage: ``pytest_split_plan.py REQUEST.json RESPONSE.json``

REQUEST::

    {"sets": {"NAME": {"ids": ["a::t1", ...],             # collection order
                       "durations": {"a::t1": 1.5, ...}}}, # pytest-split's .test_durations
     "jobs": [{"set": "NAME", "algorithm": "least_duration", "splits": 8}, ...]}

RESPONSE::

    {"schema": "dtf.bench.pytest-split.v1", "pytest_split_version": "0.11.0",
     "results": [{"groups": [[0, 5, ...], ...],  # indices into the set's ids, in run order
                  "seconds": 0.01, "error": null}, ...]}   # aligned with "jobs"

A job that raises (pytest-split has edge cases of its own) reports the error text and
no groups, so one failure does not hide the other results.
"""

import json
import sys
import time
from importlib import metadata

from pytest_split.algorithms import Algorithms


class Function:
    """What pytest-split reads of a pytest item: ``nodeid``, and ``str()`` for ties."""

    __slots__ = ("nodeid", "name", "index")

    def __init__(self, nodeid, index):
        self.nodeid = nodeid
        self.name = nodeid.rsplit("::", 1)[-1]
        self.index = index

    def __repr__(self):
        return f"<Function {self.name}>"


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        request = json.load(f)
    items = {
        name: [Function(nodeid, i) for i, nodeid in enumerate(s["ids"])]
        for name, s in request["sets"].items()
    }
    results = []
    for job in request["jobs"]:
        algorithm = Algorithms[job["algorithm"]].value
        durations = request["sets"][job["set"]]["durations"]
        started = time.perf_counter()
        try:
            groups = algorithm(job["splits"], items[job["set"]], durations)
        except Exception as e:  # noqa: BLE001 - reported per job, see the docstring
            results.append(
                {"groups": None, "seconds": None, "error": f"{type(e).__name__}: {e}"}
            )
            continue
        seconds = time.perf_counter() - started
        results.append(
            {
                "groups": [[item.index for item in g.selected] for g in groups],
                "seconds": seconds,
                "error": None,
            }
        )
        # The groups' `deselected` lists hold splits x items references; drop them now.
        del groups
    response = {
        "schema": "dtf.bench.pytest-split.v1",
        "pytest_split_version": metadata.version("pytest-split"),
        "results": results,
    }
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(response, f, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
