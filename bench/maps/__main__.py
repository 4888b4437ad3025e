"""`python -m bench.maps <bench> [options]`: Maps' benches, each its own module, imported only when run.

    python -m bench.maps fingerprints   identify and duplicates (bench/maps/fingerprints.py)
    python -m bench.maps drums          drum maps (bench/maps/drums.py)
    python -m bench.maps long           a recording of hours: Fingerprint's memory (bench/maps/long_recording.py)
"""

from __future__ import annotations

import importlib
import sys

BENCHES = {"fingerprints": "bench.maps.fingerprints", "drums": "bench.maps.drums", "long": "bench.maps.long_recording"}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in BENCHES:
        sys.stderr.write(__doc__ or "")
        return 2
    module = importlib.import_module(BENCHES[args[0]])
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
