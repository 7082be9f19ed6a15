"""Shared fixtures: small collections the tests make themselves (pytest.ini puts scripts/ on the path)."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent


def draw_picture(seed: int, size=(96, 72)) -> Image.Image:
    """A small picture whose colours and shapes depend on `seed`, so features differ between seeds."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, size[0] - 10)), int(rng.integers(0, size[1] - 10))
        draw.ellipse((x0, y0, x0 + int(rng.integers(8, 40)), y0 + int(rng.integers(8, 40))),
                     fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return image


@pytest.fixture
def picture_folder(tmp_path):
    """Twelve small JPEGs with string ids of the kinds real collections have."""
    folder = tmp_path / "images"
    folder.mkdir()
    ids = ["000123", "K9045", "nnc2_181", "2A1083", "43069-Edit", "7", "008", "a b", "x.y", "Z", "m1", "m2"]
    for seed, key in enumerate(ids):
        draw_picture(seed).save(folder / f"{key}.jpg", quality=90)
    return folder, ids


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory):
    """The demo collection at 3 variants per photograph (42 images), built once per test session."""
    import demo_collection

    folder = tmp_path_factory.mktemp("demo")
    demo_collection.build(folder, per_source=3)
    return folder


@pytest.fixture(scope="session")
def node_available():
    if shutil.which("node") is None or not (ROOT / "viewer" / "node_modules").is_dir():
        pytest.fail("Node.js and viewer/node_modules are needed: run `make setup`")
    return True
