"""The site's data files: what the viewer reads, split so that a million items stay light.

The first view fetches only collection.json and the tiles. Then three binary columns (cells, years,
subjects: 7 to 9 bytes an item, about 8 MB at a million) make the filters work; titles, dates, links and
neighbours come in chunks of ``chunk_size`` items when an item is hovered, opened or listed; ids are found
through small hashed files (a link names an id); one text file of titles feeds the search, which the viewer
runs in a Web Worker. viewer/README.md, "Data contract", describes every file; data.js reads them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from common import PipelineError

DATA_FORMAT = 2  # collection.json "items.format": chunked (1 was one items.json)
CHUNK_SIZE = 2000  # items per chunk of records and neighbours: about 500 KB of JSON, a hover's wait
RECORD_FIELDS = ("id", "title", "date", "dateLabel", "url", "imageUrl", "thumb", "description", "rights")
NO_YEAR = -32768  # years.bin: unknown year (Int16's least value)


def id_bucket(item_id: str, buckets: int) -> int:
    """The ids/ file that holds `item_id`: FNV-1a (32 bit) of its UTF-8 bytes, modulo `buckets`; the viewer
    computes the same (data.js), so a link to an id fetches one small file."""
    value = 0x811C9DC5
    for byte in item_id.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value % buckets


def chunk_name(number: int) -> str:
    return f"{number:05d}.json"


def write_site_data(folder: str | Path, items: dict, cols: int, neighbours: dict | None = None,
                    chunk_size: int = CHUNK_SIZE) -> dict:
    """Write the viewer's data files for `items` (the metadata stage's columnar items.json, in cell order)
    and optionally `neighbours` (the neighbours stage's JSON) into `folder`; returns the "items" entry of
    collection.json. Neighbours are mapped through the ids here, so a neighbours file of another order
    (or with ids the items lack) still links the right items, and an item never lists itself."""
    folder = Path(folder)
    if chunk_size < 1:
        raise PipelineError(f"the site's chunk size must be at least 1, got {chunk_size}")
    ids = [str(key) for key in items["id"]]
    count = len(ids)
    cells = np.asarray(items["row"], dtype=np.int64) * cols + np.asarray(items["col"], dtype=np.int64)
    if count and (cells.min() < 0 or np.any(np.diff(cells) <= 0)):
        raise PipelineError("items.json is not in cell order with one item per cell: rebuild the metadata stage")
    cells.astype("<u4").tofile(folder / "cells.bin")
    years = np.array([NO_YEAR if year is None or not -32767 <= year <= 32767 else year
                      for year in items["yearStart"]], dtype="<i2")
    years.tofile(folder / "years.bin")
    names = [str(name) for name in items.get("subjectNames", [])]
    lists = [list(dict.fromkeys(subjects)) for subjects in items.get("subjects") or [[] for _ in ids]]  # each once
    counts = np.array([len(subjects) for subjects in lists], dtype=np.int64)
    if count and counts.max() > 255:
        raise PipelineError(f"an item has {counts.max()} subjects; the viewer takes at most 255 per item")
    id_type = "<u1" if len(names) <= 256 else "<u2"
    counts.astype("<u1").tofile(folder / "subject-counts.bin")
    np.fromiter((s for subjects in lists for s in subjects), dtype=np.int64,
                count=int(counts.sum())).astype(id_type).tofile(folder / "subject-ids.bin")
    chunks = -(-count // chunk_size)
    fields = [field for field in RECORD_FIELDS if field in items]
    (folder / "items").mkdir()
    for number in range(chunks):
        start = number * chunk_size
        chunk = {"start": start, **{field: items[field][start:start + chunk_size] for field in fields}}
        (folder / "items" / chunk_name(number)).write_text(json.dumps(chunk, ensure_ascii=False, separators=(",", ":")),
                                                           encoding="utf-8")
    titles = (str(title or "").replace("\r", " ").replace("\n", " ") for title in items.get("title", [""] * count))
    (folder / "titles.txt").write_text("\n".join(titles), encoding="utf-8")
    buckets = max(1, chunks)
    by_bucket: list[dict] = [{} for _ in range(buckets)]
    for position, key in enumerate(ids):
        by_bucket[id_bucket(key, buckets)].setdefault(key, position)
    (folder / "ids").mkdir()
    for number, bucket in enumerate(by_bucket):
        (folder / "ids" / chunk_name(number)).write_text(json.dumps(bucket, ensure_ascii=False, separators=(",", ":")),
                                                         encoding="utf-8")
    entry = {"format": DATA_FORMAT, "count": count, "chunkSize": chunk_size, "chunks": chunks, "idBuckets": buckets,
             "subjectNames": names, "subjectCounts": [int(c) for c in items.get("subjectCounts", [])],
             "subjectIdBytes": 1 if id_type == "<u1" else 2}
    if neighbours is not None:
        entry["neighbours"] = write_neighbour_chunks(folder / "neighbours", ids, neighbours, chunk_size)
    return entry


def write_facets(folder: Path, facets: list[dict]) -> list[dict]:
    """facets/ files of the metadata stage's facets (items in position order) and their collection.json entries:
    a `values` facet as the subjects are (Uint8 counts per item, then Uint8 or Uint16 value ids item after
    item), a `number` facet as one Float32 per item (NaN: unknown)."""
    entries = []
    for facet in facets:
        (folder / "facets").mkdir(exist_ok=True)
        entry = {"name": facet["name"], "label": facet["label"], "kind": facet["kind"]}
        if facet["kind"] == "number":
            numbers = np.array([np.nan if value is None else value for value in facet["items"]], dtype="<f4")
            numbers.tofile(folder / "facets" / f"{facet['name']}.bin")
            known = numbers[~np.isnan(numbers)]
            entry.update(file=f"data/facets/{facet['name']}.bin", min=float(known.min()) if known.size else None,
                         max=float(known.max()) if known.size else None)
        else:
            lists = facet["items"]
            counts = np.array([len(values) for values in lists], dtype=np.int64)
            if counts.size and counts.max() > 255:
                raise PipelineError(f"facet {facet['label']}: an item has {counts.max()} values; at most 255")
            id_type = "<u1" if len(facet["values"]) <= 256 else "<u2"
            if len(facet["values"]) > 65536:
                raise PipelineError(f"facet {facet['label']} has {len(facet['values'])} values; at most 65,536")
            counts.astype("<u1").tofile(folder / "facets" / f"{facet['name']}-counts.bin")
            np.fromiter((v for values in lists for v in values), dtype=np.int64, count=int(counts.sum())).astype(
                id_type).tofile(folder / "facets" / f"{facet['name']}-ids.bin")
            entry.update(values=facet["values"], counts=facet["counts"], valueIdBytes=1 if id_type == "<u1" else 2,
                         files={"counts": f"data/facets/{facet['name']}-counts.bin",
                                "ids": f"data/facets/{facet['name']}-ids.bin"})
        entries.append(entry)
    return entries


def write_hotspots(folder: Path, ids: list[str], hotspots: list[dict], members: dict[str, int]) -> list[dict]:
    """hotspots.bin (Uint16 per item position: 0 in none, h + 1 in hotspot h) and the collection.json list
    (the hotspots stage's, representative ids turned into positions; a hotspot whose members all left the
    site is dropped, the others keep their numbers)."""
    if len(hotspots) > 65534:
        raise PipelineError(f"{len(hotspots)} hotspots; the viewer takes at most 65,534")
    position = {key: index for index, key in enumerate(ids)}
    column = np.array([members.get(key, -1) + 1 for key in ids], dtype="<u2")
    column.tofile(folder / "hotspots.bin")
    sizes = np.bincount(column, minlength=len(hotspots) + 1)
    return [{"label": spot["label"], "autoLabel": spot["autoLabel"], "terms": spot["terms"],
             "size": int(sizes[number + 1]), "representative": position.get(spot["representative"], -1),
             "key": spot["representative"], "box": spot["box"]}
            for number, spot in enumerate(hotspots)]


def write_arrangement_cells(path: Path, ids: list[str], cells: dict[str, int]) -> None:
    """An arrangement's Uint32 cell (row·cols+col on its own grid) per item position; every item must be placed."""
    missing = [key for key in ids if key not in cells]
    if missing:
        raise PipelineError(f"an arrangement lacks {len(missing)} item(s), e.g. {missing[0]!r}: rebuild it")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.array([cells[key] for key in ids], dtype="<u4").tofile(path)


def write_neighbour_chunks(folder: Path, ids: list[str], neighbours: dict, chunk_size: int) -> int:
    """neighbours/NNNNN.json: {"start", "neighbours": [[positions, nearest first], ...]} per chunk of items;
    returns how many each item lists at most (the neighbours stage's k)."""
    position = {key: index for index, key in enumerate(ids)}
    own_ids = [str(key) for key in neighbours.get("id", [])]
    to_item = [position.get(key, -1) for key in own_ids]
    k = neighbours.get("k")
    lists: list[list[int]] = [[] for _ in ids]
    for own, row in enumerate(neighbours.get("neighbours", [])):
        item = to_item[own] if own < len(to_item) else -1
        if item < 0:
            continue
        mapped = [to_item[q] for q in row if isinstance(q, int) and 0 <= q < len(to_item)]
        lists[item] = [q for q in dict.fromkeys(mapped) if q >= 0 and q != item][:k]
    folder.mkdir()
    for number in range(-(-len(ids) // chunk_size)):
        start = number * chunk_size
        (folder / chunk_name(number)).write_text(
            json.dumps({"start": start, "neighbours": lists[start:start + chunk_size]}, separators=(",", ":")),
            encoding="utf-8")
    return int(k) if isinstance(k, int) else max((len(row) for row in lists), default=0)


def read_site_data(site: str | Path) -> dict:
    """A built site's data as the columns of items.json (what write_site_data was given, record fields and
    subjects) plus "neighbours" (positions per item, when the site has them): for tests and checks."""
    data = Path(site) / "data"
    entry = json.loads((data / "collection.json").read_text(encoding="utf-8"))["items"]
    items: dict = {"count": entry["count"], "subjectNames": entry["subjectNames"]}
    for number in range(entry["chunks"]):
        chunk = json.loads((data / "items" / chunk_name(number)).read_text(encoding="utf-8"))
        for field in RECORD_FIELDS:
            if field in chunk:
                items.setdefault(field, []).extend(chunk[field])
    years = np.fromfile(data / "years.bin", dtype="<i2")
    items["yearStart"] = [None if year == NO_YEAR else int(year) for year in years]
    items["cell"] = np.fromfile(data / "cells.bin", dtype="<u4").tolist()
    counts = np.fromfile(data / "subject-counts.bin", dtype="<u1")
    flat = np.fromfile(data / "subject-ids.bin", dtype="<u1" if entry["subjectIdBytes"] == 1 else "<u2").tolist()
    starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).tolist()
    items["subjects"] = [flat[starts[i]:starts[i + 1]] for i in range(len(counts))]
    if "neighbours" in entry:
        items["neighbours"] = []
        for number in range(entry["chunks"]):
            chunk = json.loads((data / "neighbours" / chunk_name(number)).read_text(encoding="utf-8"))
            items["neighbours"].extend(chunk["neighbours"])
    return items
