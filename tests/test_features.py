"""The features stage: extraction shards gathered and reduced by PCA, or vectors brought from elsewhere."""
import json

import numpy as np
import pandas as pd
import pytest

import extract
import features
import images
from common import PipelineError
from tables import load_features


def test_pca_is_capped_by_the_data():
    rng = np.random.default_rng(0)
    reduced, info = features.reduce_dimensions(rng.normal(size=(10, 50)), 256)
    assert reduced.shape == (10, 10) and info["pca_components"] == 10 and info["pca_requested"] == 256


def test_cli_writes_ids_model_description_and_rejected_csv(tmp_path, picture_folder):
    folder, ids = picture_folder
    (folder / "zero.jpg").write_bytes(b"")
    out = tmp_path / "out" / "features.npz"
    extract.main(["--in", str(folder / "*.jpg"), "--out", str(tmp_path / "raw.npz"), "--jobs", "2"])
    features.main(["--gather", str(tmp_path / "raw.npz"), "--out", str(out), "--pca", "8"])
    got_ids, vectors, description = load_features(out)
    assert sorted(got_ids) == sorted(ids) and vectors.shape == (len(ids), 8)
    assert description["model"] == "efficientnet-lite0" and description["raw_dimensions"] == 1280
    assert "127" in description["preprocessing"]
    rejected = pd.read_csv(out.with_name("rejected.csv"), dtype=str)
    assert rejected["id"].tolist() == ["zero"]
    with np.load(out, allow_pickle=False) as data:  # no pickles inside
        assert set(data.files) == {"ids", "paths", "features", "description"}
        json.loads(str(data["description"]))


def test_shards_gather_into_the_same_file_as_one_run(tmp_path, picture_folder):
    """One run from a glob against three shards of the image list; the original's single-dash flags still work."""
    folder, ids = picture_folder
    extract.main(["--in", str(folder / "*.jpg"), "--out", str(tmp_path / "raw.npz"), "--batch", "4"])
    features.main(["--gather", str(tmp_path / "raw.npz"), "--out", str(tmp_path / "whole.npz"), "--pca", "6"])
    images.main(["--in", str(folder / "*.jpg"), "--out", str(tmp_path / "images.csv")])
    raws = [str(tmp_path / f"raw-{i}.npz") for i in range(3)]
    for index, raw in enumerate(raws):
        extract.main(["--images", str(tmp_path / "images.csv"), "-shard", f"{index}/3", "-raw", raw, "-batch", "4"])
    features.main(["-gather", *raws, "-out", str(tmp_path / "sharded.npz"), "-pca", "6"])
    whole_ids, whole, whole_description = load_features(tmp_path / "whole.npz")
    shard_ids, sharded, shard_description = load_features(tmp_path / "sharded.npz")
    assert whole_ids == shard_ids == sorted(ids)
    # Equal up to float rounding: oneDNN's kernels round differently for different batch sizes.
    np.testing.assert_allclose(sharded, whole, rtol=1e-4, atol=1e-4)
    assert whole_description.pop("pca_explained_variance") == pytest.approx(
        shard_description.pop("pca_explained_variance"), rel=1e-5)
    assert whole_description == shard_description
    assert {images.shard_of(key, 3) for key in ids} == {0, 1, 2}


def test_bring_your_own_embeddings_in_every_format(tmp_path, picture_folder):
    folder, ids = picture_folder
    known = ids[:-1]  # the last image has no vector: it is rejected, not shifted
    vectors = np.random.default_rng(0).normal(size=(len(known) + 1, 5)).astype(np.float32)
    keys = known + ["not-an-image"]
    np.savez(tmp_path / "v.npz", ids=np.array(keys), features=vectors)
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "v.ids.txt").write_text("\n".join(keys))
    pd.DataFrame({"id": keys, "vector": list(vectors)}).to_parquet(tmp_path / "v.parquet")
    pd.DataFrame(vectors, columns=[f"d{i}" for i in range(5)]).assign(id=keys).to_csv(tmp_path / "v.csv", index=False)
    images.main(["--in", str(folder / "*.jpg"), "--out", str(tmp_path / "images.csv")])
    results = []
    for name in ("v.npz", "v.npy", "v.parquet", "v.csv"):
        out = tmp_path / f"out-{name}.npz"
        features.main(["--images", str(tmp_path / "images.csv"), "--embeddings", str(tmp_path / name),
                       "--out", str(out), "--pca", "3"])
        got_ids, reduced, description = load_features(out)
        assert got_ids == sorted(known) and description["model"] == "embeddings file"
        rejected = pd.read_csv(out.with_name("rejected.csv"), dtype=str)
        assert rejected["id"].tolist() == [ids[-1]]
        results.append(reduced)
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=1e-5, atol=1e-5)
    np.savez(tmp_path / "dup.npz", ids=np.array(["a", "a"]), features=np.zeros((2, 3)))
    with pytest.raises(PipelineError, match="duplicate ids"):
        features.read_vectors(tmp_path / "dup.npz")
    with pytest.raises(PipelineError, match="must be .npz"):
        features.read_vectors(tmp_path / "v.ids.txt")


def test_a_non_finite_vector_is_rejected_by_name_not_a_pca_traceback(tmp_path):
    from tables import save_npz

    vectors = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    vectors[2, 3] = np.nan
    ids = ["a", "b", "c", "d"]
    save_npz(tmp_path / "raw.npz", ids=np.array(ids), paths=np.array([f"{k}.jpg" for k in ids]), vectors=vectors,
             rejected=np.zeros((0, 3), dtype=str), description={"model": "test"})
    features.main(["--gather", str(tmp_path / "raw.npz"), "--out", str(tmp_path / "features.npz"), "--pca", "2"])
    got_ids, reduced, _ = load_features(tmp_path / "features.npz")
    assert got_ids == ["a", "b", "d"] and np.isfinite(reduced).all()
    rejected = pd.read_csv(tmp_path / "rejected.csv", dtype=str)
    assert rejected.values.tolist() == [["c", "c.jpg", "its feature vector is not finite (NaN or infinite)"]]
