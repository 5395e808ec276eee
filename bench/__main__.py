"""``python -m bench``: every benchmark, one after the other, in one run.

Figures are only comparable inside one run on one machine; the report prints
the machine's core count and Python version beside them.
"""

from __future__ import annotations

import os
import platform
import sys


def main(argv: list[str]) -> int:
    print(
        f"# bench on {os.cpu_count()} cores, Python {platform.python_version()},"
        f" {platform.machine()}"
    )
    from bench import handoff, search, tickets, turn

    status = search.main(argv)
    status |= turn.main(argv)
    status |= tickets.main(argv)
    status |= handoff.main(argv)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
