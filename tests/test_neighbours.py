import json

import numpy as np
import pytest

import neighbours
from common import PipelineError
from neighbours import nearest_neighbours


def test_nearest_neighbours_in_order_on_a_line():
    points = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]])
    nearest = nearest_neighbours(points, np.arange(5), 3, ordered=True)
    assert nearest.tolist() == [[1, 2, 3], [0, 2, 3], [1, 0, 3], [2, 1, 0], [3, 2, 1]]
    assert nearest_neighbours(points, np.arange(5), 10, ordered=True).shape == (5, 4)  # at most everyone else


def test_similar_images_are_given_by_position_in_cell_order(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"{i:03d}" for i in range(30)]
    vectors = rng.normal(size=(30, 8))
    vectors[7] = vectors[3] + 1e-3  # 007 is 003's twin
    np.savez(tmp_path / "features.npz", ids=np.array(ids), features=vectors, description=json.dumps({}))
    cells = rng.permutation(36)[:30]
    with open(tmp_path / "grid.csv", "w") as handle:
        handle.write("# grid 6x6\nid,col,row\n")
        handle.writelines(f"{key},{cell % 6},{cell // 6}\n" for key, cell in zip(ids, cells, strict=True))
    neighbours.main(["-features", str(tmp_path / "features.npz"), "-grid", str(tmp_path / "grid.csv"),
                     "-out", str(tmp_path / "n.json"), "-k", "12"])
    data = json.loads((tmp_path / "n.json").read_text())
    assert data["k"] == 12 and len(data["id"]) == 30
    assert data["id"] == [ids[i] for i in np.argsort(cells)]  # the items.json order: by cell
    position = {key: p for p, key in enumerate(data["id"])}
    assert data["id"][data["neighbours"][position["003"]][0]] == "007"
    assert all(len(row) == 12 and position[key] not in row for key, row in zip(data["id"], data["neighbours"],
                                                                               strict=True))


def test_an_image_without_features_is_an_error():
    with pytest.raises(PipelineError, match="no feature vector"):
        neighbours.similar_images(["a", "b"], np.zeros((2, 3)), ["a", "b", "c"])


@pytest.mark.slow  # pynndescent's first use compiles it (numba): about 20 s
def test_the_approximate_search_finds_nearly_all_exact_neighbours_and_never_the_image_itself():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, 16))
    points = centres[rng.integers(0, 20, 3000)] + 0.4 * rng.normal(size=(3000, 16))
    points[5] = points[9]  # identical twins: each must still list the other, never itself
    points[6] = points[9]
    exact = nearest_neighbours(points, np.arange(3000), 12, ordered=True)
    approximate = neighbours.approximate_neighbours(points, 12, seed=3)
    assert approximate.shape == (3000, 12)
    assert not (approximate == np.arange(3000)[:, None]).any()
    assert {5, 6} <= set(approximate[9]) and {6, 9} <= set(approximate[5])
    recall = np.mean([len(set(a) & set(e)) / 12 for a, e in zip(approximate, exact, strict=True)])
    assert recall >= 0.95, recall
    assert (neighbours.approximate_neighbours(points, 12, seed=3) == approximate).all()  # seeded: repeatable
    ids = [f"{i:04d}" for i in range(3000)]
    result = neighbours.similar_images(ids, points, ids, 12, method="approximate", seed=3)
    assert result["method"] == "approximate" and result["neighbours"] == approximate.tolist()
