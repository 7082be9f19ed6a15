"""Stage 6d, hotspots: regions of the mosaic whose pictures belong together, each named from the catalogue.

A hotspot is a connected region of the grid: the features are clustered by Ward's agglomerative method
with only neighbouring cells allowed to merge (scikit-learn's AgglomerativeClustering with the grid as
its connectivity). On the sample photographs this agrees with the subjects as well as k-means on the
features does at the same number of clusters, and unlike k-means or HDBSCAN (which leaves most pictures
out) every hotspot is one patch of the mosaic that a visitor can see outlined and fly to (bench/hotspots_agreement.py,
bench/RESULTS.md). Above BLOCKS_FROM pictures, square blocks of cells (their mean features) are clustered
instead, so the work stays near that of BLOCKS_FROM pictures.

Each hotspot gets its size, its box on the grid, a representative (its medoid: the member with the least
total distance to the others in feature space) and a label: its most distinctive subjects (or, without
subjects, title words), scored by how much more often they occur in the hotspot than in the collection
(TF-IDF). A curator's label replaces the
automatic one through a YAML file of `<picture id>: <label>` lines (hotspots.labels): it names the
hotspot that holds that picture, so it survives rebuilds as long as the picture stays in a hotspot.

    hotspots.py --features features.npz --grid grid.csv --items items.json --subjects subjects.csv \
        --count 24 [--labels hotspot-labels.yaml] --out hotspots.json --members hotspots.csv
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
import warnings
from collections import Counter

import numpy as np

from common import PipelineError, atomic_path, run_cli
from tables import load_features, read_grid

BLOCKS_FROM = 60_000  # pictures; above this, blocks of cells are clustered (about 4 s at 60,000 here)
STOPWORDS = set("""a an and are as at be by for from in into is it its of on or the to with near view views
photograph photographs photo image images picture pictures untitled unknown no nr ca circa""".split())
WORD = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)


def grid_clusters(features: np.ndarray, cols_rows: np.ndarray, count: int, block: int = 1) -> np.ndarray:
    """Cluster label (0..count-1) of each picture: Ward's method on the features, merging only regions that
    touch on the grid (4-neighbours), on cells or on `block` x `block` blocks of cells."""
    from scipy.sparse import coo_matrix
    from sklearn.cluster import AgglomerativeClustering

    units, unit_of = np.unique(cols_rows // block, axis=0, return_inverse=True)
    unit_of = unit_of.ravel()
    count = max(1, min(count, len(units)))
    if count == 1:
        return np.zeros(len(features), dtype=np.int64)
    sums = np.zeros((len(units), features.shape[1]))
    np.add.at(sums, unit_of, features)
    means = sums / np.bincount(unit_of, minlength=len(units))[:, None]
    index = {(int(c), int(r)): i for i, (c, r) in enumerate(units)}
    pairs = [(i, index[(c + dc, r + dr)]) for (c, r), i in index.items() for dc, dr in ((1, 0), (0, 1))
             if (c + dc, r + dr) in index]
    first, second = (np.array(side, dtype=np.int64) for side in zip(*pairs, strict=True)) if pairs else ([], [])
    connectivity = coo_matrix((np.ones(2 * len(pairs)), (np.r_[first, second], np.r_[second, first])),
                              shape=(len(units), len(units))).tocsr()
    model = AgglomerativeClustering(count, linkage="ward", connectivity=connectivity)
    with warnings.catch_warnings():  # islands of cells (a grid with gaps) are joined, as sklearn says it does
        warnings.simplefilter("ignore", UserWarning)
        labels = model.fit_predict(means)
    return labels[unit_of]


def medoid(points: np.ndarray, candidates: int = 64, others: int = 2000, seed: int = 0) -> int:
    """Index of the medoid of `points` (the one with the least total distance to the others), sought among the
    `candidates` nearest their mean and measured against at most `others` of them (a seeded sample), so that
    a hotspot of 40,000 pictures costs a 64 x 2,000 distance table, not 40,000 squared."""
    points = np.asarray(points, dtype=np.float64)
    near = np.argsort(((points - points.mean(axis=0)) ** 2).sum(axis=1), kind="stable")[:candidates]
    sample = points if len(points) <= others else points[np.random.default_rng(seed).choice(len(points), others,
                                                                                            replace=False)]
    squares = (points[near] ** 2).sum(axis=1)[:, None] + (sample ** 2).sum(axis=1)[None, :] \
        - 2 * points[near] @ sample.T
    return int(near[np.argmin(np.sqrt(np.clip(squares, 0, None)).sum(axis=1))])


def distinctive_terms(members: list[set[str]], frequency: Counter, total: int, top: int = 5) -> list[str]:
    """The terms most typical of the members against the collection: share in the members times the
    inverse document frequency, log(total / items with the term); terms in only one member are left out."""
    inside = Counter(term for terms in members for term in terms)
    scored = [(share / len(members) * math.log(total / frequency[term]), term)
              for term, share in inside.items() if share > 1 and frequency[term] < total]
    return [term for _, term in sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:top]]


def title_words(title: str) -> set[str]:
    return {word.lower() for word in WORD.findall(str(title or ""))} - STOPWORDS


def read_overrides(path: str | None) -> dict[str, str]:
    """A curator's labels, {picture id: label}, from a YAML mapping (ids as text, whatever they look like)."""
    if not path:
        return {}
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.load(handle, Loader=yaml.BaseLoader)  # every scalar as text: id 007 stays 007
    except FileNotFoundError:
        raise PipelineError(f"hotspots.labels: {path} not found") from None
    except yaml.YAMLError as error:
        raise PipelineError(f"hotspots.labels: {path} is not YAML: {error}") from None
    if loaded in (None, ""):
        return {}
    if not isinstance(loaded, dict) or not all(isinstance(value, str) for value in loaded.values()):
        raise PipelineError(f"hotspots.labels: {path} should hold lines of '<picture id>: <label>'")
    return {str(key): value.strip() for key, value in loaded.items() if value.strip()}


def find_hotspots(ids: list[str], features: np.ndarray, cols_rows: np.ndarray, subjects: dict[str, set[str]],
                  titles: dict[str, str], count: int, overrides: dict[str, str] | None = None,
                  block: int | None = None) -> tuple[list[dict], np.ndarray]:
    """(hotspots, the hotspot index of each picture), hotspots largest first: size, box [col0, row0, col1,
    row1], representative id (the medoid), automatic label and terms, and label (a curator's where one names
    a member)."""
    if block is None:
        block = max(1, math.ceil(math.sqrt(len(ids) / BLOCKS_FROM)))
    labels = grid_clusters(features, cols_rows, count, block)
    order = np.argsort(-np.bincount(labels), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    labels = rank[labels]
    subject_frequency = Counter(term for key in ids for term in subjects.get(key, ()))
    words = {key: title_words(titles.get(key, "")) for key in ids}
    word_frequency = Counter(word for key in ids for word in words[key])
    overrides = overrides or {}
    position = {key: index for index, key in enumerate(ids)}
    hotspots = []
    for number in range(labels.max() + 1 if len(labels) else 0):
        members = np.flatnonzero(labels == number)
        representative = ids[members[medoid(features[members])]]
        terms = distinctive_terms([subjects.get(ids[i], set()) for i in members], subject_frequency, len(ids))
        if len(terms) < 2:
            terms += [word for word in distinctive_terms([words[ids[i]] for i in members], word_frequency, len(ids))
                      if word not in {term.lower() for term in terms}][:3 - len(terms)]
        automatic = " · ".join(terms[:2]) if terms else f"Group {number + 1}"
        named = [key for key in overrides if key in position and labels[position[key]] == number]
        chosen = representative if representative in named else named[0] if named else None
        cells = cols_rows[members]
        hotspots.append({"label": overrides[chosen] if chosen else automatic, "autoLabel": automatic,
                         "labelledBy": chosen or "", "terms": terms, "size": int(len(members)),
                         "representative": representative,
                         "box": [int(cells[:, 0].min()), int(cells[:, 1].min()), int(cells[:, 0].max()),
                                 int(cells[:, 1].max())]})
    return hotspots, labels


def read_subjects(path: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            found.setdefault(row["id"], set()).add(row["subject"])
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", required=True)
    parser.add_argument("--grid", required=True)
    parser.add_argument("--items", required=True, help="the metadata stage's items.json (titles)")
    parser.add_argument("--subjects", required=True, help="the metadata stage's subjects.csv (id,subject)")
    parser.add_argument("--count", type=int, default=24, help="hotspots to find")
    parser.add_argument("--labels", default="", help="YAML of '<picture id>: <label>' naming hotspots")
    parser.add_argument("--out", required=True, help="hotspots.json")
    parser.add_argument("--members", required=True, help="hotspots.csv: id,hotspot (its index in hotspots.json)")
    args = parser.parse_args(argv)
    ids, vectors, _ = load_features(args.features)
    grid, cols, rows = read_grid(args.grid)
    place = dict(zip(grid["id"], zip(grid["col"], grid["row"], strict=True), strict=True))
    kept = [i for i, key in enumerate(ids) if key in place]
    ids = [ids[i] for i in kept]
    cols_rows = np.array([place[key] for key in ids], dtype=np.int64).reshape(-1, 2)
    with open(args.items, encoding="utf-8") as handle:
        items = json.load(handle)
    titles = dict(zip(items["id"], items["title"], strict=True))
    overrides = read_overrides(args.labels)
    hotspots, labels = find_hotspots(ids, np.asarray(vectors[kept], dtype=np.float32), cols_rows,
                                     read_subjects(args.subjects), titles, args.count, overrides)
    unknown = sorted(set(overrides) - set(ids))
    if unknown:
        print(f"hotspots.labels names {len(unknown)} picture(s) not in the collection, e.g. {unknown[0]!r}; "
              "their labels are not used", file=sys.stderr)
    with atomic_path(args.out) as temp:
        temp.write_text(json.dumps({"grid": [cols, rows], "hotspots": hotspots}, ensure_ascii=False, indent=1),
                        encoding="utf-8")
    with atomic_path(args.members) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "hotspot"])
        writer.writerows(zip(ids, labels.tolist(), strict=True))
    for number, hotspot in enumerate(hotspots[:10]):
        print(f"hotspot {number + 1}: {hotspot['label']} ({hotspot['size']} pictures)", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
