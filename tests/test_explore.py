"""What the viewer explores with: hotspots (scripts/hotspots.py), other arrangements (scripts/arrangements.py),
facets from catalogue columns (metadata.facets) and their files in the site (scripts/site_data.py)."""
import json

import numpy as np
import pandas as pd
import pytest

import arrangements
import hotspots
import metadata
from common import PipelineError
from site_data import write_arrangement_cells, write_facets, write_hotspots
from tables import read_grid


def two_halves(cols=8, rows=6, seed=0):
    """A grid whose left half holds ship pictures and right half whale pictures (two feature clusters)."""
    rng = np.random.default_rng(seed)
    cols_rows = np.array([(c, r) for r in range(rows) for c in range(cols)])
    left = cols_rows[:, 0] < cols // 2
    features = rng.normal(0, 0.1, (len(cols_rows), 16)) + np.where(left[:, None], 1.0, -1.0)
    ids = [f"p{i:02d}" for i in range(len(cols_rows))]
    subjects = {key: ({"Ships", "Harbours"} if is_left else {"Whales"}) | ({"Field photographs"} if i % 2 else set())
                for i, (key, is_left) in enumerate(zip(ids, left, strict=True))}
    titles = {key: ("Schooner in the harbour" if is_left else "Whale on the beach") for key, is_left in
              zip(ids, left, strict=True)}
    return ids, features, cols_rows, subjects, titles, left


def test_hotspots_are_connected_regions_named_by_their_distinctive_subjects():
    ids, features, cols_rows, subjects, titles, left = two_halves()
    found, labels = hotspots.find_hotspots(ids, features, cols_rows, subjects, titles, count=2)
    assert sorted(spot["size"] for spot in found) == [24, 24]
    ships = next(spot for spot in found if "Ships" in spot["label"])
    whales = next(spot for spot in found if spot is not ships)
    assert ships["box"] == [0, 0, 3, 5] and whales["box"] == [4, 0, 7, 5]
    assert whales["label"] == "Whales · beach" or whales["label"].startswith("Whales")
    assert "Field photographs" not in ships["terms"][:2]  # everywhere: not distinctive
    number = found.index(ships)
    assert set(np.flatnonzero(labels == number)) == set(np.flatnonzero(left))
    assert ships["representative"] in [ids[i] for i in np.flatnonzero(left)]
    assert ships["label"] == ships["autoLabel"] and ships["labelledBy"] == ""


def test_a_curators_label_names_the_hotspot_that_holds_the_picture(tmp_path):
    ids, features, cols_rows, subjects, titles, left = two_halves()
    labels_file = tmp_path / "labels.yaml"
    labels_file.write_text("p00: The harbour at Nantucket\n007: not in the collection\n")
    overrides = hotspots.read_overrides(str(labels_file))
    assert overrides == {"p00": "The harbour at Nantucket", "007": "not in the collection"}  # ids stay text
    found, _ = hotspots.find_hotspots(ids, features, cols_rows, subjects, titles, 2, overrides)
    ships = next(spot for spot in found if spot["labelledBy"] == "p00")
    assert ships["label"] == "The harbour at Nantucket" and "Ships" in ships["autoLabel"]
    assert sum(1 for spot in found if spot["labelledBy"]) == 1
    labels_file.write_text("- just\n- a list\n")
    with pytest.raises(PipelineError, match="lines of '<picture id>: <label>'"):
        hotspots.read_overrides(str(labels_file))
    with pytest.raises(PipelineError, match="not found"):
        hotspots.read_overrides(str(tmp_path / "none.yaml"))


def test_hotspots_on_blocks_of_cells_for_large_collections_stay_connected():
    ids, features, cols_rows, subjects, titles, left = two_halves(cols=16, rows=12)
    found, labels = hotspots.find_hotspots(ids, features, cols_rows, subjects, titles, count=2, block=2)
    number = next(i for i, spot in enumerate(found) if "Ships" in spot["label"])
    assert set(np.flatnonzero(labels == number)) == set(np.flatnonzero(left))


def test_title_words_label_a_collection_without_subjects():
    ids, features, cols_rows, _, titles, _ = two_halves()
    found, _ = hotspots.find_hotspots(ids, features, cols_rows, {}, titles, count=2)
    assert {spot["label"] for spot in found} == {"beach · whale", "harbour · schooner"}


def items_for_arrangements():
    years = [1897, 1903, None, 1911, 1899, None, 1955, 1951]  # 58 years: a column per decade
    return {"id": [f"i{i}" for i in range(8)], "col": [i % 4 for i in range(8)], "row": [i // 4 for i in range(8)],
            "yearStart": years, "subjectNames": ["Ships", "Whales", "Other"],
            "subjects": [[0], [1, 0], [2], [], [1], [0], [2, 1], [0]]}


def test_a_date_arrangement_is_a_column_per_period_in_time_order_with_the_undated_last():
    ids, cells, cols, rows, groups = arrangements.arrange(items_for_arrangements(), "date")
    assert [group["label"] for group in groups] == ["1890s", "1900s", "1910s", "1950s", "Undated"]
    assert [group["count"] for group in groups] == [2, 1, 1, 2, 2]
    assert len({tuple(cell) for cell in cells.tolist()}) == len(ids)  # one picture per cell
    assert cells[:, 0].max() < cols and cells[:, 1].max() < rows
    position = {key: index for index, key in enumerate(ids)}
    for group, members in zip(groups, (["i0", "i4"], ["i1"], ["i3"], ["i7", "i6"], ["i2", "i5"]), strict=True):
        col0, row0, col1, row1 = group["box"]
        for key in members:
            col, row = cells[position[key]]
            assert col0 <= col <= col1 and row0 <= row <= row1 and row1 == rows - 1  # stacked from the bottom
    assert arrangements.period_of([1900, 1910]) == 1 and arrangements.period_of([1500, 1900]) == 25
    assert arrangements.period_label(1900, 10) == "1900s" and arrangements.period_label(1900, 25) == "1900–1924"


def test_a_subject_arrangement_is_a_block_per_first_named_subject():
    ids, cells, cols, rows, groups = arrangements.arrange(items_for_arrangements(), "subject")
    assert [(group["label"], group["count"]) for group in groups] == [
        ("Ships", 3), ("Whales", 3), ("Other subjects", 2)]  # i1's first is Whales; i6 skips Other
    assert len({tuple(cell) for cell in cells.tolist()}) == len(ids)
    boxes = [group["box"] for group in groups]
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            separate = boxes[a][2] < boxes[b][0] or boxes[b][2] < boxes[a][0] or boxes[a][3] < boxes[b][1] \
                or boxes[b][3] < boxes[a][1]
            assert separate, (boxes[a], boxes[b])
    with pytest.raises(PipelineError, match="unknown arrangement"):
        arrangements.arrange(items_for_arrangements(), "colour")


def grown_items():
    """items_for_arrangements with i2 (undated) removed, i3 dated anew (1911 -> 1895), and two pictures added."""
    items = items_for_arrangements()
    keep = [i for i in range(8) if i != 2]
    grown = {key: [items[key][i] for i in keep] for key in ("id", "col", "row", "yearStart", "subjects")}
    grown["yearStart"][grown["id"].index("i3")] = 1895
    for key, year, subjects in (("n8", 1957, [1]), ("n9", None, [0])):
        for name, value in (("id", key), ("col", 0), ("row", 2), ("yearStart", year), ("subjects", subjects)):
            grown[name].append(value)
    return {**grown, "subjectNames": items["subjectNames"]}


@pytest.mark.parametrize("kind", ["date", "subject"])
def test_a_stable_arrangement_keeps_each_pictures_cell_in_its_group(tmp_path, kind, capsys):
    """With spare room, a stable build keeps every picture still in its group in its cell, puts the added
    and re-dated ones in their group's free cells and leaves a removed one's cell free; the grid keeps its
    size. A new group, or a group that outgrows its slot, makes the arrangement afresh, saying why."""
    first = tmp_path / "first"
    first.mkdir()
    (tmp_path / "items.json").write_text(json.dumps(items_for_arrangements()))
    arrangements.main(["--items", str(tmp_path / "items.json"), "--kind", kind, "--out", str(first / "layout.csv"),
                       "--groups", str(first / "groups.json"), "--spare", "0.5"])
    before, cols, rows = read_grid(first / "layout.csv")
    before = before.set_index("id")
    slots = {group["label"]: group["slot"] for group in json.loads((first / "groups.json").read_text())["groups"]}
    ids, cells, cols2, rows2, groups = arrangements.arrange(grown_items(), kind, 0.5,
                                                            arrangements.read_previous(first))
    assert "kept the cells of" in capsys.readouterr().err and (cols2, rows2) == (cols, rows)
    now = dict(zip(ids, map(tuple, cells.tolist()), strict=True))
    assert len(set(now.values())) == len(ids)
    moved = {"i3"} if kind == "date" else set()
    for key in set(before.index) - {"i2"} - moved:
        assert now[key] == tuple(before.loc[key, ["col", "row"]]), key
    for group in groups:
        left, top, right, bottom = slots[group["label"]]
        assert group["slot"] == slots[group["label"]]
        assert [group["box"][0], group["box"][2]] == [left, right]
    label_of = {"date": {"n8": "1950s", "n9": "Undated", "i3": "1890s"}, "subject": {"n8": "Whales", "n9": "Ships"}}
    for key, label in label_of[kind].items():
        left, top, right, bottom = slots[label]
        assert left <= now[key][0] <= right and top <= now[key][1] <= bottom, (key, label)
    # A period or subject not seen before, or a group beyond its room: arranged afresh.
    novel = grown_items()
    novel["yearStart"][0], novel["subjects"][0] = 1700, [2]
    novel["subjectNames"] = ["Ships", "Whales", "Maps"]
    arrangements.arrange(novel, kind, 0.5, arrangements.read_previous(first))
    assert "arranged afresh, as the previous arrangement cannot be kept: new groups" in capsys.readouterr().err
    crowded = grown_items()
    for number in range(10):
        for name, value in (("id", f"c{number}"), ("col", 0), ("row", 3), ("yearStart", 1899), ("subjects", [0])):
            crowded[name].append(value)
    arrangements.arrange(crowded, kind, 0.5, arrangements.read_previous(first))
    assert "has outgrown its slot" in capsys.readouterr().err
    for slot, reason in (([0, 0, cols, 0], "outside the previous grid"), (slots[next(iter(slots))], "overlap")):
        damaged = arrangements.read_previous(first)
        damaged["groups"][-1]["slot"] = slot
        arrangements.arrange(grown_items(), kind, 0.5, damaged)
        assert reason in capsys.readouterr().err
    assert arrangements.read_previous(tmp_path / "nothing") is None
    (first / "groups.json").write_text('{"groups": [{"lab')  # damaged: read as none, and said
    assert arrangements.read_previous(first) is None and "cannot be read" in capsys.readouterr().err


def test_facets_from_catalogue_columns():
    export = pd.DataFrame({"id": ["a", "b", "c", "c"], "Place": ["Peru; Chile", "Peru", "", "Mexico"],
                           "Height": ["12.5", "n/a", "1,200", "3"]})
    report = []
    found = metadata.facets(export, export["id"], [{"column": "Place", "separator": ";"},
                                                   {"column": "Height", "label": "Height (cm)", "kind": "number"}],
                            ["c", "a", "b"], report)
    place, height = found
    assert place["name"] == "place" and place["values"] == ["Peru", "Chile"] and place["counts"] == [2, 1]
    assert place["items"] == [[], [0, 1], [0]]  # c's first record (empty) counts, not its duplicate
    assert height["name"] == "height-cm" and height["items"] == [1200.0, 12.5, None]
    assert report == [("unparsed_number", "b", "Height (cm): n/a")]
    with pytest.raises(PipelineError, match="metadata.facets names column"):
        metadata.facets(export, export["id"], [{"column": "Photographer"}], ["a"], [])


def test_the_sites_files_for_facets_hotspots_and_arrangements(tmp_path):
    facets = [{"name": "place", "label": "Place", "kind": "values", "values": ["Peru", "Chile"], "counts": [2, 1],
               "items": [[], [0, 1], [0]]},
              {"name": "height", "label": "Height", "kind": "number", "items": [1200.0, 12.5, None]}]
    entries = write_facets(tmp_path, facets)
    assert entries[0]["files"] == {"counts": "data/facets/place-counts.bin", "ids": "data/facets/place-ids.bin"}
    assert np.fromfile(tmp_path / "facets" / "place-counts.bin", dtype="<u1").tolist() == [0, 2, 1]
    assert np.fromfile(tmp_path / "facets" / "place-ids.bin", dtype="<u1").tolist() == [0, 1, 0]
    numbers = np.fromfile(tmp_path / "facets" / "height.bin", dtype="<f4")
    assert numbers[:2].tolist() == [1200.0, 12.5] and np.isnan(numbers[2])
    assert entries[1]["min"] == 12.5 and entries[1]["max"] == 1200.0
    spots = [{"label": "Ships", "autoLabel": "Ships", "terms": ["Ships"], "size": 2, "representative": "b",
              "box": [0, 0, 1, 0]}]
    listed = write_hotspots(tmp_path, ["a", "b", "c"], spots, {"a": 0, "b": 0})
    assert np.fromfile(tmp_path / "hotspots.bin", dtype="<u2").tolist() == [1, 1, 0]
    assert listed[0]["representative"] == 1 and listed[0]["key"] == "b" and listed[0]["size"] == 2
    write_arrangement_cells(tmp_path / "arrangements" / "date" / "cells.bin", ["a", "b", "c"], {"a": 5, "b": 0, "c": 9})
    assert np.fromfile(tmp_path / "arrangements" / "date" / "cells.bin", dtype="<u4").tolist() == [5, 0, 9]
    with pytest.raises(PipelineError, match="lacks 1 item"):
        write_arrangement_cells(tmp_path / "x.bin", ["a", "z"], {"a": 1})
    json.dumps(entries)  # collection.json takes them as they are


def test_the_medoid_is_the_member_closest_to_all_the_others():
    points = np.array([[0.0, 0], [1, 0], [2, 0], [3, 0], [10, 0]])  # the mean (3.2) is nearest 3; the medoid is 2
    assert hotspots.medoid(points) == 2
    rng = np.random.default_rng(1)
    many = rng.normal(size=(3000, 4))
    exact = np.argmin(np.sqrt(((many[:, None] - many[None]) ** 2).sum(-1)).sum(1))
    found = hotspots.medoid(many)  # sampled: the exact medoid or one as central
    totals = np.sqrt(((many[[exact, found]][:, None] - many[None]) ** 2).sum(-1)).sum(1)
    assert totals[1] <= totals[0] * 1.001
