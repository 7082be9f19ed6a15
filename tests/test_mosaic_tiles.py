import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import iiif_layout
import mosaic
import tiles
from common import PipelineError
from dzi_check import check_pyramid
from tables import read_grid


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
    failures, _ = mosaic.make_cells(images, out, 32, progress=False)
    assert [f[0] for f in failures] == ["broken"]
    assert "\n" not in failures[0][2] and "; " in failures[0][2]  # libvips' lines kept, on one line
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


def test_worker_processes_make_the_same_cells_and_report_the_same_failures(tmp_path, monkeypatch):
    source = tmp_path / "in"
    source.mkdir()
    images = awkward_images(source)
    cache = mosaic.CellCache(tmp_path / "cache", {"size": 32})
    inline, parallel = tmp_path / "inline", tmp_path / "parallel"
    inline.mkdir(), parallel.mkdir()
    expected = mosaic.make_cells(images, inline, 32, threads=1, progress=False)
    monkeypatch.setattr(mosaic, "CHUNK", 2)  # several tasks for two spawned workers
    assert mosaic.make_cells(images, parallel, 32, threads=2, cache=cache, progress=False) == expected
    (tmp_path / "again").mkdir()
    assert mosaic.make_cells(images, tmp_path / "again", 32, threads=2, cache=cache, progress=False) == \
        (expected[0], len(images) - 1)  # all but the placeholder from the cache, counted across the workers
    assert sorted(os.listdir(inline)) == sorted(os.listdir(parallel))
    for name in os.listdir(inline):
        assert (inline / name).read_bytes() == (parallel / name).read_bytes(), name


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


def colour_cells(tmp_path, count=11, cols=4, rows=3, size=32):
    """count one-colour cells placed at random on a cols x rows grid; returns (grid, colours)."""
    cells = tmp_path / "cells"
    cells.mkdir()
    colours = {f"{i:03d}": tuple(int(v) for v in np.random.default_rng(i).integers(0, 255, 3)) for i in range(count)}
    for key, colour in colours.items():
        Image.new("RGB", (size, size), colour).save(cells / f"{key}.jpg", quality=95)
    make_grid_file(tmp_path / "grid.csv", list(colours), cols, rows)
    return read_grid(tmp_path / "grid.csv")[0], colours


@pytest.mark.parametrize("tile_size,cols,rows", [(32, 9, 5), (64, 9, 5), (16, 3, 2), (256, 2, 2)])
def test_iiif_level0_service_answers_every_request_a_client_can_make(tmp_path, tile_size, cols, rows):
    from iiif_check import check_service

    grid_table, _ = colour_cells(tmp_path, count=cols * rows - 2, cols=cols, rows=rows)
    tiles.write_pyramid(grid_table, cols, rows, tmp_path / "cells", tmp_path / "out", 32, tile_size, 1,
                        iiif_base="https://example.org/site/tiles/iiif", progress=False)
    store = tmp_path / "out" / "iiif"  # flat: info.json, a folder per scale factor and one of sizes
    assert all(path.parent == store or path.parent.parent == store for path in store.rglob("*"))
    iiif_layout.lay_out(store, tmp_path / "served")
    info, requests = check_service(tmp_path / "served")
    assert info["id"] == "https://example.org/site/tiles/iiif"
    assert (info["width"], info["height"]) == (cols * 32, rows * 32)
    assert any(path.endswith(",/0/default") for path in requests)  # the Image API 2 `w,` spelling is there
    check_pyramid(tmp_path / "out" / "mosaic.dzi")  # the Deep Zoom pyramid from the same pass


@pytest.mark.parametrize("overlap", [0, 1])
def test_iiif_tiles_hold_the_same_pixels_as_the_deep_zoom_level(tmp_path, overlap):
    grid_table, _ = colour_cells(tmp_path, cols=4, rows=3)
    tiles.write_pyramid(grid_table, 4, 3, tmp_path / "cells", tmp_path / "out", 32, 32, overlap,
                        iiif_base="http://127.0.0.1:8080/tiles/iiif", progress=False)
    iiif_layout.lay_out(tmp_path / "out" / "iiif", tmp_path / "served")
    deepest = max(int(p.name) for p in (tmp_path / "out" / "mosaic_files").iterdir())
    dz = tmp_path / "out" / "mosaic_files" / str(deepest) / "2_1.jpg"
    iiif = tmp_path / "served" / "64,32,32,32" / "32,32" / "0" / "default.jpg"
    assert os.path.samefile(iiif, tmp_path / "out" / "iiif" / "1" / "2_1.jpg")
    assert os.path.samefile(dz, iiif) == (overlap == 0)  # without overlap, one file under both names
    with Image.open(iiif) as served:
        core = np.asarray(served, dtype=int)
    with Image.open(dz) as deep_zoom:
        core_dz = np.asarray(deep_zoom, dtype=int)[overlap:overlap + 32, overlap:overlap + 32]
    # The same pixels, each through its own JPEG encoding: with an overlap the Deep Zoom tile's edge pixels
    # share their colour samples (4:2:0) with the neighbouring cell's border, so its inside is compared.
    assert np.abs(core_dz - core)[2:-2, 2:-2].mean() < 2


def test_a_served_iiif_folder_is_brought_up_to_date_in_place(tmp_path):
    """iiif_layout.lay_out over the layout of an older store (the site's standby): unchanged names keep
    their file and folders, changed ones point at the new file, names gone from the store are removed."""
    from iiif_check import check_service

    grid_table, _ = colour_cells(tmp_path, cols=4, rows=3)
    settings = {"iiif_base": "http://127.0.0.1:8080/tiles/iiif", "progress": False}
    tiles.write_pyramid(grid_table, 4, 3, tmp_path / "cells", tmp_path / "old", 32, 32, 1, **settings)
    served = tmp_path / "served"
    linked, names = iiif_layout.lay_out(tmp_path / "old" / "iiif", served)
    assert names == sum(1 for path in served.rglob("*") if path.is_file())
    unchanged = served / "0,0,32,32" / "32,32" / "0" / "default.jpg"
    (served / "stale,0,1,1" / "1," / "0").mkdir(parents=True)
    (served / "0,0,32,32" / "7,").mkdir()
    # The new store: the same tiles but one, which is drawn anew, and a grid one column wider.
    store = tmp_path / "new" / "iiif"
    shutil.copytree(tmp_path / "old" / "iiif", store, copy_function=os.link)
    (store / "1" / "1_0.jpg").unlink()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(store / "1" / "1_0.jpg")
    before = unchanged.stat()
    assert iiif_layout.lay_out(store, served)[0] == 2  # the new tile's two size names; nothing else changed
    assert unchanged.stat().st_ino == before.st_ino and unchanged.stat().st_ctime_ns == before.st_ctime_ns
    assert os.path.samefile(served / "32,0,32,32" / "32," / "0" / "default.jpg", store / "1" / "1_0.jpg")
    assert not (served / "stale,0,1,1").exists() and not (served / "0,0,32,32" / "7,").exists()
    check_service(served)
    fresh = tmp_path / "fresh"
    assert iiif_layout.lay_out(store, fresh)[0] == linked
    assert sorted(p.relative_to(fresh) for p in fresh.rglob("*")) == sorted(p.relative_to(served)
                                                                          for p in served.rglob("*"))


def test_preview_is_the_whole_mosaic_small(tmp_path):
    grid_table, colours = colour_cells(tmp_path, count=2000 // 100, cols=40, rows=30)  # 1,280 x 960
    geometry = tiles.write_pyramid(grid_table, 40, 30, tmp_path / "cells", tmp_path / "out", 32, progress=False)
    with Image.open(tmp_path / "out" / "preview.jpg") as preview:
        assert preview.size == (640, 480)  # the largest level within 1,024 pixels
    assert geometry["preview"] == "preview.jpg" and geometry["iiif"] is None
    assert not (tmp_path / "out" / "iiif").exists()


def test_an_unreadable_cell_becomes_a_placeholder_and_a_report_line(tmp_path):
    grid_table, colours = colour_cells(tmp_path)
    broken = grid_table["id"].iloc[0]
    (tmp_path / "cells" / f"{broken}.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    tiles.main(["-in", str(tmp_path / "grid.csv"), "-cells", str(tmp_path / "cells"), "-out", str(tmp_path / "t"),
                "-tile", "32", "-tsize", "32", "-background", "10,20,30"])
    report = pd.read_csv(tmp_path / "t" / "tiles_report.csv", dtype=str)
    assert list(report["id"]) == [broken] and "cannot read" in report["reason"][0]
    check_pyramid(tmp_path / "t" / "mosaic.dzi")
    assert json.loads((tmp_path / "mosaic.json").read_text())["placeholders"] == 1


def test_a_failing_tiles_run_leaves_the_previous_output_whole(tmp_path):
    grid_table, _ = colour_cells(tmp_path)
    args = ["-in", str(tmp_path / "grid.csv"), "-cells", str(tmp_path / "cells"), "-out", str(tmp_path / "t"),
            "-tile", "32", "-tsize", "32"]
    tiles.main(args)
    before = sorted(p.relative_to(tmp_path / "t") for p in (tmp_path / "t").rglob("*"))
    Image.new("RGB", (20, 20)).save(tmp_path / "cells" / f"{grid_table['id'].iloc[-1]}.jpg")  # wrong size
    with pytest.raises(PipelineError, match="expected 32x32"):
        tiles.main(args)
    assert sorted(p.relative_to(tmp_path / "t") for p in (tmp_path / "t").rglob("*")) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".t-")]  # no half-written folder left


def test_manifest_is_lean_valid_presentation_3_and_the_annotated_one_has_one_annotation_per_cell(tmp_path):
    from iiif_prezi3 import Manifest

    import manifest

    grid_table, _ = colour_cells(tmp_path)
    tiles.main(["-in", str(tmp_path / "grid.csv"), "-cells", str(tmp_path / "cells"), "-out", str(tmp_path / "t"),
                "-tile", "32", "-tsize", "32", "-iiif", "https://example.org/m/tiles/iiif"])
    ids = list(grid_table["id"])
    items = {"id": ids, "col": [int(c) for c in grid_table["col"]], "row": [int(r) for r in grid_table["row"]],
             "title": ["<img src=x onerror=alert(1)>"] + [f"Item {key}" for key in ids[1:]],
             "url": ["https://example.org/record/1"] + [""] * (len(ids) - 1)}
    (tmp_path / "items.json").write_text(json.dumps(items))
    manifest.main(["-tiles", str(tmp_path / "t"), "-items", str(tmp_path / "items.json"),
                   "-url", "https://example.org/m/", "-out", str(tmp_path / "manifest.json"), "-title", "Mosaic",
                   "--annotated", str(tmp_path / "manifest-cells.json"), "--language", "en"])
    info = json.loads((tmp_path / "t" / "iiif" / "info.json").read_text())
    for name, annotated in (("manifest", False), ("manifest-cells", True)):
        data = json.loads((tmp_path / f"{name}.json").read_text())
        Manifest.model_validate(data)  # the IIIF community's Presentation 3 model
        assert data["@context"] == "http://iiif.io/api/presentation/3/context.json"
        assert data["id"] == f"https://example.org/m/iiif/{name}.json"
        assert data["label"] == {"en": ["Mosaic"]}
        canvas = data["items"][0]
        assert (canvas["width"], canvas["height"]) == (128, 96)
        painting = canvas["items"][0]["items"][0]
        assert painting["motivation"] == "painting" and painting["target"] == canvas["id"]
        service = painting["body"]["service"][0]  # described in full: a viewer needs no info.json to start
        assert service == {"id": "https://example.org/m/tiles/iiif", "type": "ImageService3", "profile": "level0",
                           **{key: info[key] for key in ("width", "height", "sizes", "tiles")}}
        # The thumbnail is a file of its own (preview.jpg), not the body's whole-image URL at another size.
        assert data["thumbnail"] == [{"id": "https://example.org/m/preview.jpg", "type": "Image",
                                      "format": "image/jpeg", "width": 128, "height": 96}]
        assert ("annotations" in canvas) == annotated
    cells = canvas["annotations"][0]["items"]
    assert len(cells) == len(ids)
    first = cells[0]
    col, row = items["col"][0], items["row"][0]
    assert first["target"] == f"{canvas['id']}#xywh={col * 32},{row * 32},32,32"
    assert first["body"][0]["value"] == "<img src=x onerror=alert(1)>"  # verbatim text, format text/plain
    assert first["body"][0]["format"] == "text/plain" and first["body"][0]["language"] == "en"
    assert first["body"][1]["id"] == "https://example.org/record/1"
    assert len(cells[1]["body"]) == 1  # no record link where the CSV has none
    # Without a language the texts are marked as of none, and a text body carries no language at all.
    manifest.main(["-tiles", str(tmp_path / "t"), "-items", str(tmp_path / "items.json"), "-url", "https://example.org/m/",
                   "-out", str(tmp_path / "plain.json"), "--annotated", str(tmp_path / "plain-cells.json")])
    plain = json.loads((tmp_path / "plain-cells.json").read_text())
    assert plain["label"] == {"none": ["Image collection"]}
    assert "language" not in plain["items"][0]["annotations"][0]["items"][0]["body"][0]


def test_cells_honour_exif_orientation(tmp_path):
    stored = Image.new("RGB", (80, 40), (255, 0, 0))
    stored.paste((0, 0, 255), (40, 0, 80, 40))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: the left (red) half ends on top
    stored.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    out = tmp_path / "cells"
    out.mkdir()
    mosaic.make_cells({"rotated": str(tmp_path / "rotated.jpg")}, out, 32, fit="letterbox", progress=False)
    with Image.open(out / "rotated.jpg") as cell:
        top, bottom = cell.getpixel((16, 4)), cell.getpixel((16, 28))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60


@pytest.mark.parametrize("tile_format", ["png", "webp"])
def test_tile_formats(tmp_path, tile_format):
    grid_table, _ = colour_cells(tmp_path)
    tiles.write_pyramid(grid_table, 4, 3, tmp_path / "cells", tmp_path / "out", 32, 32, 1, tile_format,
                        iiif_base="http://127.0.0.1:8080/tiles/iiif", progress=False)
    info, _ = check_pyramid(tmp_path / "out" / "mosaic.dzi")
    assert info["format"] == tile_format
    with Image.open(next((tmp_path / "out" / "iiif" / "full").glob(f"*.{tile_format}"))) as image:
        assert image.format == {"png": "PNG", "webp": "WEBP"}[tile_format]


def reference_levels(mosaic_pixels):
    """Every level of an exact 2x2-mean pyramid of the whole mosaic held in memory, deepest first."""
    levels = [mosaic_pixels]
    while max(levels[-1].shape[:2]) > 1:
        pixels = levels[-1]
        if len(pixels) % 2:
            pixels = np.concatenate([pixels, pixels[-1:]])
        levels.append(tiles.halve(pixels))
    return levels


@pytest.mark.parametrize("jobs", [1, 2])
def test_bands_written_by_worker_processes_give_exactly_the_whole_mosaic_pyramid(tmp_path, monkeypatch, jobs):
    # 29 x 27 cells of 35 px: a 1,015 x 945 mosaic, odd in both directions, whose two deepest levels
    # are written band by band (levels above 256 px here, 1,024 in use); band edges (every 256 rows here,
    # 1,024 in use) cut through cells.
    monkeypatch.setattr(tiles, "PREVIEW_SIZE", 256)
    monkeypatch.setattr(tiles, "BAND_HEIGHT", 256)
    cols, rows, size, tile, overlap = 29, 27, 35, 64, 2
    cells = tmp_path / "cells"
    cells.mkdir()
    rng = np.random.default_rng(0)
    ids = [f"{i:04d}" for i in range(cols * rows - 7)]
    for key in ids:
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(cells / f"{key}.jpg")
    make_grid_file(tmp_path / "grid.csv", ids, cols, rows)
    grid_table = read_grid(tmp_path / "grid.csv")[0]
    tiles.write_pyramid(grid_table, cols, rows, cells, tmp_path / "out", size, tile, overlap, "png", jobs=jobs,
                        iiif_base="https://example.org/iiif", progress=False)
    assert tiles.Bands({}, cols, rows, cells, tmp_path, size, tile, overlap, "png", 90, (0, 0, 0), False).levels == 2
    whole = np.zeros((rows * size, cols * size, 3), np.uint8)
    for key, col, row in grid_table.itertuples(index=False):
        with Image.open(cells / f"{key}.jpg") as cell:
            whole[row * size:(row + 1) * size, col * size:(col + 1) * size] = np.asarray(cell.convert("RGB"))
    info, levels = check_pyramid(tmp_path / "out" / "mosaic.dzi")
    top = max(levels)
    for step, expected in enumerate(reference_levels(whole)):
        level = top - step
        for (c, r) in levels[level]:
            x0, y0 = max(0, c * tile - overlap), max(0, r * tile - overlap)
            with Image.open(tmp_path / "out" / "mosaic_files" / str(level) / f"{c}_{r}.png") as written:
                got = np.asarray(written)
            np.testing.assert_array_equal(got, expected[y0:y0 + got.shape[0], x0:x0 + got.shape[1]],
                                          err_msg=f"level {level} tile {c}_{r}")
    from iiif_check import check_service

    iiif_layout.lay_out(tmp_path / "out" / "iiif", tmp_path / "served")
    check_service(tmp_path / "served")  # the IIIF files of the bands are complete too


@pytest.mark.parametrize("start", ["fork", "spawn"])  # spawn: where the system cannot fork (Windows)
def test_worker_processes_report_broken_cells_and_stop_on_a_wrong_sized_one(tmp_path, monkeypatch, start):
    monkeypatch.setattr(tiles.multiprocessing, "get_all_start_methods", lambda: [start])
    grid_table, _ = colour_cells(tmp_path, count=110, cols=3, rows=40)  # 96 x 1,280 px: two bands
    broken = grid_table.sort_values("row")["id"].iloc[-1]  # in the second band
    (tmp_path / "cells" / f"{broken}.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    geometry = tiles.write_pyramid(grid_table, 3, 40, tmp_path / "cells", tmp_path / "out", 32, 32, 1, jobs=2,
                                   progress=False)
    assert geometry["placeholders"] == 1
    assert list(pd.read_csv(tmp_path / "out" / "tiles_report.csv", dtype=str)["id"]) == [broken]
    Image.new("RGB", (20, 20)).save(tmp_path / "cells" / f"{broken}.jpg")
    with pytest.raises(PipelineError, match="expected 32x32; rerun the mosaic stage"):
        tiles.write_pyramid(grid_table, 3, 40, tmp_path / "cells", tmp_path / "out2", 32, 32, 1, jobs=2,
                            progress=False)


def test_the_mosaic_in_shards_gathers_into_the_same_pyramid(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    keys = [f"{i:03d}" for i in range(11)]
    for i, key in enumerate(keys):
        Image.new("RGB", (50, 40), tuple(int(v) for v in np.random.default_rng(i).integers(0, 255, 3))).save(
            source / f"{key}.png")
    make_grid_file(tmp_path / "grid.csv", keys, 4, 3)
    common = ["-in", str(tmp_path / "grid.csv"), "-image", str(source / "*.png"), "-tile", "32"]
    mosaic.main([*common, "-out", str(tmp_path / "whole")])
    shards = [tmp_path / f"shard-{i}-of-3" for i in range(3)]
    for i, folder in enumerate(shards):
        mosaic.main([*common, "-out", str(folder), "--shard", f"{i}/3"])
    parts = [{path.stem for path in folder.glob("*.jpg")} for folder in shards]
    assert sum(map(len, parts)) == 11 and set().union(*parts) == set(keys) and all(parts)  # disjoint, complete
    args = ["-in", str(tmp_path / "grid.csv"), "-tile", "32", "-tsize", "32"]
    tiles.main([*args, "-cells", str(tmp_path / "whole"), "-out", str(tmp_path / "t1")])
    tiles.main([*args, "-cells", *map(str, shards), "-out", str(tmp_path / "t2")])
    deepest = max(int(level.name) for level in (tmp_path / "t1" / "mosaic_files").iterdir())
    for tile in (tmp_path / "t1" / "mosaic_files" / str(deepest)).iterdir():
        assert tile.read_bytes() == (tmp_path / "t2" / "mosaic_files" / str(deepest) / tile.name).read_bytes()
    assert pd.read_csv(tmp_path / "t2" / "tiles_report.csv").empty
    # A shard left out is not a silent gap: its cells are reported as placeholders.
    tiles.main([*args, "-cells", *map(str, shards[:2]), "-out", str(tmp_path / "t3")])
    report = pd.read_csv(tmp_path / "t3" / "tiles_report.csv", dtype=str)
    assert set(report["id"]) == parts[2] and report["reason"].str.contains("no cell").all()


def test_cells_of_shards_are_gathered_by_id_and_a_clash_or_missing_folder_is_an_error(tmp_path):
    from common import cell_files

    for name, keys in {"a": ["1", "2"], "b": ["3"]}.items():
        (tmp_path / name).mkdir()
        for key in keys:
            (tmp_path / name / f"{key}.jpg").write_bytes(b"x")
        (tmp_path / name / "cells_report.csv").write_text("id,path,reason\n")
    found = cell_files([tmp_path / "a", tmp_path / "b"])
    assert found == {"1": tmp_path / "a" / "1.jpg", "2": tmp_path / "a" / "2.jpg", "3": tmp_path / "b" / "3.jpg"}
    (tmp_path / "b" / "2.jpg").write_bytes(b"x")
    with pytest.raises(PipelineError, match="'2' has a cell in both"):
        cell_files([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(PipelineError, match="folder of cells not found"):
        cell_files([tmp_path / "c"])


def publish(folder, grid_path, tiles_dir, cells_dir):
    """What the site stage publishes and a later build's tiles stage reads: layout.csv, tiles/ (IIIF laid out
    under its served names), thumbs/."""
    folder.mkdir()
    shutil.copytree(tiles_dir, folder / "tiles", copy_function=os.link, ignore=shutil.ignore_patterns("iiif"))
    if (tiles_dir / "iiif").is_dir():
        iiif_layout.lay_out(tiles_dir / "iiif", folder / "tiles" / "iiif")
    shutil.copytree(cells_dir, folder / "thumbs", copy_function=os.link)
    shutil.copy2(grid_path, folder / "layout.csv")
    return folder


def noisy_cells(folder, keys, size=32):
    folder.mkdir(exist_ok=True)
    for key in keys:
        pixels = np.random.default_rng(abs(hash(key)) % 2**32).integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{key}.jpg", quality=95)


def write_grid(path, ids, cells, cols, rows):
    with open(path, "w") as handle:
        handle.write(f"# grid {cols}x{rows}\n")
        table = pd.DataFrame({"id": ids, "col": [c for c, _ in cells], "row": [r for _, r in cells]})
        table.to_csv(handle, index=False)
    return read_grid(path)


def test_an_update_reuses_the_tiles_of_unchanged_cells_untouched_and_renders_the_rest_as_a_fresh_build(tmp_path):
    settings = {"cell_size": 32, "tile": 32, "overlap": 1, "iiif_base": "http://example.org/iiif", "jobs": 1}
    ids = [f"i{k}" for k in range(60)]
    cells = [(k % 9, k // 9) for k in range(60)]
    noisy_cells(tmp_path / "cells", ids)
    grid0, cols, rows = write_grid(tmp_path / "grid0.csv", ids, cells, 9, 8)
    tiles.write_pyramid(grid0, cols, rows, tmp_path / "cells", tmp_path / "tiles0", progress=False, **settings)
    site = publish(tmp_path / "site", tmp_path / "grid0.csv", tmp_path / "tiles0", tmp_path / "cells")
    before = {path: path.stat().st_mtime_ns for path in (site / "tiles").rglob("*.jpg")}
    # Three added pictures, one removed, one picture's cell changed; the grid grows by a column.
    noisy_cells(tmp_path / "cells", ["n1", "n2", "n3"])
    (tmp_path / "cells" / "i0.jpg").unlink()
    (tmp_path / "cells" / "i5.jpg").unlink()  # a new file under the same id (the mosaic never writes in place)
    Image.new("RGB", (32, 32), (200, 10, 10)).save(tmp_path / "cells" / "i5.jpg")
    ids1, cells1 = ids[1:] + ["n1", "n2", "n3"], cells[1:] + [(6, 6), (9, 0), (9, 7)]
    grid1, cols1, rows1 = write_grid(tmp_path / "grid1.csv", ids1, cells1, 10, 8)
    geometry = tiles.update_pyramid(grid1, cols1, rows1, tmp_path / "cells", tmp_path / "tiles1", site, **settings)
    changed = geometry["changed"]
    assert changed["cells"] == 3 + 8  # (0,0) emptied, (5,0) redrawn, (6,6) filled, and the new column
    assert 0 < changed["deepestLevel"]["changed"] < changed["deepestLevel"]["tiles"]
    tiles.write_pyramid(grid1, cols1, rows1, tmp_path / "cells", tmp_path / "fresh", progress=False, **settings)
    check_pyramid(tmp_path / "tiles1" / "mosaic.dzi")
    made = sorted(p.relative_to(tmp_path / "tiles1") for p in (tmp_path / "tiles1").rglob("*") if p.is_file())
    assert made == sorted(p.relative_to(tmp_path / "fresh") for p in (tmp_path / "fresh").rglob("*") if p.is_file())
    top = max(int(p.name) for p in (tmp_path / "fresh" / "mosaic_files").iterdir())
    reused = 0
    for path in made:
        new, fresh = tmp_path / "tiles1" / path, tmp_path / "fresh" / path
        if path.suffix != ".jpg":
            continue
        old = site / "tiles" / path
        if old in before and os.path.samefile(old, new):  # reused: the very file, its time unchanged
            assert new.stat().st_mtime_ns == before[old]
            reused += 1
        full_size_iiif = path.parts[:2] == ("iiif", "1")
        if path.parts[:2] == ("mosaic_files", str(top)) or full_size_iiif:
            assert new.read_bytes() == fresh.read_bytes(), path  # the deepest level: exactly a fresh build's
        else:
            a, b = (np.asarray(Image.open(p).convert("RGB"), float) for p in (new, fresh))
            assert 10 * np.log10(255 ** 2 / max(((a - b) ** 2).mean(), 1e-9)) > 25, path
    assert reused >= changed["tilesReused"] > 0
    # The reused IIIF tiles are the site's served files (taken by their served names).
    served = {(p.stat().st_dev, p.stat().st_ino) for p in (site / "tiles" / "iiif").rglob("default.jpg")}
    store = [p.stat() for p in (tmp_path / "tiles1" / "iiif").glob("*/*.jpg")]
    assert 0 < sum((s.st_dev, s.st_ino) in served for s in store) < len(store)
    # Other settings: nothing is reused.
    assert tiles.update_pyramid(grid1, cols1, rows1, tmp_path / "cells", tmp_path / "other", site,
                                **{**settings, "overlap": 0}) is None


def test_the_cell_cache_makes_each_cell_once_and_sees_a_picture_change(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    Image.new("RGB", (60, 40), (250, 0, 0)).save(source / "a.jpg")
    Image.new("RGB", (60, 40), (0, 250, 0)).save(source / "b.jpg")
    images = {p.stem: str(p) for p in source.iterdir()}
    cache = mosaic.CellCache(tmp_path / "cache", {"size": 32})
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
    assert mosaic.make_cells(images, tmp_path / "first", 32, cache=cache, progress=False) == ([], 0)
    assert mosaic.make_cells(images, tmp_path / "second", 32, cache=cache, progress=False) == ([], 2)
    assert os.path.samefile(tmp_path / "first" / "a.jpg", tmp_path / "second" / "a.jpg")
    Image.new("RGB", (60, 40), (0, 0, 250)).save(source / "a.jpg")  # edited in place
    os.utime(source / "a.jpg", ns=(1, 1))
    (tmp_path / "third").mkdir()
    assert mosaic.make_cells(images, tmp_path / "third", 32, cache=cache, progress=False) == ([], 1)
    with Image.open(tmp_path / "third" / "a.jpg") as cell:
        assert cell.getpixel((16, 16))[2] > 200


def test_pool_workers_die_when_their_job_is_killed(tmp_path):
    """common.process_pool: a mosaic or tiles job killed with SIGKILL takes its worker processes with it (they
    used to linger, blocked, for ever)."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "job.py"
    script.write_text(
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(os.path.join(os.path.dirname(__file__), '..', 'scripts'))!r})\n"
        "from common import process_pool\n"
        "if __name__ == '__main__':\n"
        "    pool = process_pool(1, 'spawn')\n"
        "    print(pool.submit(os.getpid).result(), flush=True)\n"
        "    pool.submit(time.sleep, 600)\n"
        "    time.sleep(600)\n")
    job = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(job.stdout.readline())
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    pytest.fail("the pool's worker outlived its killed job")
