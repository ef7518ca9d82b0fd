"""How long from `import workshop` to a usable local backend, in a fresh interpreter each time.

Usable means: the local cloud is up and has answered an SQS call. Run:
    python benchmarks/startup.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys

PROBE = """
import time
start = time.perf_counter()
import workshop
cloud = workshop.connect(quiet=True)
cloud.client("sqs").list_queues()
print(time.perf_counter() - start)
"""


def main(runs: int = 10) -> None:
    seconds = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
        )
        seconds.append(float(out.stdout.strip().splitlines()[-1]))
    print(f"import workshop -> usable local backend, {runs} fresh interpreters:")
    print(
        f"  median {statistics.median(seconds):.3f} s, min {min(seconds):.3f} s, "
        f"max {max(seconds):.3f} s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
