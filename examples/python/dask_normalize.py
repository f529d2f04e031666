"""The batch normalization on a Dask cluster with `dask.bag`. On a real
cluster only the `Client(...)` address changes.

Run: python examples/python/dask_normalize.py IN OUT_DIR
"""

import json
import os
import sys


def normalize_partition(lines):
    import mesh  # imported on the worker

    return [json.dumps(r) for r in mesh.normalize_many(lines) if not isinstance(r, mesh.EventError)]


def main(src, out_dir):
    import dask.bag as db
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster):
        bag = db.read_text(src, blocksize="16MB").filter(lambda s: s.strip())
        events = bag.map_partitions(normalize_partition)
        events.to_textfiles(os.path.join(out_dir, "part-*.ndjson"))
        print(f"{events.count().compute()} events -> {out_dir}")


if __name__ == "__main__":
    here = os.path.dirname(__file__)
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data", "mixed.log"),
         sys.argv[2] if len(sys.argv) > 2 else "events-dask")
