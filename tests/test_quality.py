import json

import numpy as np
import pandas as pd
import pytest

import quality


def lattice(cols, rows):
    xs, ys = np.meshgrid(np.arange(cols), np.arange(rows))
    return np.column_stack([xs.ravel(), ys.ravel()])


def test_dpq_matches_the_authors_reference_implementation():
    from vc_flas import metrics

    rng = np.random.default_rng(0)
    features = rng.normal(size=(8 * 9, 5))
    ours = quality.dpq(features, lattice(9, 8), p=16)
    reference = metrics.distance_preservation_quality(features.reshape(8, 9, 5), p=16)
    assert ours == pytest.approx(reference, rel=1e-9)


def test_dpq_over_blocks_of_rows_equals_dpq_over_all_at_once():
    rng = np.random.default_rng(4)
    features = rng.normal(size=(7 * 11, 6))
    cells = lattice(11, 7)[rng.permutation(77)]
    whole = quality.dpq(features, cells)
    assert quality.dpq(features, cells, pairs_at_once=77 * 5) == pytest.approx(whole, rel=1e-12)  # 5 rows a block
    assert quality.dpq(features, cells, pairs_at_once=1) == pytest.approx(whole, rel=1e-12)  # one row a block
    # Blocks computed by several threads are summed in their order: the very same figure.
    assert quality.dpq(features, cells, pairs_at_once=77 * 5, threads=3) == \
        quality.dpq(features, cells, pairs_at_once=77 * 5)
    assert quality.dpq(features[:1], cells[:1]) == 0.0


def test_dpq_is_one_for_a_perfect_arrangement_and_lower_when_shuffled():
    cells = lattice(10, 10)
    features = np.column_stack([cells, np.zeros(100)]).astype(float) * 3.0  # feature space = the grid itself
    assert quality.dpq(features, cells) == pytest.approx(1.0)
    shuffled = cells[np.random.default_rng(1).permutation(100)]
    swapped = cells.copy()
    swapped[[0, 99]] = swapped[[99, 0]]  # one far swap
    assert quality.dpq(features, shuffled) < quality.dpq(features, swapped) < 1.0


def test_knn_preservation_perfect_random_and_shuffled():
    rng = np.random.default_rng(2)
    points = rng.normal(size=(300, 2))
    assert quality.knn_preservation(points, points * 5 + 1) == 1.0
    random = quality.knn_preservation(points, rng.normal(size=(300, 2)))
    assert random < 0.1  # about k / N
    noisy = quality.knn_preservation(points, points + rng.normal(scale=0.05, size=(300, 2)))
    assert random < noisy < 1.0
    queries = np.arange(0, 300, 3)
    assert quality.knn_preservation(points, points, queries=queries) == 1.0


def test_subject_share_known_answers():
    cells = lattice(10, 2)  # two rows: the top row is all "sea", the bottom row all "land"
    subjects = [{"sea"}] * 10 + [{"land"}] * 10
    # inner cells: left, right (same row) and below/above (other row) -> 2/3; the 4 end cells: 1/3
    assert quality.subject_share(cells, subjects, k=3, jitter=0.01) == pytest.approx((16 * 2 / 3 + 4 * 1 / 3) / 20)
    one_subject = [{"x"}] * 20
    assert quality.subject_share(cells, one_subject, k=3) == 1.0
    alternating = [{"a"} if (c + r) % 2 else {"b"} for c, r in cells]
    assert quality.subject_share(cells, alternating, k=4, jitter=0.01) < 0.35  # chessboard: neighbours differ


def test_measure_estimates_on_subsets_above_the_limit_and_says_so():
    rng = np.random.default_rng(3)
    count = 400
    cells = lattice(20, 20)
    features = np.column_stack([cells, rng.normal(scale=0.1, size=(count, 3))])
    ids = [f"{i:03d}" for i in range(count)]
    result = quality.measure(ids, features, cells.astype(float), cells, subset=150, subsets=2, queries=100)
    assert result["dpq16"]["estimated_on_random_subsets"] == {"size": 150, "count": 2}
    assert result["dpq16"]["value"] > 0.9
    assert result["knn10_preservation"]["averaged_over_random_images"] == 100
    assert result["subjects"] is None
    # The figures of stable additions: a group above the limit is measured on that many at random, too.
    placed = np.where(np.arange(count) < 40, 1, 0)
    additions = quality.measure(ids, features, None, cells, subset=150, queries=100, placed=placed)["additions"]
    assert additions["fresh_layout"]["images"] == 360 and additions["latest"]["images"] == 40
    assert additions["fresh_layout"]["averaged_over_random_images"] == 100
    assert additions["latest"]["averaged_over_random_images"] is None
    assert additions["fresh_layout"]["knn10_preservation_grid"] > 0.3


def test_cli_writes_layout_quality_json(tmp_path):
    ids = [f"k{i}" for i in range(36)]
    cells = lattice(6, 6)
    np.savez(tmp_path / "f.npz", ids=np.array(ids), paths=np.array(ids), features=cells.astype(np.float32),
             description=np.array("{}"))
    pd.DataFrame({"id": ids, "x": cells[:, 0], "y": cells[:, 1]}).to_csv(tmp_path / "e.csv", index=False)
    with open(tmp_path / "g.csv", "w") as handle:
        handle.write("# grid 6x6\n")
        pd.DataFrame({"id": ids, "col": cells[:, 0], "row": cells[:, 1]}).to_csv(handle, index=False)
    pd.DataFrame({"id": ids, "subject": ["left" if c < 3 else "right" for c, _ in cells]}).to_csv(
        tmp_path / "s.csv", index=False)
    quality.main(["-features", str(tmp_path / "f.npz"), "-embedding", str(tmp_path / "e.csv"), "-grid",
                  str(tmp_path / "g.csv"), "-sub", str(tmp_path / "s.csv"), "-out", str(tmp_path / "q.json")])
    result = json.loads((tmp_path / "q.json").read_text())
    assert result["dpq16"]["value"] == pytest.approx(1.0)
    subjects = result["subjects"]
    assert subjects["share_of_10_grid_neighbours_with_a_shared_subject"] > subjects["same_for_random_arrangements"]
    assert result["grid_size"] == "6x6"


def test_cli_refuses_a_subset_too_small_to_measure(tmp_path):
    with pytest.raises(quality.PipelineError, match="at least 2"):
        quality.main(["-features", "f.npz", "-embedding", "e.csv", "-grid", "g.csv", "-out", str(tmp_path / "q.json"),
                      "-subset", "1"])
    assert not (tmp_path / "q.json").exists()
