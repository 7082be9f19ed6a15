import os

import numpy as np
import pandas as pd
import pytest

import embedding
import grid
from common import PipelineError
from tables import read_grid


def two_clusters(count=60, seed=0):
    rng = np.random.default_rng(seed)
    half = count // 2
    return np.vstack([rng.normal(0, 1, (half, 16)), rng.normal(8, 1, (count - half, 16))])


def test_tsne_is_reproducible_with_a_seed_and_separates_clusters():
    data = two_clusters()
    first = embedding.embed(data, perplexity=10, n_iter=250, jobs=2, random_state=3)
    second = embedding.embed(data, perplexity=10, n_iter=250, jobs=2, random_state=3)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (60, 2)
    centre_a, centre_b = first[:30].mean(axis=0), first[30:].mean(axis=0)
    spread = max(first[:30].std(axis=0).max(), first[30:].std(axis=0).max())
    assert np.linalg.norm(centre_a - centre_b) > 2 * spread


def test_tsne_refuses_too_few_points():
    with pytest.raises(PipelineError, match="at least 4"):
        embedding.embed(np.zeros((3, 5)))


def test_tsne_of_a_sample_places_the_other_points_among_their_nearest_embedded_ones():
    rng = np.random.default_rng(4)
    centres = rng.normal(0, 12, (4, 16))
    labels = rng.integers(0, 4, 400)
    data = centres[labels] + rng.normal(0, 1, (400, 16))
    points = embedding.embed(data, perplexity=10, n_iter=250, jobs=2, random_state=3, sample=80)
    assert points.shape == (400, 2) and np.isfinite(points).all()
    np.testing.assert_array_equal(points, embedding.embed(data, perplexity=10, n_iter=250, jobs=2, random_state=3,
                                                          sample=80))
    chosen = np.sort(np.random.default_rng(3).choice(400, 80, replace=False))
    alone = embedding.embed(data[chosen], perplexity=10, n_iter=250, jobs=2, random_state=3)
    np.testing.assert_array_equal(points[chosen], alone)  # the sample is embedded as on its own
    # Each placed point lies with its own cluster's embedded points: nearer their centre than any other's.
    placed = np.setdiff1d(np.arange(400), chosen)
    centres_2d = np.array([points[chosen][labels[chosen] == c].mean(axis=0) for c in range(4)])
    nearest_centre = np.linalg.norm(points[placed, None] - centres_2d[None], axis=2).argmin(axis=1)
    assert (nearest_centre == labels[placed]).mean() > 0.97
    with pytest.raises(PipelineError, match="at least 11"):
        embedding.embed(data, sample=10)
    few = data[:9]  # a sample as large as the collection is no sample: any size t-SNE takes works
    np.testing.assert_array_equal(embedding.embed(few, perplexity=2, n_iter=250, random_state=3, sample=9),
                                  embedding.embed(few, perplexity=2, n_iter=250, random_state=3))


def test_the_tsne_sample_picks_itself_by_size_and_obeys_a_number():
    assert embedding.sample_size_for(13_000) == 13_000
    assert embedding.sample_size_for(embedding.SAMPLE_FROM - 1) == embedding.SAMPLE_FROM - 1
    assert embedding.sample_size_for(embedding.SAMPLE_FROM) == embedding.SAMPLE_MIN
    assert embedding.sample_size_for(400_000) == 40_000
    assert embedding.sample_size_for(1_000_000) == embedding.SAMPLE_MAX == embedding.sample_size_for(5_000_000)
    assert embedding.sample_size_for(1_000_000, "all") == 1_000_000
    assert embedding.sample_size_for(1_000, 5_000) == 1_000
    assert embedding.sample_size_for(100_000, 30_000) == 30_000
    for wrong in ("10", "-5", "some", "1e5"):
        with pytest.raises(SystemExit):
            embedding.main(["--in", "x.npz", "--out", "y.csv", "--sample", wrong])


def is_one_to_one(cells, cols, rows):
    return (len({tuple(c) for c in cells}) == len(cells) and cells[:, 0].min() >= 0 and cells[:, 1].min() >= 0
            and cells[:, 0].max() < cols and cells[:, 1].max() < rows)


@pytest.mark.parametrize("block", [4096, 16])
def test_points_on_a_lattice_come_back_to_their_own_cells(block):
    cols, rows = 12, 9
    xs, ys = np.meshgrid(np.arange(cols), np.arange(rows))
    points = np.column_stack([xs.ravel(), ys.ravel()]).astype(float) * 3.7 + 11  # scaled and shifted
    order = np.random.default_rng(1).permutation(len(points))
    cells = grid.assign_to_grid(points[order], cols, rows, block=block)
    assert is_one_to_one(cells, cols, rows)
    np.testing.assert_array_equal(cells, np.column_stack([xs.ravel(), ys.ravel()])[order])


def neighbour_share(a, b, k=5):
    """Share of each point's k nearest neighbours in `a` that are also among its k nearest in `b`."""
    def knn(x):
        distances = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
        np.fill_diagonal(distances, np.inf)
        return np.argsort(distances, axis=1)[:, :k]
    return np.mean([len(set(p) & set(q)) / k for p, q in zip(knn(a), knn(b), strict=True)])


def test_partitioned_assignment_is_valid_with_holes_and_keeps_neighbours():
    rng = np.random.default_rng(2)
    points = rng.normal(size=(500, 2))
    cols, rows = 25, 21  # 525 cells: 25 holes
    cells = grid.assign_to_grid(points, cols, rows, block=64)
    assert is_one_to_one(cells, cols, rows)
    random_cells = np.array(divmod_cells(rng.permutation(cols * rows)[:500], cols))
    assert neighbour_share(points, cells.astype(float)) > 3 * neighbour_share(points, random_cells.astype(float))


def divmod_cells(indices, cols):
    return [(index % cols, index // cols) for index in indices]


def test_grid_cli_writes_ids_and_size_and_names_the_minimum(tmp_path):
    ids = [f"{i:04d}" for i in range(30)]
    points = np.random.default_rng(0).normal(size=(30, 2))
    pd.DataFrame({"id": ids, "x": points[:, 0], "y": points[:, 1]}).to_csv(tmp_path / "e.csv", index=False)
    grid.main(["-in", str(tmp_path / "e.csv"), "-out", str(tmp_path / "g.csv"), "-grid", "6x5"])
    table, cols, rows = read_grid(tmp_path / "g.csv")
    assert (cols, rows) == (6, 5) and table["id"].tolist() == ids  # ids kept as text, leading zeros intact
    with pytest.raises(PipelineError, match="at least 30 cells, e.g. 6x5"):
        grid.main(["-in", str(tmp_path / "e.csv"), "-out", str(tmp_path / "g2.csv"), "-grid", "5x5"])
    assert not (tmp_path / "g2.csv").exists()


def test_flas_gives_a_valid_reproducible_grid_with_holes_that_keeps_neighbours(tmp_path):
    rng = np.random.default_rng(4)
    features = np.vstack([rng.normal(c, 0.3, (40, 6)) for c in (0, 3, 6)])
    cols, rows = 11, 11  # 121 cells for 120 images: one hole
    cells = grid.sort_with_flas(features, cols, rows, seed=1)
    assert is_one_to_one(cells, cols, rows)
    np.testing.assert_array_equal(cells, grid.sort_with_flas(features, cols, rows, seed=1))
    random_cells = np.array(divmod_cells(rng.permutation(cols * rows)[:120], cols))
    assert neighbour_share(features, cells.astype(float)) > 2 * neighbour_share(features, random_cells.astype(float))
    ids = [f"{i:03d}" for i in range(120)]
    np.savez(tmp_path / "f.npz", ids=np.array(ids), paths=np.array(ids), features=features.astype(np.float32),
             description=np.array("{}"))
    grid.main(["-in", str(tmp_path / "f.npz"), "-out", str(tmp_path / "g.csv"), "-method", "flas"])
    table, c, r = read_grid(tmp_path / "g.csv")
    assert (c, r) == (11, 11) and sorted(table["id"]) == ids


@pytest.mark.slow  # numba compiles UMAP first
def test_umap_is_reproducible_with_a_seed_and_separates_clusters(tmp_path):
    data = two_clusters(80)
    first = embedding.embed_umap(data, neighbours=10, random_state=5)
    np.testing.assert_array_equal(first, embedding.embed_umap(data, neighbours=10, random_state=5))
    centre_a, centre_b = first[:40].mean(axis=0), first[40:].mean(axis=0)
    spread = max(first[:40].std(axis=0).max(), first[40:].std(axis=0).max())
    assert np.linalg.norm(centre_a - centre_b) > 2 * spread
    ids = [f"u{i}" for i in range(80)]
    np.savez(tmp_path / "f.npz", ids=np.array(ids), paths=np.array(ids), features=data.astype(np.float32),
             description=np.array("{}"))
    embedding.main(["-in", str(tmp_path / "f.npz"), "-out", str(tmp_path / "e.csv"), "-method", "umap"])
    table = pd.read_csv(tmp_path / "e.csv", dtype={"id": str})
    assert table["id"].tolist() == ids and np.isfinite(table[["x", "y"]].to_numpy()).all()


def test_rasterfairy_gives_a_valid_assignment_better_than_random_on_current_numpy():
    rng = np.random.default_rng(6)
    points = rng.uniform(0, 1, size=(150, 2))  # in [0, 1]: the case the raw PyPI wheel got wrong
    cols, rows = 13, 12  # 156 cells: 6 holes
    cells = grid.sort_with_rasterfairy(points, cols, rows)
    assert is_one_to_one(cells, cols, rows)
    np.testing.assert_array_equal(cells, grid.sort_with_rasterfairy(points, cols, rows))
    random_cells = np.array(divmod_cells(rng.permutation(cols * rows)[:150], cols))
    assert neighbour_share(points, cells.astype(float)) > 2 * neighbour_share(points, random_cells.astype(float))
    assert not hasattr(np, "float")  # the shim lends numpy's old aliases only while RasterFairy runs


def test_multicore_tsne_runs_with_two_jobs_exits_cleanly_and_repeats_with_a_seed(tmp_path):
    """A crash at interpreter exit would fail the Snakemake rule, so run the CLI as the rule does."""
    if os.environ.get("REQUIRE_MULTICORETSNE"):  # CI: the engine must have been built, so this test runs
        import MulticoreTSNE  # noqa: F401
    else:
        pytest.importorskip("MulticoreTSNE", reason="MulticoreTSNE not built here (make setup builds it with cmake)")
    import subprocess
    import sys
    from pathlib import Path

    data = two_clusters(120)
    ids = [f"m{i}" for i in range(120)]
    np.savez(tmp_path / "f.npz", ids=np.array(ids), paths=np.array(ids), features=data.astype(np.float32),
             description=np.array("{}"))
    script = Path(embedding.__file__)
    outputs = []
    for run in range(2):
        out = tmp_path / f"e{run}.csv"
        result = subprocess.run([sys.executable, str(script), "-in", str(tmp_path / "f.npz"), "-out", str(out),
                                 "-method", "multicore-tsne", "-jobs", "2", "-angle", "0.1", "-rate", "150",
                                 "-iter", "300"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(pd.read_csv(out, dtype={"id": str}))
    assert outputs[0]["id"].tolist() == ids
    np.testing.assert_array_equal(outputs[0][["x", "y"]].to_numpy(), outputs[1][["x", "y"]].to_numpy())
    points = outputs[0][["x", "y"]].to_numpy()
    assert np.linalg.norm(points[:60].mean(axis=0) - points[60:].mean(axis=0)) > 2 * points[:60].std(axis=0).max()


def neighbourhood_energy(features, cells, radius=grid.SWAP_RADIUS):
    """What swap_refine lowers: squared feature distance over squared grid distance, pairs within radius."""
    grid_distance = ((cells[:, None, :] - cells[None, :, :]) ** 2).sum(axis=2).astype(float)
    feature_distance = ((features[:, None, :] - features[None, :, :]) ** 2).sum(axis=2)
    near = (grid_distance > 0) & (grid_distance <= radius * radius)
    return (feature_distance[near] / grid_distance[near]).sum()


def test_swap_refinement_repairs_a_scrambled_arrangement_and_leaves_a_perfect_one_alone():
    cols, rows = 14, 12
    xs, ys = np.meshgrid(np.arange(cols), np.arange(rows))
    perfect = np.column_stack([xs.ravel(), ys.ravel()])[:160]  # 8 empty cells at the end of the last row
    features = np.column_stack([perfect, np.sin(perfect[:, :1])]).astype(np.float32)  # a smooth surface
    np.testing.assert_array_equal(grid.swap_refine(features, perfect, cols, rows), perfect)
    scrambled = perfect.copy()
    rng = np.random.default_rng(0)
    for _ in range(60):  # swap random pairs of images at most 2 cells apart
        a = rng.integers(160)
        near = np.flatnonzero(np.abs(perfect - perfect[a]).max(axis=1) <= 2)
        b = rng.choice(near)
        scrambled[[a, b]] = scrambled[[b, a]]
    refined = grid.swap_refine(features, scrambled, cols, rows)
    assert is_one_to_one(refined, cols, rows)
    assert {tuple(c) for c in refined} == {tuple(c) for c in perfect}  # the empty cells stay empty
    np.testing.assert_array_equal(refined, grid.swap_refine(features, scrambled, cols, rows))  # deterministic
    energy = neighbourhood_energy(features, refined)
    assert energy < 0.5 * neighbourhood_energy(features, scrambled) and energy < 1.1 * neighbourhood_energy(
        features, perfect)  # within 10% of the best arrangement (pairwise swaps cannot undo every cycle)
    assert (scrambled == perfect).all(axis=1).mean() == 0.5 and (refined == perfect).all(axis=1).mean() > 0.75


def test_grid_cli_refines_by_features_matched_by_id(tmp_path):
    rng = np.random.default_rng(5)
    ids = [f"{i:03d}" for i in range(90)]
    features = np.vstack([rng.normal(c, 0.3, (30, 8)) for c in (0, 3, 6)]).astype(np.float32)
    points = features[:, :2] + rng.normal(0, 0.5, (90, 2))
    pd.DataFrame({"id": ids, "x": points[:, 0], "y": points[:, 1]}).to_csv(tmp_path / "e.csv", index=False)
    order = rng.permutation(90)  # the features file lists the same ids in another order
    np.savez(tmp_path / "f.npz", ids=np.array(ids)[order], paths=np.array(ids)[order], features=features[order],
             description=np.array("{}"))
    arguments = ["-in", str(tmp_path / "e.csv"), "-features", str(tmp_path / "f.npz"), "-grid", "10x9"]
    grid.main(arguments + ["-out", str(tmp_path / "g.csv")])
    table = read_grid(tmp_path / "g.csv")[0].set_index("id").loc[ids]
    cells = table[["col", "row"]].to_numpy()
    expected = grid.swap_refine(features, grid.assign_to_grid(points, 10, 9), 10, 9)
    np.testing.assert_array_equal(cells, expected)
    grid.main(arguments + ["-out", str(tmp_path / "plain.csv"), "-swap-radius", "0"])
    plain = read_grid(tmp_path / "plain.csv")[0].set_index("id").loc[ids][["col", "row"]].to_numpy()
    np.testing.assert_array_equal(plain, grid.assign_to_grid(points, 10, 9))
    np.savez(tmp_path / "short.npz", ids=np.array(ids[:-1]), paths=np.array(ids[:-1]), features=features[:-1],
             description=np.array("{}"))
    with pytest.raises(PipelineError, match="features file not found"):
        grid.main(arguments[:3] + [str(tmp_path / "nowhere.npz")] + arguments[4:] + ["-out", str(tmp_path / "g4.csv")])
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(PipelineError, match="is not a features file"):
        grid.main(arguments[:3] + [str(tmp_path / "junk.npz")] + arguments[4:] + ["-out", str(tmp_path / "g5.csv")])
    with pytest.raises(PipelineError, match="1 ids of the embedding have no features"):
        grid.main(["-in", str(tmp_path / "e.csv"), "-features", str(tmp_path / "short.npz"), "-grid", "10x9",
                   "-out", str(tmp_path / "g3.csv")])


def test_iterations_and_swap_sweeps_pick_themselves_by_size_and_obey_a_number():
    assert embedding.iterations_for(13_000) == 750
    assert embedding.iterations_for(embedding.FEWER_ITERATIONS_FROM - 1) == 750
    assert embedding.iterations_for(1_000_000) == 500
    assert embedding.iterations_for(1_000_000, "900") == 900
    assert grid.sweeps_for(100_000) == grid.SWAP_SWEEPS
    assert grid.sweeps_for(grid.FEWER_SWEEPS_FROM) == grid.SWAP_SWEEPS
    assert grid.sweeps_for(400_000) == round(grid.SWAP_SWEEPS / 2)
    assert grid.sweeps_for(1_000_000) == grid.MIN_SWEEPS == grid.sweeps_for(10_000_000)
    assert grid.sweeps_for(1_000_000, 3) == 3


def stable_case(count=300, keep=270, seed=0):
    """A fresh lap layout of `keep` of `count` clustered pictures (with spare cells), as a previous layout."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (6, 16))
    features = centres[rng.integers(0, 6, count)] + rng.normal(0, 1, (count, 16))
    ids = [f"p{i:04d}" for i in range(count)]
    cols, rows = grid.grid_size_with_spare("auto", keep, 1.0, 0.1)
    free = grid.spare_cells(cols, rows, keep, 0.1)
    cells = grid.assign_to_grid(features[:keep, :2], cols, rows, free=free)
    previous = pd.DataFrame({"id": ids[:keep], "col": cells[:, 0], "row": cells[:, 1], "placed": 0})
    return ids, features, previous, cols, rows, free


def test_spare_cells_are_spread_evenly_and_a_fresh_layout_leaves_them_free():
    ids, features, previous, cols, rows, free = stable_case()
    assert 0.08 < free.mean() < 0.12 and cols * rows - free.sum() >= 270
    occupied = set(zip(previous["col"], previous["row"], strict=True))
    assert not any(free[row, col] for col, row in occupied)
    # Every cell has a free one within 3 cells: an added picture can sit near any other.
    free_rows, free_cols = np.nonzero(free)
    every = np.stack(np.mgrid[0:rows, 0:cols], axis=-1).reshape(-1, 2)
    nearest = np.abs(every[:, None, :] - np.column_stack([free_rows, free_cols])[None]).max(axis=2).min(axis=1)
    assert nearest.max() <= 3
    # No spare: exactly today's layout.
    points = features[:, :2]
    np.testing.assert_array_equal(grid.assign_to_grid(points, 18, 17), grid.assign_to_grid(
        points, 18, 17, free=grid.spare_cells(18, 17, 300, 0.0)))


def test_a_stable_addition_keeps_every_cell_and_puts_new_pictures_beside_their_likes():
    ids, features, previous, cols, rows, _ = stable_case()
    cells, placed, new_cols, new_rows, report = grid.place_additions(ids, features, previous, cols, rows)
    assert (new_cols, new_rows) == (cols, rows) and report["kept"] == 270 and report["added"] == 30
    np.testing.assert_array_equal(cells[:270], previous[["col", "row"]].to_numpy())
    assert len({tuple(cell) for cell in cells}) == 300 and cells[:, 0].max() < cols and cells[:, 1].max() < rows
    assert placed[:270].sum() == 0 and set(placed[270:]) == {1}
    # Each added picture lands closer to its 10 nearest kept pictures than a random free cell would.
    from neighbours import nearest_among

    near = nearest_among(features[:270], features[270:], 10)
    spread = np.abs(cells[270:, None, :] - cells[:270][near]).sum(axis=2).mean()
    random_cells = np.random.default_rng(1).permutation(cells[:270])[:30]
    assert spread < 0.5 * np.abs(random_cells[:, None, :] - cells[:270][near]).sum(axis=2).mean()


def test_removed_pictures_free_their_cells_a_full_grid_grows_at_its_edges_and_compact_shrinks_it():
    ids, features, previous, cols, rows, _ = stable_case()
    remaining = ids[10:270]
    cells, placed, *_ = grid.place_additions(remaining, features[10:270], previous, cols, rows)
    np.testing.assert_array_equal(cells, previous[["col", "row"]].to_numpy()[10:])  # nothing moves
    # Many more pictures than free cells: the grid grows right and down, keeping its shape; nobody moves.
    more_ids = ids + [f"q{i}" for i in range(200)]
    more = np.vstack([features, features[:200] + 0.1])
    cells, placed, big_cols, big_rows, report = grid.place_additions(more_ids, more, previous, cols, rows)
    assert big_cols * big_rows >= 500 and abs(big_cols - big_rows) <= 1 and report["moved"] == 0
    np.testing.assert_array_equal(cells[:270], previous[["col", "row"]].to_numpy())
    assert len({tuple(cell) for cell in cells}) == 500
    grown = pd.DataFrame({"id": more_ids, "col": cells[:, 0], "row": cells[:, 1], "placed": placed})
    # Back to 100 pictures: compacting shrinks the grid; only the pictures outside it move.
    cells, placed, small_cols, small_rows, report = grid.place_additions(more_ids[:100], more[:100], grown, big_cols,
                                                                         big_rows, compact=True)
    assert (small_cols, small_rows) == (10, 10)
    inside = (grown["col"][:100] < small_cols) & (grown["row"][:100] < small_rows)
    assert report["moved"] == int((~inside).sum()) > 0
    np.testing.assert_array_equal(cells[inside.to_numpy()], grown[["col", "row"]].to_numpy()[:100][inside.to_numpy()])
    assert cells[:, 0].max() < small_cols and cells[:, 1].max() < small_rows


def test_grid_cli_stable_mode_keeps_a_previous_layout_file(tmp_path):
    ids, features, previous, cols, rows, _ = stable_case()
    np.savez(tmp_path / "f.npz", ids=np.array(ids), features=features, description=np.array("{}"))
    with open(tmp_path / "previous.csv", "w") as handle:
        handle.write(f"# grid {cols}x{rows}\n")
        previous.to_csv(handle, index=False)
    grid.main(["--in", str(tmp_path / "f.npz"), "--previous", str(tmp_path / "previous.csv"),
               "--out", str(tmp_path / "g.csv")])
    table, new_cols, new_rows = read_grid(tmp_path / "g.csv")
    assert (new_cols, new_rows) == (cols, rows) and list(table.columns) == ["id", "col", "row", "placed"]
    kept = table.set_index("id").loc[previous["id"]]
    np.testing.assert_array_equal(kept[["col", "row"]].to_numpy(), previous[["col", "row"]].to_numpy())
    clash = pd.concat([previous, previous.iloc[:1].assign(id="other")])
    with pytest.raises(PipelineError, match="two pictures in one cell"):
        grid.place_additions(ids, features, clash, cols, rows)
    with pytest.raises(PipelineError, match="need grid method lap"):
        grid.main(["--in", str(tmp_path / "f.npz"), "--method", "flas", "--spare", "0.1", "--out", str(tmp_path / "x")])
