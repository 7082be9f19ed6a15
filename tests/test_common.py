import pytest

from common import (
    PipelineError,
    atomic_dir,
    atomic_path,
    auto_grid_size,
    link_files,
    parse_grid_size,
    parse_tile,
    replace_files,
    resolve_grid_size,
)


def test_grid_sizes():
    assert parse_grid_size("114x116") == (114, 116)
    assert auto_grid_size(13191) == (115, 115)
    assert auto_grid_size(336) == (19, 18)
    assert resolve_grid_size("auto", 10) == (4, 3)
    assert auto_grid_size(13000, aspect=16 / 9) == (152, 86)
    cols, rows = auto_grid_size(1000, aspect=0.5)
    assert cols * rows >= 1000 and abs(cols / rows - 0.5) < 0.05
    with pytest.raises(PipelineError, match="COLSxROWS"):
        parse_grid_size("114 by 116")
    with pytest.raises(PipelineError, match=r"at least 336 cells, e\.g\. 19x18"):
        resolve_grid_size("10x10", 336)


def test_parse_tile_accepts_the_original_form():
    assert parse_tile("128x128") == 128 == parse_tile("128")
    for bad in ("0", "128x64", "-3"):
        with pytest.raises(PipelineError):
            parse_tile(bad)


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temp:
            temp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_dir_swaps_in_a_complete_folder_only(tmp_path):
    target = tmp_path / "tiles"
    with atomic_dir(target) as temp:
        (temp / "a").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as temp:
            (temp / "b").write_text("2")
            raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiles"]


def test_outputs_get_ordinary_permissions_not_those_of_private_temporary_files(tmp_path):
    """A web server running as another user must read a published site: 0644 files, 0755 folders (umask 022)."""
    import os

    from common import FILE_MODE, FOLDER_MODE, UMASK

    with atomic_path(tmp_path / "items.json") as temp:
        temp.write_text("{}")
    with atomic_dir(tmp_path / "site") as temp:
        (temp / "index.html").write_text("<html>")
    assert (tmp_path / "items.json").stat().st_mode & 0o777 == FILE_MODE == 0o666 & ~UMASK
    assert (tmp_path / "site").stat().st_mode & 0o777 == FOLDER_MODE == 0o777 & ~UMASK
    if UMASK == 0o022:
        assert FILE_MODE == 0o644 and FOLDER_MODE == 0o755
    assert os.access(tmp_path / "site" / "index.html", os.R_OK)


def test_leftovers_of_killed_runs_are_removed_and_the_old_folder_stays_until_the_new_one_is_complete(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from common import remove_leftovers

    target = tmp_path / "tiles"
    with atomic_dir(target) as temp:
        (temp / "old").write_text("1")
    # A process killed while writing leaves its temporary folder behind.
    script = ("import os, sys, common\n"
              "with common.atomic_dir(sys.argv[1]) as temp:\n"
              "    (temp / 'half').write_text('x')\n"
              "    os.kill(os.getpid(), 9)\n")
    scripts = str(Path(__file__).resolve().parent.parent / "scripts")
    killed = subprocess.run([sys.executable, "-c", script, str(target)], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": scripts})
    assert killed.returncode == -9
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".tiles.tmp.")]
    assert len(leftovers) == 1 and sorted(p.name for p in target.iterdir()) == ["old"]
    with atomic_dir(target) as temp:
        assert not leftovers[0].exists()  # cleaned when the next run starts
        assert (target / "old").is_file()  # the previous folder is still whole while the new one is built
        (temp / "new").write_text("2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiles"] and [p.name for p in target.iterdir()] == ["new"]
    assert remove_leftovers(target) == []


@pytest.mark.parametrize("threads", [1, 4])
def test_link_files_makes_the_folders_and_links_each_file(tmp_path, threads):
    sources = []
    for index in range(30):
        source = tmp_path / "old" / f"{index}.jpg"
        source.parent.mkdir(exist_ok=True)
        source.write_bytes(bytes([index]) * 10)
        sources.append(source)
    # IIIF-like targets: three folders of their own per file, some files sharing a folder
    targets = [tmp_path / "new" / f"{index // 2},0,128,128" / "128," / "0" / f"{index % 2}.jpg" for index in range(30)]
    assert link_files(zip(sources, targets, strict=True), threads=threads) == 30
    for source, target in zip(sources, targets, strict=True):
        assert target.read_bytes() == source.read_bytes()
        assert target.stat().st_ino == source.stat().st_ino  # a link, not a copy
    with pytest.raises(FileExistsError):  # an existing target is an error, not silently replaced
        link_files([(sources[0], targets[1])], threads=threads)


@pytest.mark.parametrize("count", [10, 1500])
def test_replace_files_puts_each_source_in_the_place_of_what_was_there(tmp_path, count):
    """Files, a folder and nothing at all are replaced by links to the sources; a source of None only
    removes. 1,500 pairs take the threaded path."""
    (tmp_path / "new").mkdir()
    (tmp_path / "old").mkdir()
    pairs = []
    for index in range(count):
        source, target = tmp_path / "new" / f"{index}.jpg", tmp_path / "old" / f"{index}.jpg"
        source.write_bytes(b"new %d" % index)
        if index % 3 == 0:
            target.write_bytes(b"stale")
        elif index % 3 == 1:
            (target / "deep").mkdir(parents=True)  # a folder where a file now belongs
        pairs.append((source, target))
    (tmp_path / "old" / "gone.jpg").write_bytes(b"gone")
    pairs.append((None, tmp_path / "old" / "gone.jpg"))
    assert replace_files(pairs) == count
    assert not (tmp_path / "old" / "gone.jpg").exists()
    for source, target in pairs[:-1]:
        assert target.is_file() and target.stat().st_ino == source.stat().st_ino
