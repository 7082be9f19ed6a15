"""Reading a collection from IIIF (scripts/iiif_source.py): how fast the three steps run, and a rerun.

The 1,500 thumbnails of ../shared/data/amnh-sample/sample.zip are published on 127.0.0.1 as a museum would:
one Presentation 3 manifest per photograph (its title, date and subjects from the sample's CSVs) with a
level 0 image service that lists one size, gathered in one collection. `--latency` makes the server wait
that long before each answer, as a distant server does; `source.per_host` (4) then bounds the rate.

    python bench/iiif_source.py [--latency 0.05] [--per-host 4] [--shards 1]

Reports the listing, the fetch (pictures per second) and the join, then the same again from the cache.
"""
import argparse
import functools
import json
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd

from machine import describe_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "amnh-sample"
SCRIPT = ROOT / "scripts" / "iiif_source.py"


def publish(folder: Path, base: str) -> int:
    """The sample as IIIF under `folder`: img/<id>/full/128,128/0/default.jpg, m/<id>.json, collection.json."""
    records = pd.read_csv(SAMPLE / "images.csv", dtype=str).fillna("").drop_duplicates("id").set_index("id")
    subjects = pd.read_csv(SAMPLE / "subjects.csv", dtype=str).fillna("").groupby("id")["subject"].apply(list)
    items = []
    with zipfile.ZipFile(SAMPLE / "sample.zip") as archive:
        for name in archive.namelist():
            key = Path(name).stem
            picture = folder / "img" / key / "full" / "128,128" / "0" / "default.jpg"
            picture.parent.mkdir(parents=True)
            picture.write_bytes(archive.read(name))
            record = records.loc[key] if key in records.index else None
            manifest = {
                "@context": "http://iiif.io/api/presentation/3/context.json", "type": "Manifest",
                "id": f"{base}/m/{key}.json", "label": {"en": [record["title"] if record is not None else key]},
                "metadata": [{"label": {"en": ["Date"]}, "value": {"none": [record["date"] if record is not None
                                                                            else ""]}},
                             {"label": {"en": ["Subject"]}, "value": {"en": subjects.get(key, [])}}],
                "items": [{"id": f"{base}/m/{key}/canvas", "type": "Canvas", "width": 128, "height": 128, "items": [{
                    "id": f"{base}/m/{key}/page", "type": "AnnotationPage", "items": [{
                        "id": f"{base}/m/{key}/painting", "type": "Annotation", "motivation": "painting",
                        "target": f"{base}/m/{key}/canvas",
                        "body": {"id": f"{base}/img/{key}/full/128,128/0/default.jpg", "type": "Image",
                                 "format": "image/jpeg", "width": 128, "height": 128,
                                 "service": [{"id": f"{base}/img/{key}", "type": "ImageService3",
                                              "profile": "level0", "width": 128, "height": 128,
                                              "sizes": [{"width": 128, "height": 128}]}]}}]}]}]}
            (folder / "m").mkdir(exist_ok=True)
            (folder / "m" / f"{key}.json").write_text(json.dumps(manifest))
            items.append({"id": manifest["id"], "type": "Manifest", "label": manifest["label"]})
    (folder / "collection.json").write_text(json.dumps({
        "@context": "http://iiif.io/api/presentation/3/context.json", "id": f"{base}/collection.json",
        "type": "Collection", "label": {"en": ["AMNH sample"]}, "items": items}))
    return len(items)


def serve(folder: Path, latency: float):
    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            time.sleep(latency)
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed(arguments: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(SCRIPT), *arguments], stderr=subprocess.PIPE, text=True)
    if result.returncode:
        sys.exit(result.stderr[-2000:])
    return time.perf_counter() - started


def run(work: Path, base: str, per_host: int, shards: int) -> dict:
    common = ["--cache", str(work / "cache"), "--per-host", str(per_host)]
    figures = {"list": timed(["--list", f"{base}/collection.json", "--out", str(work / "manifests.csv"), *common])}
    started = time.perf_counter()
    records = []
    for shard in range(shards):
        records.append(str(work / f"records-{shard}.csv"))
        subprocess.run([sys.executable, str(SCRIPT), "--fetch", str(work / "manifests.csv"), "--shard",
                        f"{shard}/{shards}", "--images", str(work / "images" / f"shard-{shard}-of-{shards}"),
                        "--out", records[-1], "--size", "128", *common], check=True, stderr=subprocess.DEVNULL)
    figures["fetch"] = time.perf_counter() - started
    figures["join"] = timed(["--join", *records, "--manifests", str(work / "manifests.csv"),
                             "--items", str(work / "items.csv"), "--subjects", str(work / "subjects.csv"),
                             "--rejected", str(work / "rejected.csv")])
    figures["items"] = len(pd.read_csv(work / "items.csv"))
    figures["rejected"] = len(pd.read_csv(work / "rejected.csv"))
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the server waits before each answer")
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--shards", type=int, default=1)
    args = parser.parse_args()
    if not (SAMPLE / "sample.zip").is_file():
        sys.exit(f"the sample is needed: {SAMPLE / 'sample.zip'}")
    with tempfile.TemporaryDirectory() as temp:
        published, work = Path(temp) / "museum", Path(temp) / "work"
        published.mkdir()
        server = serve(published, args.latency)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        count = publish(published, base)
        print(f"{describe_machine()}; {count} manifests on 127.0.0.1, latency {args.latency * 1000:.0f} ms, "
              f"per_host {args.per_host}, {args.shards} shard(s)")
        for name in ("first run", "rerun (cache)"):
            figures = run(work, base, args.per_host, args.shards)
            print(f"{name}: list {figures['list']:.1f} s, fetch {figures['fetch']:.1f} s "
                  f"({figures['items'] / figures['fetch']:.0f} pictures/s), join {figures['join']:.1f} s; "
                  f"{figures['items']} items, {figures['rejected']} rejected")
        server.shutdown()


if __name__ == "__main__":
    main()
