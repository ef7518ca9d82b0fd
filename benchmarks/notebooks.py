"""Wall time of each notebook under nbval, as the test command runs it.

python benchmarks/notebooks.py [notebooks/01_sqs_fundamentals.ipynb ...]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(paths: list[str]) -> int:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    failed = 0
    for notebook in notebooks:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(notebook)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
        status = "ok" if result.returncode == 0 else "FAILED"
        failed += result.returncode != 0
        print(f"{notebook.name:40s} {elapsed:6.1f} s  {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
