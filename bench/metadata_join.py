"""Metadata stage on the library's real export: join time, the viewer JSON's size, and what the report finds.

The sample's CSVs describe the whole collection (13,203 item rows, 63,179 subject rows), so a grid
of every distinct id (13,191, placed in id order on an auto-sized grid) stands in for a 13,000-image
build. Runs scripts/metadata.py as the workflow does, with and without subject case folding.

    python bench/metadata_join.py
"""
from __future__ import annotations

import collections
import gzip
import json
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

import metadata
from common import auto_grid_size

ROOT = Path(__file__).resolve().parent.parent


SAMPLE = ROOT.parent / "shared" / "data" / "amnh-sample"


def main():
    ids = sorted(set(pd.read_csv(SAMPLE / "images.csv", dtype=str, keep_default_na=False)["id"].str.strip()))
    cols, rows = auto_grid_size(len(ids))
    work = Path(tempfile.mkdtemp(prefix="metadata-bench-"))
    with open(work / "grid.csv", "w") as handle:
        handle.write(f"# grid {cols}x{rows}\n")
        pd.DataFrame({"id": ids, "col": [i % cols for i in range(len(ids))],
                      "row": [i // cols for i in range(len(ids))]}).to_csv(handle, index=False)
    print(f"{len(ids)} ids on a {cols}x{rows} grid\n")
    print("| run | seconds | items.json MB | gzipped MB | subjects | images with a parsed date |\n"
          "|---|---|---|---|---|---|")
    for label, extra in (("original preset", []), ("original preset, subject case folded", ["-fold-subjects"])):
        started = time.perf_counter()
        metadata.main(["-in", str(SAMPLE / "images.csv"), "-sub", str(SAMPLE / "subjects.csv"), "-grid",
                       str(work / "grid.csv"), "-out", str(work / "items.json"), "-subjects-out",
                       str(work / "subjects.csv"), *extra])
        seconds = time.perf_counter() - started
        raw = (work / "items.json").read_bytes()
        data = json.loads(raw)
        distinct = pd.read_csv(work / "subjects.csv", dtype=str)["subject"].nunique()
        dated = sum(start is not None for start in data["yearStart"])
        print(f"| {label} | {seconds:.2f} | {len(raw) / 1e6:.2f} | {len(gzip.compress(raw)) / 1e6:.2f} | "
              f"{distinct} distinct | {dated} of {data['count']} |", flush=True)
    report = pd.read_csv(work / "metadata_report.csv", dtype=str, keep_default_na=False)
    print("\nreport:", dict(collections.Counter(report["kind"])))
    unparsed = report[report["kind"] == "unparsed_date"]["detail"]
    print("unparsed dates, most frequent:", collections.Counter(unparsed).most_common(12))
    labels = collections.Counter(data["dateLabel"])
    print("date labels, most frequent:", labels.most_common(8))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
