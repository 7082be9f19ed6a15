"""The images stage: the collection listed once (images.csv), and a workflow plan that stays cheap."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import images
from common import PipelineError

ROOT = Path(__file__).resolve().parent.parent


def test_image_id_is_the_file_name_without_extension_kept_as_text():
    assert images.image_id("data/images/000123.jpg") == "000123"
    assert images.image_id("x/43069-Edit.tif") == "43069-Edit"


def test_find_images_sorts_by_id_and_rejects_two_files_with_one_id(tmp_path):
    for name in ("b.jpg", "a.png", "c.jpeg"):
        (tmp_path / name).write_bytes(b"x")
    assert list(images.find_images(str(tmp_path / "*"))) == ["a", "b", "c"]
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(PipelineError, match=r"same id 'a'.*a\.jpg.*a\.png|same id 'a'.*a\.png.*a\.jpg"):
        images.find_images(str(tmp_path / "*"))


def test_the_list_keeps_odd_names_and_reads_back_by_id_and_by_shard(tmp_path):
    names = ["007", "a b", "x,y", 'quote"d', "box #3", "ünïcode", "semi;colon"]
    for name in names:
        (tmp_path / f"{name}.jpg").write_bytes(name.encode())
    images.main(["--in", str(tmp_path / "*.jpg"), "--out", str(tmp_path / "list" / "images.csv")])
    listed = images.read_list(tmp_path / "list" / "images.csv")
    assert listed == {name: str(tmp_path / f"{name}.jpg") for name in sorted(names)}
    shards = [images.read_list(tmp_path / "list" / "images.csv", (index, 3)) for index in range(3)]
    assert sorted(key for shard in shards for key in shard) == sorted(names)
    assert all(images.shard_of(key, 3) == index for index, shard in enumerate(shards) for key in shard)
    header = (tmp_path / "list" / "images.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "id,path,size,mtime_ns,excluded"


def test_the_digest_sees_an_added_removed_or_edited_picture(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.jpg").write_bytes(b"x")
    before = images.digest(images.scan_images(str(tmp_path / "*.jpg"))[0])
    assert images.digest(images.scan_images(str(tmp_path / "*.jpg"))[0]) == before
    (tmp_path / "b.jpg").write_bytes(b"xy")  # edited in place: another size
    edited = images.digest(images.scan_images(str(tmp_path / "*.jpg"))[0])
    (tmp_path / "c.jpg").write_bytes(b"x")
    added = images.digest(images.scan_images(str(tmp_path / "*.jpg"))[0])
    assert len({before, edited, added}) == 3


def test_bad_lists_and_shards_are_clear_errors(tmp_path):
    with pytest.raises(PipelineError, match="image list not found"):
        images.read_list(tmp_path / "nothing.csv")
    (tmp_path / "other.csv").write_text("name,file\n")
    with pytest.raises(PipelineError, match="not an image list"):
        images.read_list(tmp_path / "other.csv")
    with pytest.raises(PipelineError, match="0/4"):
        images.parse_shard("first")
    with pytest.raises(PipelineError, match="0 to 1"):
        images.parse_shard("2/2")
    with pytest.raises(PipelineError, match="no images match"):
        images.main(["--in", str(tmp_path / "*.tif"), "--out", str(tmp_path / "images.csv")])


def test_planning_the_workflow_imports_no_heavy_library():
    """The Snakefile is parsed again by every cluster job: its own imports must not pull in PyTorch, Pillow,
    pandas or numpy. (Snakemake's report module imports Pillow itself, so this checks our part in a fresh
    interpreter: the modules the Snakefile imports, doing what it does with them, the demo included.)"""
    import re

    snakefile = (ROOT / "Snakefile").read_text()
    imported = set(re.findall(r"^\s*(?:import|from) ([\w.]+)", snakefile, re.MULTILINE))
    assert imported == {"json", "shlex", "pathlib", "snakemake.exceptions", "snakemake.utils", "workflow_config",
                        "common"}, \
        imported
    plan = """
import sys, yaml
import images, workflow_config, common
config = yaml.safe_load(open(sys.argv[1]))
workflow_config.check(config, sys.argv[2])
rows = workflow_config.planned_images(config)
workflow_config.shard_digests(rows, 4)
heavy = sorted({"torch", "PIL", "pandas", "numpy", "sklearn"} & set(sys.modules))
print(len(rows), heavy)
"""
    result = subprocess.run([sys.executable, "-c", plan, str(ROOT / "config.yaml"),
                             str(ROOT / "schemas" / "config.schema.yaml")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["336", "[]"], result.stdout


def test_a_cluster_job_neither_lists_the_collection_nor_touches_the_site(tmp_path):
    """A cluster job runs Snakemake on the Snakefile again, told which job to run (`--mode remote`): it must not
    glob the collection (slow on a shared file system, and the job only needs images.csv) nor forget the
    site's receipt. Here the images are gone: planning fails on that, the job's own parse does not."""
    config = tmp_path / "c.yaml"
    (tmp_path / "items.csv").write_text("id,title\n1,One\n")
    config.write_text(yaml.safe_dump({"collection": {"name": "c", "title": "C"}, "images": "gone/*.jpg",
                                      "metadata": {"items": "items.csv"}}))
    (tmp_path / "results" / "c").mkdir(parents=True)
    receipt = tmp_path / "results" / "c" / "site.json"
    receipt.write_text("{}")  # a receipt whose site is missing: the main process would forget it
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", "1", "--dry-run"]
    planning = subprocess.run([*command, "--configfile", str(config)], capture_output=True, text=True, cwd=tmp_path)
    assert planning.returncode != 0 and "matches no files" in planning.stderr + planning.stdout
    receipt.write_text("{}")
    job = subprocess.run([*command, "--target-jobs", "grid:", "--allowed-rules", "grid", "--force", "--nolock",
                          "--mode", "remote", "--configfiles", str(config)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
    assert "rule grid:" in job.stdout + job.stderr and receipt.exists()


def test_images_are_found_in_any_case_and_what_is_left_out_is_reported(tmp_path, monkeypatch):
    """*.jpg finds .JPG too; hidden files, formats the mosaic cannot read and pictures the glob leaves out are
    listed with the reason; folders, links to nothing and other files are not pictures at all."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for name in ("a/1.jpg", "a/2.JPG", "a/3.Jpeg", "a/.4.jpg", "a/5.png", "a/6.bmp", "a/notes.txt", "a/x[1].jpg",
                 "b/7.jpg", "b/8.TIF"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "a" / "folder.jpg").mkdir()
    (tmp_path / "a" / "link.jpg").symlink_to(tmp_path / "b" / "7.jpg")
    (tmp_path / "a" / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    found, excluded = images.scan_images("a/*.jpg")
    assert [row.path for row in found] == ["a/1.jpg", "a/2.JPG", "a/link.jpg", "a/x[1].jpg"]
    assert excluded == [(".4", "a/.4.jpg", "a hidden file (its name starts with a dot)"),
                        ("3", "a/3.Jpeg", "not matched by the images glob 'a/*.jpg'"),
                        ("5", "a/5.png", "not matched by the images glob 'a/*.jpg'"),
                        ("6", "a/6.bmp", "not matched by the images glob 'a/*.jpg'")]
    found, excluded = images.scan_images("*/*", formats=("jpg", "tif"))
    assert sorted(row.id for row in found) == ["1", "2", "7", "8", "link", "x[1]"]
    assert {(key, reason.split(":")[0]) for key, _, reason in excluded} == {
        ("3", "a .jpeg file"), ("5", "a .png file"), ("6", "a .bmp file"), ("notes", "a .txt file"),
        (".4", "a hidden file (its name starts with a dot)")}
    assert images.scan_images("**/*.tif")[0][0].path == "b/8.TIF"
    assert images.scan_images("missing/*.jpg") == ([], [])
    (tmp_path / "a" / "1.tif").write_bytes(b"x")
    with pytest.raises(PipelineError, match="same id '1': a/1.jpg and a/1.tif"):
        images.scan_images("a/*")


def test_the_list_keeps_what_it_leaves_out_for_the_reports(tmp_path):
    for name in ("a.jpg", "b.JPG", ".c.jpg", "d.bmp"):
        (tmp_path / name).write_bytes(b"x")
    images.main(["--in", str(tmp_path / "*.jpg"), "--out", str(tmp_path / "images.csv")])
    assert sorted(images.read_list(tmp_path / "images.csv")) == ["a", "b"]
    assert [(key, reason) for key, _, reason in images.read_excluded(tmp_path / "images.csv")] == [
        (".c", "a hidden file (its name starts with a dot)"), ("d", f"not matched by the images glob "
                                                                  f"{str(tmp_path / '*.jpg')!r}")]


def test_split_name_and_digest_agree_with_their_plain_versions():
    # split_name is image_id and extension in one string method; digest hashes all rows at once.
    for name in ["a.jpg", "a.b.JPG", ".hidden", "..x", "noext", "x.", ".a.jpg", "a..jpg", "007.Tif", "ü ß.webp"]:
        stem, kind = os.path.splitext(name)
        assert images.split_name(name) == (stem, kind[1:].lower()) and images.image_id(f"a/{name}") == stem, name
    rows = [images.ImageFile(f"{i:03d}", f"photos/{i:03d}.jpg", 1000 + i, 17 * i) for i in range(50)]
    rows.append(("x", "photos/x.bmp", "a .bmp file: image_formats lists jpg"))  # planning lists left-out files too
    row_by_row = hashlib.sha256()
    for row in rows:
        row_by_row.update("\t".join(map(str, row)).encode("utf-8") + b"\n")
    assert images.digest(rows) == row_by_row.hexdigest()[:16]
    assert images.digest([("a", "b")]) == hashlib.sha256(b"a\tb\n").hexdigest()[:16]  # the demo's (id, path)
