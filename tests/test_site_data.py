"""The site's data files (site_data.py): written in chunks, read back whole, the viewer's hash of ids."""
import json

import numpy as np
import pytest

from common import PipelineError
from site_data import NO_YEAR, id_bucket, read_site_data, write_site_data


def items_of(count: int, cols: int = 4, subject_names: int = 3) -> dict:
    """Columns as the metadata stage writes them: `count` items in cell order, with a hole at cell 2."""
    cells = [cell for cell in range(count + 1) if cell != 2][:count]
    return {
        "count": count, "id": [f"{i:03d}" for i in range(count)],
        "col": [cell % cols for cell in cells], "row": [cell // cols for cell in cells],
        "title": [f"Title {i}\nsecond line" if i == 3 else f"Title {i}" for i in range(count)],
        "date": [str(1900 + i) for i in range(count)], "dateLabel": [str(1900 + i) for i in range(count)],
        "yearStart": [None if i % 5 == 0 else 1900 + i for i in range(count)],
        "url": [f"https://example.org/{i}" for i in range(count)], "imageUrl": [""] * count,
        "thumb": [f"thumbs/{i:03d}.jpg" for i in range(count)],
        "subjects": [[i % subject_names, (i + 1) % subject_names][: i % 3] for i in range(count)],
        "subjectNames": [f"S{k}" for k in range(subject_names)], "subjectCounts": [1] * subject_names,
    }


def write(tmp_path, items, cols=4, neighbours=None, chunk_size=3):
    data = tmp_path / "site" / "data"
    data.mkdir(parents=True)
    entry = write_site_data(data, items, cols, neighbours, chunk_size)
    (data / "collection.json").write_text(json.dumps({"grid": {"cols": cols}, "items": entry}))
    return entry, tmp_path / "site"


def test_everything_written_in_chunks_reads_back_as_the_metadata_gave_it(tmp_path):
    items = items_of(10)
    entry, site = write(tmp_path, items)
    assert entry["chunks"] == 4 and entry["count"] == 10 and entry["subjectIdBytes"] == 1
    assert sorted(p.name for p in (site / "data" / "items").iterdir()) == [f"{n:05d}.json" for n in range(4)]
    back = read_site_data(site)
    for field in ("id", "title", "date", "dateLabel", "yearStart", "url", "imageUrl", "thumb", "subjects",
                  "subjectNames"):
        assert back[field] == items[field], field
    assert back["cell"] == [0, 1, 3, 4, 5, 6, 7, 8, 9, 10]  # the hole at cell 2 stays a hole
    assert (site / "data" / "years.bin").stat().st_size == 20 and (site / "data" / "cells.bin").stat().st_size == 40
    assert np.fromfile(site / "data" / "years.bin", "<i2")[0] == NO_YEAR
    titles = (site / "data" / "titles.txt").read_text(encoding="utf-8").split("\n")
    assert len(titles) == 10 and titles[3] == "Title 3 second line"  # one line per item, always


def test_ids_are_bucketed_by_the_hash_the_viewer_computes(tmp_path):
    # viewer/test/data.test.mjs checks the same numbers against data.js's idBucket
    assert [id_bucket(key, 7) for key in ["0001", "K9045", "12-Edit", "007", "a", "Zürich é"]] == [2, 0, 1, 1, 5, 6]
    assert id_bucket("K9045", 2**32 - 1) == 151725112
    entry, site = write(tmp_path, items_of(10))
    found = {}
    for number in range(entry["idBuckets"]):
        bucket = json.loads((site / "data" / "ids" / f"{number:05d}.json").read_text())
        assert all(id_bucket(key, entry["idBuckets"]) == number for key in bucket)
        found.update(bucket)
    assert found == {f"{i:03d}": i for i in range(10)}


def test_neighbours_are_mapped_through_ids_without_self_repeats_or_unknown_ids(tmp_path):
    items = items_of(5)
    # The neighbours file in another order, with an id the items lack and the item itself in its list.
    own = ["004", "003", "gone", "002", "001", "000"]
    lists = [[0, 1, 1, 2, 3], [1, 0, 3], [0], [4, 5, 3], [5], [4, 99]]
    entry, site = write(tmp_path, items, neighbours={"k": 2, "id": own, "neighbours": lists})
    assert entry["neighbours"] == 2
    back = read_site_data(site)["neighbours"]
    assert back == [[1], [0], [1, 0], [4, 2], [3, 2]]  # positions in the site's own order; at most k


def test_many_subjects_take_two_bytes_and_years_out_of_range_are_unknown(tmp_path):
    items = items_of(6, subject_names=300)
    items["subjects"][1] = [299, 5]
    items["yearStart"][2] = 40000
    entry, site = write(tmp_path, items)
    assert entry["subjectIdBytes"] == 2
    back = read_site_data(site)
    assert back["subjects"][1] == [299, 5] and back["yearStart"][2] is None


def test_bad_items_are_refused(tmp_path):
    items = items_of(4)
    items["col"][1], items["col"][2] = items["col"][2], items["col"][1]
    with pytest.raises(PipelineError, match="cell order"):
        write(tmp_path / "a", items)
    items = items_of(4)
    items["subjects"][0] = list(range(256))
    with pytest.raises(PipelineError, match="255"):
        write(tmp_path / "b", items)
    with pytest.raises(PipelineError, match="chunk size"):
        write(tmp_path / "c", items_of(4), chunk_size=0)


def test_an_empty_collection_writes_empty_columns(tmp_path):
    entry, site = write(tmp_path, items_of(0))
    assert entry["chunks"] == 0 and entry["idBuckets"] == 1
    assert read_site_data(site)["subjects"] == []


def test_the_site_links_a_deep_tiles_tree_whole_with_many_threads(tmp_path):
    """site.mirror_tree: every file hard-linked at its place however deep, folders without files kept, reports
    (*.csv) and Snakemake's marks left out; the same with one thread as with many."""
    import importlib.util
    import os
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("site_stage", Path(__file__).parent.parent / "scripts" / "site.py")
    site_stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(site_stage)
    source = tmp_path / "tiles"
    for region in range(60):  # the IIIF layout: region/size/rotation/quality
        for size in ("128,", "128,128"):
            folder = source / "iiif" / f"{region * 128},0,128,128" / size / "0"
            folder.mkdir(parents=True)
            (folder / "default.jpg").write_bytes(f"{region}".encode())
    (source / "mosaic_files" / "0").mkdir(parents=True)
    (source / "mosaic_files" / "0" / "0_0.jpg").write_bytes(b"tile")
    (source / "mosaic.dzi").write_text("<Image/>")
    (source / "tiles_report.csv").write_text("id\n")
    (source / ".snakemake_timestamp").write_text("")
    (source / "iiif" / "empty" / "deeper").mkdir(parents=True)
    (source / "iiif" / "0,0,128,128" / "report.csv").write_text("x\n")

    def tree(root):
        return sorted(str(path.relative_to(root)) + ("/" if path.is_dir() else "") for path in root.rglob("*"))

    wanted = [name for name in tree(source) if not name.endswith(".csv") and ".snakemake_" not in name]
    for threads in (1, 8):
        target = tmp_path / f"site{threads}" / "tiles"
        target.parent.mkdir()
        site_stage.mirror_tree(source, target, threads=threads)
        assert tree(target) == wanted
        for name in wanted:
            if not name.endswith("/"):
                assert os.path.samefile(source / name, target / name), name

    # Mirrored again over a stale copy (the standby site): what is the source's already stays untouched,
    # changed files are linked anew, files and folders gone from the source go, a file become a folder too.
    target = tmp_path / "site8" / "tiles"
    kept = target / "iiif" / "128,0,128,128" / "128," / "0" / "default.jpg"
    kept_status = kept.stat()
    changed = source / "iiif" / "0,0,128,128" / "128," / "0" / "default.jpg"
    changed.unlink()
    changed.write_bytes(b"new")
    (target / "iiif" / "stale,0,1,1" / "1," / "0").mkdir(parents=True)
    (target / "mosaic_files" / "0" / "9_9.jpg").write_bytes(b"old")
    (target / "mosaic.dzi").unlink()
    (target / "mosaic.dzi").mkdir()
    (target / "mosaic_files" / "0" / "1_1.jpg").write_bytes(b"not from the source")
    (source / "mosaic_files" / "0" / "1_1.jpg").write_bytes(b"tile 2")
    wanted = [name for name in tree(source) if not name.endswith(".csv") and ".snakemake_" not in name]
    site_stage.mirror_tree(source, target, threads=8)
    assert tree(target) == wanted
    for name in wanted:
        if not name.endswith("/"):
            assert os.path.samefile(source / name, target / name), name
    assert (target / "iiif" / "0,0,128,128" / "128," / "0" / "default.jpg").read_bytes() == b"new"
    assert kept.stat().st_ino == kept_status.st_ino and kept.stat().st_ctime_ns == kept_status.st_ctime_ns


def test_the_standby_site_is_a_real_folder_beside_the_site(tmp_path):
    """A file or a link under the standby's name is removed, never written through; a folder is kept."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("site_stage", Path(__file__).parent.parent / "scripts" / "site.py")
    site_stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(site_stage)
    site = tmp_path / "site"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    standby = tmp_path / ".site.standby"
    standby.symlink_to(elsewhere)
    assert site_stage.standby_folder(site) == standby and not standby.exists() and elsewhere.is_dir()
    standby.write_text("not a folder")
    assert not site_stage.standby_folder(site).exists()
    standby.mkdir()
    (standby / "kept").write_text("x")
    assert (site_stage.standby_folder(site) / "kept").exists()
