"""One nightly run in its own process, for the crash and concurrency tests.

python -m tests.night_process HOME RUN_ID [--lock-wait S] PATH...   (exit 3 when the store is busy)
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from corpus.readers import read_articles
from embeddings.encoders import LexicalEncoder
from night.run import run_night
from store import Store, StoreBusy


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("home")
    parser.add_argument("run_id")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--lock-wait", type=float, default=0.0)
    args = parser.parse_args()
    articles = read_articles(args.paths).articles
    with Store.open(args.home) as store:
        try:
            result = run_night(
                store,
                articles,
                LexicalEncoder(),
                args.run_id,
                datetime(2026, 11, 23, 2),
                lock_wait_seconds=args.lock_wait,
            )
        except StoreBusy as error:
            sys.stderr.write(f"{error}\n")
            return 3
    sys.stdout.write(json.dumps({"fresh": len(result.tonight.fresh), "pairs": len(result.pairs)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
