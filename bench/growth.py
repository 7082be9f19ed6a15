"""Growing collections (issue 17): stable layouts against fresh ones.

Two parts:

`--sample`: the 1,500 real photographs of ../shared/data/amnh-sample (their features from a build with the
default model, scale.py's sample_vectors) with 10% held out. The held-out pictures are added to a fresh
layout of the other 90% in each of three ways, and their share of 10 grid neighbours with a shared subject
is compared with what a fresh layout of all 1,500 gives them:
- `place`: the workflow's stable mode (grid.place_additions: free cells near the median cell of each added
  picture's 10 most similar kept pictures, one exact assignment);
- `tsne-transform`: openTSNE embeds the added pictures into the kept pictures' t-SNE
  (`TSNEEmbedding.transform`), and each is assigned to the free cell nearest its point on the grid;
- `flas-frozen`: FLAS (vc-flas) sorts the added pictures into the free cells with the kept ones frozen,
  starting from random free cells.
Each with a fresh layout keeping no spare cells and one keeping 5% and 10% (layout.spare).

`--count 13000 --additions 10`: the workflow itself (`snakemake --cores 2`, vectors given, as scale.py
builds its collection) on N pictures with a fresh layout (layout.spare), then ten stable builds each adding
1% more: each run's time, the existing pictures that kept their cells, the deepest tiles that changed, the
added pictures' figures; at the end a fresh build of the same pictures for DPQ16 and subject share.

    python bench/growth.py --sample
    python bench/growth.py --count 13000 --additions 10 [--spare 0.05] [--overlap 1]
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import embedding
import grid
from machine import describe_machine  # bench/machine.py
from plan_time import snakemake  # bench/plan_time.py
from quality import subject_share
from scale import SAMPLE, build_collection, sample_vectors  # bench/scale.py
from tables import read_grid

HELD_OUT = 0.10
TIE_JITTER = 0.01


def subjects_of(ids: list[str]) -> list[set]:
    table = pd.read_csv(SAMPLE / "subjects.csv", dtype=str, keep_default_na=False)
    by_id = table.groupby("id")["subject"].apply(set).to_dict()
    return [by_id.get(key, set()) for key in ids]


def fresh_layout(features: np.ndarray, spare: float = 0.0, seed: int = 42):
    """The workflow's fresh layout: openTSNE (750 iterations), lap with `spare` cells, swap refinement."""
    points = embedding.embed(features, n_iter=750, random_state=seed)
    cols, rows = grid.grid_size_with_spare("auto", len(features), 1.0, spare)
    cells = grid.assign_to_grid(points, cols, rows, free=grid.spare_cells(cols, rows, len(features), spare))
    return grid.swap_refine(features, cells, cols, rows), cols, rows, points


def free_cells_nearest(targets: np.ndarray, cells: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """Each target's cell among those free, by one exact assignment (the grid grown at its edges if needed)."""
    from scipy.optimize import linear_sum_assignment

    while cols * rows < len(cells) + len(targets):
        cols, rows = (cols + 1, rows) if cols <= rows else (cols, rows + 1)
    occupied = np.zeros((rows, cols), bool)
    occupied[cells[:, 1], cells[:, 0]] = True
    free_rows, free_cols = np.nonzero(~occupied)
    free = np.column_stack([free_cols, free_rows])
    cost = ((targets[:, None, :] - free[None]) ** 2).sum(axis=2)
    picked, chosen = linear_sum_assignment(cost)
    out = np.zeros((len(targets), 2), int)
    out[picked] = free[chosen]
    return out


def add_by_tsne_transform(features, kept, added, cells, cols, rows, seed=42):
    """openTSNE's transform of the added pictures into the kept ones' embedding, then the nearest free cells."""
    from openTSNE import TSNE

    fitted = TSNE(n_iter=750, random_state=seed, n_jobs=2).fit(features[kept])
    points = np.asarray(fitted.transform(features[added]))
    # The kept pictures' grid cells are not their t-SNE points scaled: map points to cells by an affine fit.
    design = np.column_stack([np.asarray(fitted), np.ones(len(kept))])
    mapping, *_ = np.linalg.lstsq(design, cells.astype(float), rcond=None)
    targets = np.column_stack([points, np.ones(len(added))]) @ mapping
    return free_cells_nearest(targets, cells, cols, rows)


def add_by_flas(features, kept, added, cells, cols, rows, seed=0):
    """FLAS with the kept pictures frozen in their cells, the added ones starting in random free cells."""
    from vc_flas import Grid, flas

    while cols * rows < len(kept) + len(added):
        cols, rows = (cols + 1, rows) if cols <= rows else (cols, rows + 1)
    slots = np.full((rows, cols), -1, np.int32)
    frozen = np.zeros((rows, cols), bool)
    order = np.concatenate([kept, added])
    slots[cells[:, 1], cells[:, 0]] = np.arange(len(kept))
    frozen[cells[:, 1], cells[:, 0]] = True
    free = np.flatnonzero(slots.ravel() < 0)
    start = np.random.default_rng(seed).choice(free, len(added), replace=False)
    slots.flat[start] = np.arange(len(kept), len(order))
    sorting = flas(Grid(features[order].astype(np.float32), slots, frozen, np.arange(len(order), dtype=np.int32)),
                   seed=seed).sorting
    out = np.zeros((len(order), 2), int)
    rows_index, cols_index = np.nonzero(sorting >= 0)
    out[sorting[rows_index, cols_index]] = np.column_stack([cols_index, rows_index])
    assert (out[:len(kept)] == cells).all(), "FLAS moved a frozen picture"
    return out[len(kept):]


def sample_part(root: Path) -> None:
    pictures, features = sample_vectors(root)
    ids = [path.stem for path in pictures]
    sets = subjects_of(ids)
    rng = np.random.default_rng(17)
    added = np.sort(rng.choice(len(ids), round(HELD_OUT * len(ids)), replace=False))
    kept = np.setdiff1d(np.arange(len(ids)), added)
    print(f"Machine: {describe_machine()}. {len(ids)} sample photographs, {len(added)} held out "
          f"({sum(bool(sets[i]) for i in added)} of them with subjects).\n")
    fresh_cells, *_ = fresh_layout(features)
    reference = subject_share(fresh_cells, sets, 10, added, TIE_JITTER)
    print(f"Fresh layout of all {len(ids)}: the held-out pictures' share of 10 grid neighbours with a shared "
          f"subject {reference:.3f}; the collection's {subject_share(fresh_cells, sets, 10, None, TIE_JITTER):.3f}.\n")
    print("| fresh layout of the 90% | way of adding | seconds to add | held-out share | vs fresh | "
          "collection share | grid |")
    print("|---|---|---|---|---|---|---|")
    for spare in (0.0, 0.05, 0.10):
        cells, cols, rows, _ = fresh_layout(features[kept], spare)
        previous = pd.DataFrame({"id": [ids[i] for i in kept], "col": cells[:, 0], "row": cells[:, 1]})
        for name in ("place", "tsne-transform", "flas-frozen"):
            started = time.perf_counter()
            if name == "place":
                placed = grid.place_additions(ids, features, previous, cols, rows, spare=spare)[0][added]
            elif name == "tsne-transform":
                placed = add_by_tsne_transform(features, kept, added, cells, cols, rows)
            else:
                placed = add_by_flas(features, kept, added, cells, cols, rows)
            seconds = time.perf_counter() - started
            everything = np.zeros((len(ids), 2), int)
            everything[kept], everything[added] = cells, placed
            assert len({tuple(cell) for cell in everything}) == len(ids)
            share = subject_share(everything, sets, 10, added, TIE_JITTER)
            whole = subject_share(everything, sets, 10, None, TIE_JITTER)
            size = f"{everything[:, 0].max() + 1}x{everything[:, 1].max() + 1}"
            print(f"| spare {spare:.2f} ({cols}x{rows}) | {name} | {seconds:.1f} | {share:.3f} "
                  f"| {share - reference:+.3f} "
                  f"| {whole:.3f} | {size} |")


def job_seconds(out: Path, since: float) -> list[tuple[str, float]]:
    """(job, wall seconds) of each job that ran since `since`, from Snakemake's benchmark files, longest first."""
    ran = [(path.stem, float(pd.read_csv(path, sep="\t")["s"].iloc[0]))
           for path in (out / "benchmarks").glob("*.tsv") if path.stat().st_mtime >= since]
    return sorted(ran, key=lambda pair: -pair[1])


def arrangement_tiles(out: Path) -> str:
    """Tiles rendered / reused by the arrangements' pyramids (all rendered when they were made afresh)."""
    rendered = reused = 0
    for geometry in sorted((out / "arrangements").glob("*/mosaic.json")):
        made = json.loads(geometry.read_text())
        changed = made.get("changed", {"tilesRendered": made["tiles"], "tilesReused": 0})
        rendered, reused = rendered + changed["tilesRendered"], reused + changed["tilesReused"]
    return f"{rendered:,} / {reused:,}"


def workflow_part(root: Path, count: int, additions: int, spare: float, overlap: int, rebuild: bool = True) -> None:
    step = max(1, round(count / 100))
    total = count + additions * step
    pictures, vectors = sample_vectors(root)
    work = root / f"growth{count}-spare{spare}-overlap{overlap}"
    config_path = build_collection(work, total, pictures, vectors)
    config = yaml.safe_load(config_path.read_text())
    ids = sorted(path.stem for path in (work / "images").glob("*.jpg")) if (work / "images").is_dir() else []
    held = work / "held-out"
    if not held.is_dir():  # the last additions * step pictures wait outside the collection
        held.mkdir()
        for key in ids[count:]:
            (work / "images" / f"{key}.jpg").rename(held / f"{key}.jpg")
    config["collection"]["name"] = "growth"
    config["layout"] = {"mode": "fresh", "spare": spare}
    config["tiles"] = {"overlap": overlap}
    fresh = work / "fresh.yaml"
    fresh.write_text(yaml.safe_dump(config))
    stable = work / "stable.yaml"
    stable.write_text(yaml.safe_dump({**config, "layout": {"mode": "stable", "spare": spare}}))
    out = work / "results" / "growth"
    seconds, _ = snakemake(work, fresh, "--quiet", "rules", capture=False)
    print(f"\nMachine: {describe_machine()}, no GPU. {count:,} pictures (scale.py's collection), "
          f"layout.spare {spare}, tiles.overlap {overlap}: fresh build {seconds:.0f} s.\n")
    print("| addition | pictures | run s | share of fresh build | kept their cells | grid | deepest tiles changed "
          "| tiles rendered / reused | arrangements' tiles rendered / reused | added: 10-NN kept "
          "| added: subject share | fresh part: subject share |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    fresh_seconds = seconds
    waiting = sorted(held.glob("*.jpg"))
    jobs = []
    for number in range(1, additions + 1):
        before, _, _ = read_grid(out / "grid.csv")
        for path in waiting[(number - 1) * step:number * step]:
            path.rename(work / "images" / path.name)
        started = time.time()
        seconds, _ = snakemake(work, stable, "--quiet", "rules", capture=False)
        jobs.append(job_seconds(out, started))
        after, cols, rows = read_grid(out / "grid.csv")
        merged = before.merge(after, on="id", suffixes=("_before", "_after"))
        kept = ((merged["col_before"] == merged["col_after"]) & (merged["row_before"] == merged["row_after"])).mean()
        changed = json.loads((out / "mosaic.json").read_text()).get("changed", {})
        deepest = changed.get("deepestLevel", {"changed": 0, "tiles": 1})
        quality = json.loads((out / "layout_quality.json").read_text())
        share = "share_of_10_grid_neighbours_with_a_shared_subject"
        latest, rest = quality["additions"]["latest"], quality["additions"]["fresh_layout"]
        print(f"| {number} | {len(after):,} | {seconds:.0f} | {seconds / fresh_seconds:.0%} | {kept:.2%} "
              f"| {cols}x{rows} "
              f"| {deepest['changed']:,} of {deepest['tiles']:,} ({deepest['changed'] / deepest['tiles']:.1%}) "
              f"| {changed.get('tilesRendered', 0):,} / {changed.get('tilesReused', 0):,} "
              f"| {arrangement_tiles(out)} "
              f"| {latest['knn10_preservation_grid']:.3f} | {latest.get(share, float('nan')):.3f} "
              f"| {rest.get(share, float('nan')):.3f} |")
    for number, seconds_by_job in enumerate(jobs, 1):
        print(f"\nAddition {number}, each job's own seconds: "
              + ", ".join(f"{name} {value:.1f}" for name, value in seconds_by_job))
    stable_quality = json.loads((out / "layout_quality.json").read_text())
    if not rebuild:
        return
    # A fresh build of the same pictures, beside the stable one.
    config["collection"]["name"] = "growth-fresh"
    rebuilt = work / "rebuilt.yaml"
    rebuilt.write_text(yaml.safe_dump(config))
    seconds, _ = snakemake(work, rebuilt, "--quiet", "rules", capture=False)
    fresh_quality = json.loads((work / "results" / "growth-fresh" / "layout_quality.json").read_text())
    share = "share_of_10_grid_neighbours_with_a_shared_subject"
    print(f"\nAfter {additions} additions: DPQ16 {stable_quality['dpq16']['value']:.3f} (fresh build of the same "
          f"pictures {fresh_quality['dpq16']['value']:.3f}, {seconds:.0f} s), subject share "
          f"{stable_quality['subjects'][share]:.3f} (fresh {fresh_quality['subjects'][share]:.3f}), 10-NN kept by the "
          f"grid {stable_quality['knn10_preservation']['grid']:.3f} "
          f"(fresh {fresh_quality['knn10_preservation']['grid']:.3f}).")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", action="store_true", help="the layout-only comparison on the 1,500 photographs")
    parser.add_argument("--count", type=int, default=13000)
    parser.add_argument("--additions", type=int, default=10)
    parser.add_argument("--spare", type=float, default=0.05)
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/scale")
    parser.add_argument("--no-rebuild", action="store_true", help="leave out the fresh build of the final pictures")
    args = parser.parse_args()
    root = Path(args.workdir)
    if args.sample:
        sample_part(root)
    else:
        workflow_part(root, args.count, args.additions, args.spare, args.overlap, not args.no_rebuild)


if __name__ == "__main__":
    main()
