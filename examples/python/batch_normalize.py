"""Normalizes an NDJSON (or line-oriented) file to OCSF NDJSON, in batches,
with a progress bar (tqdm when installed, else a plain one).

Run: python examples/python/batch_normalize.py IN [OUT]
"""

import json
import os
import sys

import mesh

BATCH = 2000


def progress(total):
    try:
        from tqdm import tqdm

        return tqdm(total=total, unit="B", unit_scale=True)
    except ImportError:
        return _Plain(total)


class _Plain:
    def __init__(self, total):
        self.total, self.done = max(total, 1), 0

    def update(self, n):
        self.done += n
        pct = 100 * self.done // self.total
        sys.stderr.write(f"\r[{'#' * (pct // 5):<20}] {pct:3d}%")

    def close(self):
        sys.stderr.write("\n")


def main(src, dst):
    bar = progress(os.path.getsize(src))
    ok = failed = 0
    with open(src, "rb") as f, open(dst, "w") as out:
        batch = []
        for line in f:
            bar.update(len(line))
            if line.strip():
                batch.append(line)
            if len(batch) == BATCH:
                ok, failed = flush(batch, out, ok, failed)
                batch = []
        ok, failed = flush(batch, out, ok, failed)
    bar.close()
    print(f"{ok} events, {failed} records rejected -> {dst}")


def flush(batch, out, ok, failed):
    for r in mesh.normalize_many(batch):
        if isinstance(r, mesh.EventError):
            failed += 1
        else:
            out.write(json.dumps(r) + "\n")
            ok += 1
    return ok, failed


if __name__ == "__main__":
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "data", "mixed.log")
    main(src, sys.argv[2] if len(sys.argv) > 2 else "events.ndjson")
