"""Gate: pyright's type completeness of each package must be at least 95 %.

python .ci/verifytypes.py          # every package; exit 1 if one is below
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

PACKAGES = ("uba_core", "uba_torch", "uba_jax", "uba_tf")
MINIMUM = 0.95


def completeness(package: str, pyright: str) -> float:
    run = subprocess.run(
        [pyright, "--verifytypes", package, "--ignoreexternal", "--outputjson"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        sys.exit(f"pyright --verifytypes {package} printed no report:\n{run.stdout}{run.stderr}")
    errors = [
        d["message"] for d in report.get("generalDiagnostics", []) if d.get("severity") == "error" and not d.get("rule")
    ]
    if errors and report["typeCompleteness"]["exportedSymbolCounts"] == {
        "withKnownType": 0,
        "withAmbiguousType": 0,
        "withUnknownType": 0,
    }:
        sys.exit(f"pyright could not analyse {package}: {errors[0]}")
    return float(report["typeCompleteness"]["completenessScore"])


def main() -> int:
    pyright = shutil.which("pyright") or sys.exit("pyright is not installed: pip install -e '.[dev]'")
    low = []
    for package in PACKAGES:
        score = completeness(package, pyright)
        print(f"{package}: type completeness {score:.1%}")
        if score < MINIMUM:
            low.append(package)
    if low:
        print(f"below {MINIMUM:.0%}: {', '.join(low)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
