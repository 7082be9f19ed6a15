"""The whole Snakefile on a tiny collection (the demo generator at 3 variants per photograph: 42 images)."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from dzi_check import check_pyramid
from iiif_check import check_service
from images import read_list
from site_data import read_site_data
from tables import load_features, read_grid

pytestmark = pytest.mark.workflow
ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "collection": {"name": "tiny", "title": "Tiny test collection", "description": "Made by the tests.",
                   "about": ["About <b>this</b> test."], "language": "en"},
    "demo": {"folder": "data/demo", "per_source": 3},
    "images": "data/demo/images/*.jpg",
    "metadata": {"items": "data/demo/items.csv", "subjects": "data/demo/subjects.csv"},
    "features": {"pca": 16, "batch_size": 16},
    "embedding": {"iterations": 250},
    "site": {"annotated_manifest": True},
    "jobs": 2,
}


def snakemake_command(workdir, *args) -> tuple[list[str], dict]:
    """The command line running this Snakefile in `workdir` (2 cores unless --cores is given), and an
    environment whose `python` is this venv's, as the rules' shell commands need."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cores = [] if "--cores" in args else ["--cores", "2"]
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), *cores, *args], env


def snakemake(workdir, *args, check=True):
    command, env = snakemake_command(workdir, *args)
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def rule_of(command: list[str]) -> str | None:
    """The rule a job's command line runs: its script's name (scripts/images.py serves two rules)."""
    script = next((Path(part).stem for part in command if part.endswith(".py") and "/scripts/" in part), None)
    if script == "images":
        return "images" if "--join" in command else "image_shard"
    if script == "iiif_source":
        return next(rule for option, rule in (("--list", "iiif_manifests"), ("--fetch", "iiif_fetch"),
                                              ("--join", "iiif_records")) if option in command)
    if script == "tiles" and any("/arrangements/" in part for part in command):
        return "arrangement_tiles"
    return {"arrangements": "arrangement"}.get(script, script)


def kill_first(workdir, rules: set[str], *args) -> str | None:
    """Run snakemake and SIGKILL the first job of one of `rules` as soon as it starts, as the out-of-memory
    killer would; return that rule, once snakemake has exited (None if no such job started)."""
    import psutil

    command, env = snakemake_command(workdir, *args)
    with open(Path(workdir) / "killed-run.log", "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        killed = None
        deadline = time.monotonic() + 300
        while killed is None and process.poll() is None and time.monotonic() < deadline:
            try:
                children = psutil.Process(process.pid).children(recursive=True)
            except psutil.Error:
                break
            for child in children:
                try:
                    rule = rule_of(child.cmdline())
                    if rule in rules:
                        child.kill()
                        killed = rule
                        break
                except psutil.Error:  # ended, or a zombie, meanwhile
                    continue
            time.sleep(0.02)
        code = process.wait(timeout=300)
    assert killed is None or code != 0, f"snakemake exited 0 after {killed} was killed"
    return killed


def planned_jobs(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    table = output.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)
            if rule != "total"}


def write_config(path, changes=None):
    config = json.loads(json.dumps(TINY))
    for section, values in (changes or {}).items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, node_available):
    workdir = tmp_path_factory.mktemp("workflow")
    config = write_config(workdir / "tiny.yaml")
    snakemake(workdir, "--configfile", str(config))
    return workdir, config


def test_every_output_is_real_and_keyed_by_id(built):
    workdir, _ = built
    out = workdir / "results" / "tiny"
    import demo_collection

    expected_ids = set(demo_collection.demo_ids(3))
    ids, vectors, description = load_features(out / "features.npz")
    assert set(ids) == expected_ids and vectors.shape == (42, 16) and np.isfinite(vectors).all()
    assert description["model"] == "efficientnet-lite0" and description["pca_components"] == 16

    grid, cols, rows = read_grid(out / "grid.csv")
    assert set(grid["id"]) == expected_ids and (cols, rows) == (7, 6)
    assert len(set(zip(grid["col"], grid["row"], strict=True))) == 42
    assert grid["col"].between(0, cols - 1).all() and grid["row"].between(0, rows - 1).all()

    info, _ = check_pyramid(out / "tiles" / "mosaic.dzi")
    assert (info["width"], info["height"], info["tile"], info["overlap"]) == (7 * 128, 6 * 128, 128, 1)

    items = json.loads((out / "items.json").read_text())
    assert set(items["id"]) == expected_ids and items["count"] == 42

    layout = json.loads((out / "layout_quality.json").read_text())
    assert layout["images"] == 42 and 0 < layout["dpq16"]["value"] <= 1
    subjects = layout["subjects"]
    assert subjects["share_of_10_grid_neighbours_with_a_shared_subject"] > subjects["same_for_random_arrangements"]
    assert all(items["title"]) and items["subjectNames"]


def test_site_folder_is_complete(built):
    workdir, _ = built
    site = workdir / "results" / "tiny" / "site"
    collection = json.loads((site / "data" / "collection.json").read_text())
    assert collection["title"] == "Tiny test collection" and collection["about"] == ["About <b>this</b> test."]
    assert collection["grid"] == {"cols": 7, "rows": 6, "cellWidth": 128, "cellHeight": 128}
    check_pyramid(site / collection["tiles"]["dzi"])
    info, _ = check_service(site / "tiles" / "iiif")
    assert info["id"] == "http://127.0.0.1:8080/tiles/iiif"  # site.url's default: where npm start serves it
    manifest = json.loads((site / "iiif" / "manifest.json").read_text())  # lean: no annotations
    assert "annotations" not in manifest["items"][0] and manifest["label"] == {"en": ["Tiny test collection"]}
    assert manifest["thumbnail"][0]["id"] == "http://127.0.0.1:8080/preview.jpg"
    annotated = json.loads((site / "iiif" / "manifest-cells.json").read_text())
    assert len(annotated["items"][0]["annotations"][0]["items"]) == 42
    with Image.open(site / "preview.jpg") as preview:
        assert preview.size == (7 * 128, 6 * 128)  # within 1,024 pixels: the mosaic at full size
    items = read_site_data(site)  # the viewer's chunks and columns, put back together
    metadata = json.loads((workdir / "results" / "tiny" / "items.json").read_text())
    for field in ("id", "title", "date", "url", "thumb", "yearStart", "subjects", "subjectNames"):
        assert items[field] == metadata[field], field
    for thumb in items["thumb"]:
        assert (site / thumb).is_file(), thumb
    neighbours = items["neighbours"]
    assert len(neighbours) == 42 and all(len(row) == 12 and i not in row for i, row in enumerate(neighbours))
    index = (site / "index.html").read_text()
    referenced = re.findall(r'(?:src|href)="(?![a-z]+:)([^"#?]+)[^"]*"', index)
    assert referenced, "index.html references no scripts or styles"
    for path in referenced:
        assert (site / path).is_file(), path


def test_the_site_has_hotspots_and_the_pictures_by_date_and_by_subject(built):
    """Hotspots and the other arrangements reach the site: every picture in one hotspot and in one cell of
    each arrangement, whose pyramid is a valid Deep Zoom image of its grid; a group's box holds its pictures."""
    workdir, _ = built
    site = workdir / "results" / "tiny" / "site"
    collection = json.loads((site / "data" / "collection.json").read_text())
    spots = collection["hotspots"]
    assert len(spots) == 24 and [spot["size"] for spot in spots] == sorted((s["size"] for s in spots), reverse=True)
    membership = np.fromfile(site / "data" / "hotspots.bin", dtype="<u2")
    assert len(membership) == 42 and membership.min() >= 1 and np.bincount(membership)[1:].tolist() == [
        spot["size"] for spot in spots]
    items = read_site_data(site)
    for number, spot in enumerate(spots):
        assert membership[spot["representative"]] == number + 1 and items["id"][spot["representative"]] == spot["key"]
        assert spot["label"] and spot["label"] == spot["autoLabel"]
    assert [arrangement["name"] for arrangement in collection["arrangements"]] == ["similarity", "date", "subject"]
    for arrangement in collection["arrangements"][1:]:
        info, _ = check_pyramid(site / arrangement["dzi"])
        grid = arrangement["grid"]
        assert (arrangement["width"], arrangement["height"]) == (grid["cols"] * 128, grid["rows"] * 128)
        cells = np.fromfile(site / arrangement["cells"], dtype="<u4")
        assert len(set(cells.tolist())) == 42 and cells.max() < grid["cols"] * grid["rows"]
        assert sum(group["count"] for group in arrangement["groups"]) == 42
        for group in arrangement["groups"]:
            col0, row0, col1, row1 = group["box"]
            inside = [(cell % grid["cols"], cell // grid["cols"]) for cell in cells.tolist()]
            assert sum(col0 <= c <= col1 and row0 <= r <= row1 for c, r in inside) == group["count"], group
    date = collection["arrangements"][1]
    years = sorted({year // 10 * 10 for year in items["yearStart"] if year is not None})
    assert [group["label"] for group in date["groups"]] == [f"{decade}s" for decade in years] + (
        ["Undated"] if None in items["yearStart"] else [])


def test_the_site_is_readable_by_another_user_and_publishes_nothing_private(built):
    """A web server running as www-data reads a copy made with `cp -r`: every folder 0755-like, every file
    0644-like (umask 022 here), and no Snakemake marks, reports or temporary folders in it."""
    workdir, _ = built
    out = workdir / "results" / "tiny"
    site = out / "site"
    paths = [site, *site.rglob("*")]
    assert len(paths) > 100
    for path in paths:
        mode = path.stat().st_mode
        wanted = 0o005 if path.is_dir() else 0o004  # others may list and enter folders, and read files
        assert mode & wanted == wanted, f"{path}: {oct(mode & 0o777)}"
        assert not path.name.startswith("."), path
        published_layouts = {Path("layout.csv"), Path("arrangements/date/layout.csv"),
                             Path("arrangements/subject/layout.csv")}
        assert not path.name.endswith(".csv") or path.relative_to(site) in published_layouts, path  # no reports
    assert not [path for path in out.iterdir() if ".tmp." in path.name]
    receipt = json.loads((out / "site.json").read_text())
    assert receipt["items"] == 42 and receipt["files"] == sum(1 for path in paths if path.is_file())


def test_rerun_does_nothing_and_a_new_tile_size_rebuilds_only_mosaic_tiles_and_site(built):
    workdir, config = built
    assert "Nothing to be done" in snakemake(workdir, "--configfile", str(config), "-n").stdout
    webp = write_config(workdir / "tiny-webp.yaml", {"tiles": {"format": "webp"}})
    plan = planned_jobs(snakemake(workdir, "--configfile", str(webp), "-n").stdout)
    assert plan == {"tiles": 1, "arrangement_tiles": 2, "manifest": 1, "site": 1, "all": 1}
    # The default (auto) wrote IIIF for this small collection; turned off, the manifest leaves the plan.
    without_iiif = write_config(workdir / "tiny-no-iiif.yaml", {"tiles": {"iiif": False}})
    assert planned_jobs(snakemake(workdir, "--configfile", str(without_iiif), "-n").stdout) == {
        "tiles": 1, "site": 1, "all": 1}
    bigger = write_config(workdir / "tiny64.yaml", {"tiles": {"size": 64}})
    plan = planned_jobs(snakemake(workdir, "--configfile", str(bigger), "-n").stdout)
    assert plan == {"mosaic": 1, "tiles": 1, "arrangement_tiles": 2, "manifest": 1, "site": 1, "all": 1}
    snakemake(workdir, "--configfile", str(bigger))
    info, _ = check_pyramid(workdir / "results" / "tiny" / "tiles" / "mosaic.dzi")
    assert (info["width"], info["tile"]) == (7 * 64, 64)


def test_config_problems_are_reported_before_any_work(tmp_path):
    cases = [
        ({"tiles": {"size": 0}}, "tiles.size must be at least 1, not 0"),
        ({"tiles": {"sise": 64}}, "unknown key(s) 'sise'"),
        ({"grid": {"size": "2x3"}}, "grid.size: grid 2x3 has 6 cells but there are 42 images; use at least 42 cells"),
    ]
    for changes, message in cases:
        result = snakemake(tmp_path, "--configfile", str(write_config(tmp_path / "bad.yaml", changes)), "-n",
                           check=False)
        assert result.returncode != 0 and message in result.stdout + result.stderr, result.stderr[-2000:]
    config = json.loads(json.dumps(TINY))
    del config["demo"]
    config["images"] = "nowhere/*.jpg"
    (tmp_path / "nothing.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "--configfile", str(tmp_path / "nothing.yaml"), "-n", check=False)
    assert result.returncode != 0 and "'nowhere/*.jpg' matches no files" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_own_collection_with_a_broken_image_in_two_shards(tmp_path, node_available):
    """A collection as a user brings it: own folder and its own export's columns (subjects in a delimited
    column, a column name with an apostrophe), one unreadable file, extraction sharded, the grid by FLAS."""
    from conftest import draw_picture

    folder = tmp_path / "photos"
    folder.mkdir()
    ids = [f"{i:05d}" for i in range(14)]
    for seed, key in enumerate(ids):
        draw_picture(seed).save(folder / f"{key}.jpg")
    (folder / "99999.jpg").write_bytes(b"\xff\xd8 truncated")
    rows = "".join(f'{key},https://example.org/{key},"Photo {key}, ""quoted""",19{seed:02d},Things; Photo,Ann\'s\n'
                   for seed, key in enumerate(ids))
    (tmp_path / "items.csv").write_text("Object ID,Link,Title,Date,Keywords,Maker's mark\n" + rows
                                        + "99999,,Broken,1900,,\n")
    columns = {"id": "Object ID", "url": "Link", "title": "Title", "date": "Date", "rights": "Maker's mark",
               "imageUrl": None, "thumbUrl": None}
    config = {"collection": {"name": "own"}, "images": "photos/*.jpg",
              "metadata": {"items": "items.csv", "columns": columns,
                           "subject_columns": [{"column": "Keywords", "separator": ";"}]},
              "features": {"pca": 8, "shards": 2, "cache": "cache"}, "embedding": {"iterations": 250},
              "grid": {"method": "flas"}}
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "--configfile", str(tmp_path / "own.yaml"))
    out = tmp_path / "results" / "own"
    assert sorted(p.name for p in (out / "features").iterdir()) == ["raw-0-of-2.npz", "raw-1-of-2.npz"]
    assert (out / "rejected.csv").read_text().splitlines()[1].startswith("99999,")
    grid, _, _ = read_grid(out / "grid.csv")
    assert sorted(grid["id"]) == ids
    report = (out / "metadata_report.csv").read_text()
    assert "image_rejected,99999" in report and "record_without_image" not in report
    items = json.loads((out / "items.json").read_text())
    assert items["title"][items["id"].index("00003")] == 'Photo 00003, "quoted"'
    assert set(items["rights"]) == {"Ann's"} and sorted(items["subjectNames"]) == ["Photo", "Things"]
    assert (out / "site" / "index.html").is_file()
    # Adding an image reruns only the extraction shard it falls in, and computes only its vector.
    draw_picture(50).save(folder / "00050.jpg")
    plan = planned_jobs(snakemake(tmp_path, "--configfile", str(tmp_path / "own.yaml"), "-n").stdout)
    assert plan["extract"] == 1
    snakemake(tmp_path, "--configfile", str(tmp_path / "own.yaml"))
    from images import shard_of

    log = (out / "logs" / f"extract-{shard_of('00050', 2)}.log").read_text()
    assert re.search(r"\b\d+ from cache, 1 computed", log), log[-500:]
    assert "00050" in set(read_grid(out / "grid.csv")[0]["id"])
    # So does a picture edited in place under its old name (seen by its size and time, not its name).
    draw_picture(51).save(folder / "00007.jpg")
    plan = planned_jobs(snakemake(tmp_path, "--configfile", str(tmp_path / "own.yaml"), "-n").stdout)
    assert plan["image_shard"] == 1 and plan["extract"] == 1 and plan["mosaic"] == 1


def test_bad_input_a_forgotten_features_file_and_a_failed_rebuild(tmp_path, node_available):
    """The bad-input collection (tests/bad_inputs.py): ids with characters Snakemake or CSV readers trip on
    build like any other, every file left out is in rejected.csv with its reason and in the metadata report
    as a rejected image; a features file deleted by a failed job is made again, with the new image in it;
    a rebuild that fails or is killed leaves the published site as it was."""
    from bad_inputs import make_bad_collection
    from conftest import draw_picture

    folder = tmp_path / "photos"
    ids, expected_rejections = make_bad_collection(folder, "photos/*.jpg")
    records = pd.DataFrame({"id": [*ids, *expected_rejections], "title": "a title"})
    records.to_csv(tmp_path / "items.csv", index=False)
    no_columns = {"date": None, "url": None, "imageUrl": None}
    config = {"collection": {"name": "odd"}, "images": "photos/*.jpg",
              "metadata": {"items": "items.csv", "columns": no_columns},
              "features": {"pca": 4, "cache": None}, "embedding": {"iterations": 250}}
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    snakemake(tmp_path, "--configfile", str(tmp_path / "odd.yaml"))
    out = tmp_path / "results" / "odd"
    assert sorted(read_grid(out / "grid.csv")[0]["id"]) == sorted(ids)
    items = read_site_data(out / "site")
    assert sorted(items["id"]) == sorted(ids) and items["title"][items["id"].index("box #3")] == "a title"
    rejected = pd.read_csv(out / "rejected.csv", dtype=str, keep_default_na=False)
    assert dict(zip(rejected["id"], rejected["reason"], strict=True)) == expected_rejections
    report = pd.read_csv(out / "metadata_report.csv", dtype=str, keep_default_na=False)
    assert set(report.loc[report["kind"] == "image_rejected", "id"]) == set(expected_rejections)
    assert "record_without_image" not in set(report["kind"])
    neighbours = json.loads((out / "neighbours.json").read_text(encoding="utf-8"))
    assert sorted(neighbours["id"]) == sorted(ids)

    # A new picture, then the features job fails (Snakemake deletes its output): the next plain run makes
    # it again and the new picture is in the grid, instead of ending on the old grid.
    draw_picture(99).save(folder / "new one.jpg")
    snakemake(tmp_path, "results/odd/features/raw-0-of-1.npz", "--configfile", str(tmp_path / "odd.yaml"))
    (out / "features.npz").unlink()
    snakemake(tmp_path, "--configfile", str(tmp_path / "odd.yaml"))
    assert "new one" in set(read_grid(out / "grid.csv")[0]["id"])
    assert "new one" in read_site_data(out / "site")["id"]

    # A rebuild killed while it publishes (SIGKILL, as the out-of-memory killer sends) leaves the published
    # site as it was, every file in place; so does one that fails earlier (metadata re-exported in Latin-1).
    def published():
        return {path: path.read_bytes() for path in (out / "site").rglob("*") if path.is_file()}

    before = published()
    assert kill_first(tmp_path, {"site"}, "--forcerun", "site", "--configfile", str(tmp_path / "odd.yaml")) == "site"
    assert published() == before
    # A published site deleted by hand is built again, though its receipt is still there.
    shutil.rmtree(out / "site")
    assert planned_jobs(snakemake(tmp_path, "-n", "--configfile", str(tmp_path / "odd.yaml")).stdout) == {
        "site": 1, "all": 1}
    snakemake(tmp_path, "--configfile", str(tmp_path / "odd.yaml"))
    assert published() == before
    (tmp_path / "items.csv").write_bytes("id,title\nbox #3,Caf\u00e9\n".encode("latin-1"))
    failed = snakemake(tmp_path, "--configfile", str(tmp_path / "odd.yaml"), check=False)
    assert failed.returncode != 0 and published() == before


def test_fewer_demo_pictures_leave_no_stale_files_behind(tmp_path):
    """Lowering demo.per_source remakes the demo folder whole: its old pictures are neither kept nor listed."""
    import demo_collection

    target = "results/tiny/images.csv"
    list_of = tmp_path / target
    snakemake(tmp_path, target, "--configfile", str(write_config(tmp_path / "three.yaml")))
    assert len(read_list(list_of)) == 42
    fewer = write_config(tmp_path / "two.yaml", {"demo": {"per_source": 2}})
    plan = planned_jobs(snakemake(tmp_path, target, "-n", "--configfile", str(fewer)).stdout)
    assert plan == {"demo_collection": 1, "image_shard": 1, "images": 1}
    snakemake(tmp_path, target, "--configfile", str(fewer))
    expected = sorted(demo_collection.demo_ids(2))
    assert sorted(read_list(list_of)) == expected
    assert sorted(path.stem for path in (tmp_path / "data" / "demo" / "images").glob("*.jpg")) == expected


def test_a_build_killed_in_any_rule_completes_on_the_next_run_with_every_image(tmp_path, node_available):
    """Each rule's process in turn is killed with SIGKILL, as the out-of-memory killer would, while a new
    picture goes through the workflow; each next plain run carries on, and the last one ends with every
    picture in the grid and the published site, nothing left to do and no temporary leftovers."""
    from conftest import draw_picture

    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(10):
        draw_picture(seed).save(folder / f"p{seed}.jpg")
    config = {"collection": {"name": "kill"}, "images": "photos/*.jpg",
              "metadata": {"items": "items.csv", "columns": {"date": None, "url": None, "imageUrl": None}},
              "features": {"pca": 4, "cache": None}, "embedding": {"iterations": 250}}
    (tmp_path / "kill.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "items.csv").write_text("id,title\n" + "".join(f"p{seed},Picture {seed}\n" for seed in range(11)))
    snakemake(tmp_path, "--configfile", str(tmp_path / "kill.yaml"))
    draw_picture(10).save(folder / "p10.jpg")
    # Each run goes on until a rule not yet killed starts, and that job is killed: every rule is killed once.
    rules = {"image_shard", "images", "extract", "features", "embedding", "grid", "mosaic", "tiles", "metadata",
             "quality", "neighbours", "hotspots", "arrangement", "arrangement_tiles", "manifest", "site"}
    remaining = set(rules)
    site = tmp_path / "results" / "kill" / "site"
    while remaining:
        killed = kill_first(tmp_path, remaining, "--cores", "1", "--configfile", str(tmp_path / "kill.yaml"))
        assert killed is not None, f"{sorted(remaining)} never ran"
        remaining.discard(killed)
        # Meanwhile the published site stays whole, the old one until a new one is complete, and readable by
        # a web server running as another user (every file readable, every folder searchable by others).
        assert len(read_site_data(site)["id"]) in (10, 11), killed
        assert (site / "index.html").is_file() and (site / "tiles" / "mosaic.dzi").is_file(), killed
        assert (site / "arrangements" / "date" / "tiles" / "mosaic.dzi").is_file(), killed
        unreadable = [path for path in [site, *site.rglob("*")]
                      if not path.stat().st_mode & (0o005 if path.is_dir() else 0o004)]
        assert not unreadable, (killed, unreadable[:3])
    snakemake(tmp_path, "--configfile", str(tmp_path / "kill.yaml"))
    out = tmp_path / "results" / "kill"
    everyone = {f"p{seed}" for seed in range(11)}
    assert set(read_grid(out / "grid.csv")[0]["id"]) == everyone
    assert set(read_site_data(out / "site")["id"]) == everyone
    assert len(list((out / "site" / "thumbs").glob("*.jpg"))) == 11
    assert "Nothing to be done" in snakemake(tmp_path, "--configfile", str(tmp_path / "kill.yaml"), "-n").stdout
    assert not [path.name for path in out.rglob("*") if ".tmp." in path.name]


def test_a_growing_collection_keeps_its_layout_in_stable_mode(tmp_path, node_available):
    """Fresh first (with spare cells), then pictures added and one removed in stable mode: every kept picture
    keeps its cell in the grid and in the published site (so its deep link opens the same cell), the removed
    one's cell is free, no embedding is computed, only the new cells are made and the tiles of unchanged cells
    are the published files themselves; a rerun does nothing; a fresh rebuild is one setting away."""
    from conftest import draw_picture

    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(30):
        draw_picture(seed).save(folder / f"p{seed:02d}.jpg")
    pd.DataFrame({"id": [f"p{i:02d}" for i in range(40)], "title": "a photo"}).to_csv(tmp_path / "items.csv",
                                                                                        index=False)
    config = {"collection": {"name": "grows"}, "images": "photos/*.jpg",
              "metadata": {"items": "items.csv", "columns": {"date": None, "url": None, "imageUrl": None}},
              "features": {"pca": 8, "cache": "cache/features"}, "embedding": {"iterations": 250},
              "layout": {"mode": "stable", "spare": 0.1}}
    (tmp_path / "grows.yaml").write_text(yaml.safe_dump(config))
    refused = snakemake(tmp_path, "--configfile", str(tmp_path / "grows.yaml"), "-n", check=False)
    assert refused.returncode != 0 and "no layout to keep" in refused.stdout + refused.stderr
    config["layout"]["mode"] = "fresh"
    (tmp_path / "fresh.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "--configfile", str(tmp_path / "fresh.yaml"))
    out = tmp_path / "results" / "grows"
    first, cols, rows = read_grid(out / "grid.csv")
    assert cols * rows >= 33 and (out / "site" / "layout.csv").read_bytes() == (out / "grid.csv").read_bytes()
    site_before = read_site_data(out / "site")
    cell_before = dict(zip(site_before["id"], site_before["cell"], strict=True))
    deepest = max((out / "site" / "tiles" / "mosaic_files").iterdir(), key=lambda p: int(p.name))
    tiles_before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in deepest.iterdir()}
    # After a fresh layout the standby (where the next site is made) holds the published tiles already.
    assert "standby) brought up to date" in (out / "logs" / "site.log").read_text()
    standby_tiles = out / ".site.standby" / deepest.relative_to(out / "site")
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in standby_tiles.iterdir()} == tiles_before
    page_before = (out / "site" / "index.html").stat()
    arranged_before = {name: read_grid(out / "site" / "arrangements" / name / "layout.csv")[0].set_index("id")
                       for name in ("date", "subject")}
    shutil.copy(out / "site" / "layout.csv", tmp_path / "pinned.csv")  # a published layout, saved to pin it
    digest = hashlib.sha256((tmp_path / "pinned.csv").read_bytes()).hexdigest()
    assert json.loads((out / "site.json").read_text())["layoutSha256"] == digest  # which version is published

    for seed in (30, 31, 32):
        draw_picture(seed).save(folder / f"p{seed:02d}.jpg")
    (folder / "p05.jpg").unlink()
    plan = planned_jobs(snakemake(tmp_path, "--configfile", str(tmp_path / "grows.yaml"), "-n").stdout)
    assert "embedding" not in plan and plan["grid"] == 1 and plan["tiles"] == 1
    snakemake(tmp_path, "--configfile", str(tmp_path / "grows.yaml"))
    second, cols2, rows2 = read_grid(out / "grid.csv")
    kept = first[first["id"] != "p05"].set_index("id")
    now = second.set_index("id")
    assert (cols2, rows2) == (cols, rows) and sorted(now.index) == sorted([*kept.index, "p30", "p31", "p32"])
    pd.testing.assert_frame_equal(now.loc[kept.index, ["col", "row"]], kept[["col", "row"]])
    assert set(now.loc[["p30", "p31", "p32"], "placed"]) == {1} and set(now.loc[kept.index, "placed"]) == {0}
    removed_cell = tuple(first.set_index("id").loc["p05", ["col", "row"]])
    holder = second[(second["col"] == removed_cell[0]) & (second["row"] == removed_cell[1])]["id"].tolist()
    assert holder in ([], ["p30"], ["p31"], ["p32"])  # freed: empty, or taken by an added picture
    site_after = read_site_data(out / "site")
    cell_after = dict(zip(site_after["id"], site_after["cell"], strict=True))
    assert all(cell_after[key] == cell_before[key] for key in kept.index)
    assert "p05" not in cell_after
    assert "3 added, 1 removed" in (out / "logs" / "grid.log").read_text()
    assert re.search(r"\b29 of them from the cache", (out / "logs" / "mosaic-0.log").read_text())
    log = (out / "logs" / "tiles.log").read_text()
    changed = 3 + (holder == [])  # the added pictures' cells, and the removed one's unless one took it
    assert re.search(rf"\b{changed} cells changed since .*site: \d+ tiles rendered, \d+ kept as they were", log), log
    tiles_after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in deepest.iterdir()}
    untouched = [name for name in tiles_after if tiles_after[name] == tiles_before.get(name)]
    assert 0 < len(untouched) < len(tiles_after)
    page_after = (out / "site" / "index.html").stat()  # an unchanged file of the site is the published one
    assert (page_after.st_ino, page_after.st_mtime_ns) == (page_before.st_ino, page_before.st_mtime_ns)
    site_log = (out / "logs" / "site.log").read_text()
    assert re.search(r"site: \d+ files besides the tiles and thumbnails as they were", site_log)
    for name, arranged in arranged_before.items():  # the arrangements are kept too, and their tiles reused
        assert "kept the cells of 29 pictures, placed 3" in (out / "logs" / f"arrangement-{name}.log").read_text()
        arranged_after = read_grid(out / "site" / "arrangements" / name / "layout.csv")[0].set_index("id")
        pd.testing.assert_frame_equal(arranged_after.loc[kept.index], arranged.loc[kept.index])
        log = (out / "logs" / f"arrangement_tiles-{name}.log").read_text()
        assert re.search(r"\b[34] cells changed since .*site/arrangements/" + name, log), log
    quality = json.loads((out / "layout_quality.json").read_text())
    assert quality["additions"]["latest"]["images"] == 3 and quality["knn10_preservation"]["embedding"] is None
    assert "Nothing to be done" in snakemake(tmp_path, "--configfile", str(tmp_path / "grows.yaml"), "-n").stdout
    # The pinned first layout, given as layout.previous, gives the same stable layout again.
    config["layout"] = {"mode": "stable", "spare": 0.1, "previous": "pinned.csv"}
    (tmp_path / "pinned.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "--configfile", str(tmp_path / "pinned.yaml"), "--forcerun", "grid")
    again, *_ = read_grid(out / "grid.csv")
    pd.testing.assert_frame_equal(again, second)
    # Another addition, and the tiles job killed (SIGKILL) while it reuses the published tiles: the
    # published site stays whole and readable by others; the next run completes, keeping every cell.
    def published():
        return {path: (path.read_bytes(), path.stat().st_mode & 0o777) for path in (out / "site").rglob("*")
                if path.is_file()}

    before = published()
    draw_picture(33).save(folder / "p33.jpg")
    killed = kill_first(tmp_path, {"tiles"}, "--configfile", str(tmp_path / "grows.yaml"))
    assert killed == "tiles" and published() == before
    assert all(mode & 0o004 for _, mode in before.values())
    snakemake(tmp_path, "--configfile", str(tmp_path / "grows.yaml"))
    third = read_grid(out / "grid.csv")[0].set_index("id")
    pd.testing.assert_frame_equal(third.loc[second["id"], ["col", "row"]], second.set_index("id")[["col", "row"]])
    assert "p33" in read_site_data(out / "site")["id"]
    # A fresh rebuild: one setting.
    plan = planned_jobs(snakemake(tmp_path, "--configfile", str(tmp_path / "fresh.yaml"), "-n").stdout)
    assert plan["embedding"] == 1 and plan["grid"] == 1


def serve_folder(folder: Path):
    """A static server of `folder` on 127.0.0.1 (a free port), in a thread; returns (server, base URL, hits)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            hits.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", hits


def test_a_collection_read_back_from_iiif_manifests_of_a_published_site(built, tmp_path):
    """The round trip: the tiny site served on 127.0.0.1 as a museum would publish it, one manifest per picture
    (Presentation 3 and 2.1 alternately, gathered in a collection) showing the site's cell picture with the
    catalogue's title, date and subjects; a second collection built from that collection URL has every picture
    with the same titles, dates and subjects. A rerun downloads nothing; a manifest added to the list fetches
    only itself and its picture."""
    from iiif_prezi3 import Manifest

    workdir, _ = built
    site = workdir / "results" / "tiny" / "site"
    published = tmp_path / "museum"
    published.mkdir()
    (published / "site").symlink_to(site)
    server, base, hits = serve_folder(published)
    try:
        records = pd.read_csv(workdir / "data" / "demo" / "items.csv", dtype=str).fillna("")
        subjects = pd.read_csv(workdir / "data" / "demo" / "subjects.csv", dtype=str)
        subjects = subjects.groupby("id")["subject"].apply(list)
        records = records[records["id"].isin([path.stem for path in (site / "thumbs").glob("*.jpg")])]
        records = records.drop_duplicates("id")  # the demo's export repeats a record, as real ones do
        manifests = []
        for number, record in enumerate(records.itertuples()):
            picture = f"{base}/site/thumbs/{record.id}.jpg"
            pairs = [("Date", record.date), ("Subject", "; ".join(subjects.get(record.id, [])))]
            if number % 2:
                manifest = {"@context": "http://iiif.io/api/presentation/2/context.json", "@type": "sc:Manifest",
                            "@id": f"{base}/m/{record.id}.json", "label": record.title,
                            "metadata": [{"label": label, "value": value} for label, value in pairs],
                            "sequences": [{"canvases": [{"@id": f"{base}/m/{record.id}/c1", "@type": "sc:Canvas",
                                                          "images": [{"resource": {"@id": picture}}]}]}]}
            else:
                manifest = {"@context": "http://iiif.io/api/presentation/3/context.json", "type": "Manifest",
                            "id": f"{base}/m/{record.id}.json", "label": {"en": [record.title]},
                            "metadata": [{"label": {"en": [label]}, "value": {"none": [value]}}
                                         for label, value in pairs],
                            "items": [{"id": f"{base}/m/{record.id}/c1", "type": "Canvas", "width": 128,
                                       "height": 128, "items": [{
                                           "id": f"{base}/m/{record.id}/p1", "type": "AnnotationPage", "items": [{
                                               "id": f"{base}/m/{record.id}/a1", "type": "Annotation",
                                               "motivation": "painting", "target": f"{base}/m/{record.id}/c1",
                                               "body": {"id": picture, "type": "Image", "format": "image/jpeg"}}]}]}]}
                Manifest.model_validate(manifest)  # the IIIF community's model: what a museum would publish
            manifests.append(manifest)
        (published / "m").mkdir()
        for manifest, record in zip(manifests, records.itertuples(), strict=True):
            (published / "m" / f"{record.id}.json").write_text(json.dumps(manifest))
        extra, *listed = manifests
        (published / "collection.json").write_text(json.dumps({
            "@context": "http://iiif.io/api/presentation/3/context.json", "id": f"{base}/collection.json",
            "type": "Collection", "label": {"en": ["Tiny, from IIIF"]},
            "items": [{"id": manifest.get("id") or manifest["@id"], "type": "Manifest"} for manifest in listed]}))
        config = {"collection": {"name": "fromiiif"}, "source": {"iiif": [f"{base}/collection.json"], "size": 96},
                  "features": {"pca": 16, "batch_size": 16}, "embedding": {"iterations": 250}}
        (tmp_path / "iiif.yaml").write_text(yaml.safe_dump(config))
        # Each IIIF rule killed in turn (SIGKILL) as it starts; the next plain run carries on.
        remaining = {"iiif_manifests", "iiif_fetch", "iiif_records"}
        while remaining:
            killed = kill_first(tmp_path, remaining, "--configfile", str(tmp_path / "iiif.yaml"))
            assert killed is not None, f"{sorted(remaining)} never ran"
            remaining.discard(killed)
        snakemake(tmp_path, "--configfile", str(tmp_path / "iiif.yaml"))
        assert not [path for path in (tmp_path / "results" / "fromiiif").rglob("*") if ".tmp." in path.name]
        first = read_site_data(site)
        second = read_site_data(tmp_path / "results" / "fromiiif" / "site")
        source = pd.read_csv(tmp_path / "results" / "fromiiif" / "source" / "items.csv", dtype=str).fillna("")
        original_id = dict(zip(source["id"], source["manifest"].str.rsplit("/", n=1).str[-1].str[:-5], strict=True))
        assert len(second["id"]) == len(listed) == len(first["id"]) - 1
        before = {key: index for index, key in enumerate(first["id"])}
        for index, key in enumerate(second["id"]):
            was = before[original_id[key]]
            assert second["title"][index] == first["title"][was]
            assert second["dateLabel"][index] == first["dateLabel"][was], key
            assert ({second["subjectNames"][s] for s in second["subjects"][index]}
                    == {first["subjectNames"][s] for s in first["subjects"][was]}), key
        rejected = tmp_path / "results" / "fromiiif" / "source" / "rejected.csv"
        assert rejected.read_text().strip() == "url,manifest,id,reason"
        # A rerun has nothing to do and asks the server for nothing.
        hits.clear()
        assert "Nothing to be done" in snakemake(tmp_path, "--configfile", str(tmp_path / "iiif.yaml")).stderr
        assert hits == []
        # One manifest more in the list: only it and its picture are downloaded.
        config["source"]["iiif"].append(extra["id"])
        (tmp_path / "iiif.yaml").write_text(yaml.safe_dump(config))
        snakemake(tmp_path, "--configfile", str(tmp_path / "iiif.yaml"))
        assert sorted(hits) == sorted([f"/m/{records.iloc[0]['id']}.json", f"/site/thumbs/{records.iloc[0]['id']}.jpg"])
        assert len(read_site_data(tmp_path / "results" / "fromiiif" / "site")["id"]) == len(first["id"])
    finally:
        server.shutdown()
