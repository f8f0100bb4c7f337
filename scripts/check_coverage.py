"""Fail when the combined line+branch coverage of a package is below a threshold."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(report: str, package: str, threshold: float) -> int:
    files = json.loads(Path(report).read_text())["files"]
    covered = total = 0
    for name, data in files.items():
        if Path(name).as_posix().startswith(package):
            summary = data["summary"]
            covered += summary["covered_lines"] + summary.get("covered_branches", 0)
            total += summary["num_statements"] + summary.get("num_branches", 0)
    if total == 0:
        print(f"no coverage data for {package}")
        return 1
    percent = 100.0 * covered / total
    print(f"{package}: {percent:.1f} % of lines and branches covered (need {threshold:.0f} %)")
    return 0 if percent >= threshold else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
