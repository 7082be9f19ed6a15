import pytest

from common import (
    PipelineError,
    atomic_dir,
    atomic_path,
    auto_grid_size,
    parse_grid_size,
    parse_tile,
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
