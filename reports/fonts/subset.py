"""Rebuild the bundled receipt fonts: DejaVu Sans cut down to the scripts receipts print.

Run from the repository root: ``uv run python reports/fonts/subset.py``. The source is the
Debian ``fonts-dejavu-core`` package's DejaVu Sans (Bitstream Vera licence, see
LICENSE-DejaVu.txt; DejaVu changes are public domain). Subsetting here, once, keeps each render
from decompiling DejaVu's large layout tables (most of WeasyPrint's time per receipt).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

SOURCE = Path("/usr/share/fonts/truetype/dejavu")
HERE = Path(__file__).resolve().parent
UNICODES = (
    "U+0020-007E,U+00A0-017F,U+0192,U+02C6-02DD,"
    "U+2000-206F,U+20A0-20CF,U+2100-214F,U+2190-21FF,U+2212,U+25CF,U+FFFD"
)


def main() -> None:
    for name in ("DejaVuSans", "DejaVuSans-Bold"):
        source = Path(sys.argv[1]) / f"{name}.ttf" if len(sys.argv) > 1 else SOURCE / f"{name}.ttf"
        subset.main(
            [
                str(source),
                f"--unicodes={UNICODES}",
                "--layout-features=kern",
                "--no-hinting",
                "--name-IDs=*",
                "--notdef-outline",
                f"--output-file={HERE / (name + '-subset.ttf')}",
            ]
        )


if __name__ == "__main__":
    main()
