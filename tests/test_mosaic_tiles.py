import numpy as np
import pandas as pd
import pytest
from PIL import Image

import mosaic
import tiles
from common import read_grid
from dzi_check import check_pyramid


def awkward_images(folder):
    Image.new("RGB", (300, 100), (250, 0, 0)).save(folder / "wide.jpg")
    Image.new("RGB", (50, 200), (0, 250, 0)).save(folder / "tall.png")
    Image.new("RGBA", (64, 64), (0, 0, 250, 128)).save(folder / "alpha.png")
    Image.new("L", (90, 90), 128).save(folder / "gray.jpg")
    Image.new("RGB", (90, 90), (10, 200, 10)).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(np.full((40, 60), 30000, dtype=np.uint16)).save(folder / "sixteen.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 nothing")
    return {p.stem: str(p) for p in folder.iterdir()}


def test_cells_are_square_rgb_for_any_input_and_broken_files_get_a_placeholder(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    images = awkward_images(source)
    out = tmp_path / "cells"
    out.mkdir()
    failures = mosaic.make_cells(images, out, 32, progress=False)
    assert [f[0] for f in failures] == ["broken"]
    for key in images:
        with Image.open(out / f"{key}.jpg") as cell:
            assert cell.size == (32, 32) and cell.mode == "RGB", key
    with Image.open(out / "wide.jpg") as cell:  # crop-to-fill: no black bars
        assert min(cell.getpixel((1, 16))[0], cell.getpixel((16, 1))[0]) > 200
    letterboxed = tmp_path / "letterbox"
    letterboxed.mkdir()
    mosaic.make_cells({"wide": images["wide"]}, letterboxed, 32, fit="letterbox", progress=False)
    with Image.open(letterboxed / "wide.jpg") as cell:
        assert cell.getpixel((16, 1))[0] < 30 and cell.getpixel((16, 16))[0] > 200


def make_grid_file(path, ids, cols, rows, seed=0):
    cells = np.random.default_rng(seed).permutation(cols * rows)[: len(ids)]
    with open(path, "w") as handle:
        handle.write(f"# grid {cols}x{rows}\n")
        pd.DataFrame({"id": ids, "col": cells % cols, "row": cells // cols}).to_csv(handle, index=False)


@pytest.mark.parametrize("tile_size,overlap", [(32, 1), (32, 0), (64, 2)])
def test_tiles_form_a_complete_pyramid_with_each_cell_in_its_place(tmp_path, tile_size, overlap):
    source = tmp_path / "in"
    source.mkdir()
    colours = {f"{i:03d}": tuple(int(v) for v in np.random.default_rng(i).integers(0, 255, 3)) for i in range(11)}
    for key, colour in colours.items():
        Image.new("RGB", (50, 40), colour).save(source / f"{key}.png")
    make_grid_file(tmp_path / "grid.csv", list(colours), 4, 3)
    mosaic.main(["-in", str(tmp_path / "grid.csv"), "-image", str(source / "*.png"), "-out", str(tmp_path / "cells"),
                 "-tile", "32"])
    tiles.main(["-in", str(tmp_path / "grid.csv"), "-cells", str(tmp_path / "cells"), "-out", str(tmp_path / "tiles"),
                "-tile", "32", "-tsize", str(tile_size), "-overlap", str(overlap)])
    info, levels = check_pyramid(tmp_path / "tiles" / "mosaic.dzi")
    assert (info["width"], info["height"], info["tile"], info["overlap"]) == (128, 96, tile_size, overlap)
    # Reassemble the deepest level and check every cell's colour, and that empty cells are background.
    top = max(levels)
    full = Image.new("RGB", (128, 96))
    for (c, r) in levels[top]:
        with Image.open(tmp_path / "tiles" / "mosaic_files" / str(top) / f"{c}_{r}.jpg") as tile:
            full.paste(tile, (c * tile_size - (overlap if c else 0), r * tile_size - (overlap if r else 0)))
    pixels = np.asarray(full).astype(int)
    grid_table, cols, rows = read_grid(tmp_path / "grid.csv")
    placed = {(col, row): key for key, col, row in grid_table.itertuples(index=False)}
    for row in range(rows):
        for col in range(cols):
            centre = pixels[row * 32 + 16, col * 32 + 16]
            expected = colours[placed[(col, row)]] if (col, row) in placed else (0, 0, 0)
            assert np.abs(centre - expected).max() < 12, (col, row)
