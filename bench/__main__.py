"""``python -m bench``: every figure in one run, the whole changes first, then the core's scaling.

::

    python -m bench [--sizes 1,10,100] [--core-sizes 10,100,1000,3000] [--node-size 1000]

Both tables come from one process on one machine, so their ratios compare like with like;
``docs/benchmark.md`` shows a run and reads it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench import core, operations


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bench.operations`` then ``bench.core`` with the sizes given."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, operations.SIZES)))
    parser.add_argument("--core-sizes", default=",".join(map(str, core.SIZES)))
    parser.add_argument("--node-size", default="1000")
    args = parser.parse_args(argv)
    operations.main(["--sizes", args.sizes])
    print()
    core.main(["--sizes", args.core_sizes, "--node-size", args.node_size])
    return 0


if __name__ == "__main__":
    sys.exit(main())
