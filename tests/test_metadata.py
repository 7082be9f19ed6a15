import json

import pandas as pd
import pytest

import metadata
from common import PipelineError


@pytest.mark.parametrize("text,expected", [
    ("1897", (1897, 1897, False)),
    ("1932-12", (1932, 1932, False)),
    ("1897-08-16", (1897, 1897, False)),
    ("1920-1940", (1920, 1940, False)),
    ("1900, approximate", (1900, 1900, True)),
    ("[1913-1940]", (1913, 1940, True)),
    ("[1909, approximate]", (1909, 1909, True)),
    ("[1909?]", (1909, 1909, True)),
    ("1900, appoximate", (1900, 1900, True)),
    ("August 30, 1893", (1893, 1893, False)),
    ("March, 1950", (1950, 1950, False)),
    ("[October, 1928]", (1928, 1928, True)),
    ("1914_04", (1914, 1914, False)),
    ("1954-4", (1954, 1954, False)),
    ("1900, approimate", (1900, 1900, True)),
    ("1912, aproximately", (1912, 1912, True)),
    ("ca. 1900", (1900, 1900, True)),
    ("circa 1900", (1900, 1900, True)),
    ("1900s", (1900, 1909, True)),
    ("early 1920s", (1920, 1923, True)),
    ("Unknown", None),
    ("Unkown", None),
    ("", None),
    ("11910-03", None),
    ("192-05-22", None),
    ("12928-1936", None),
    ("Nov-29", None),
    ("United States", None),
    ("Saint Paul Island, Pribilof Islands, Aleutians West, Alaska, United States", None),
    ("copy 1976", None),
    ("1909--11", None),
    ("1900-1020, approximate", None),
    ("1940-1920", None),
    ("1897-13", None),
])
def test_parse_date(text, expected):
    assert metadata.parse_date(text) == expected


def test_year_bounds_turn_implausible_years_into_unknown():
    assert metadata.parse_date("1850", min_year=1860) is None
    assert metadata.parse_date("2999") is None


def test_date_labels_show_the_real_range():
    assert metadata.date_label((1900, 1910, False)) == "1900–1910"
    assert metadata.date_label((1909, 1909, True)) == "ca. 1909"
    assert metadata.date_label(None) == "Unknown"


# The per-item arrays of items.json when the column map names neither description nor rights.
COLUMNS = ("id", "col", "row", "title", "date", "dateLabel", "yearStart", "url", "imageUrl", "thumb", "subjects")


@pytest.fixture
def messy(tmp_path):
    (tmp_path / "grid.csv").write_text("# grid 3x2\nid,col,row\n007,2,0\nK9045,0,1\n43069,1,0\nno-record,0,0\n")
    (tmp_path / "items.csv").write_text(
        "id,url,title,date,imageUrl,thumbUrl\n"
        '007,https://x/7,"Leading zeros, kept",1897,https://x/7.jpg,\n'
        'K9045,https://x/k,"<img src=x onerror=alert(1)>",[1909?],,\n'
        '43069,https://x/4,First of two,11910-03,,\n'
        '43069,https://x/4b,Second of two,1900,,\n'
        'orphan,https://x/o,No image,1900,,\n')
    (tmp_path / "subjects.csv").write_text(
        "id,subject\n007,Ships\n007,Ships\nK9045,Ships\nK9045,Meteorites\n43069,Whales\norphan,Ships\n")
    return tmp_path


def test_join_reports_every_mismatch_and_keeps_text_verbatim(messy):
    out = messy / "items.json"
    metadata.main(["-in", str(messy / "items.csv"), "-sub", str(messy / "subjects.csv"), "-grid",
                   str(messy / "grid.csv"), "-out", str(out), "-subjects-top", "2", "-max-unmatched", "0.5"])
    data = json.loads(out.read_text())
    assert data["count"] == 4
    assert data["id"] == ["no-record", "43069", "007", "K9045"]  # grid-cell order (row-major)
    assert [data["col"][i] + 3 * data["row"][i] for i in range(4)] == [0, 1, 2, 3]
    assert {len(data[name]) for name in COLUMNS} == {4}
    record = {name: data[name][data["id"].index("K9045")] for name in ("title", "yearStart", "dateLabel", "thumb")}
    assert record == {"title": "<img src=x onerror=alert(1)>", "yearStart": 1909, "dateLabel": "ca. 1909",
                      "thumb": "thumbs/K9045.jpg"}
    assert data["title"][data["id"].index("43069")] == "First of two"
    assert data["yearStart"][data["id"].index("43069")] is None
    assert data["subjectNames"] == ["Ships", "Meteorites", "Other"]
    assert data["subjectCounts"] == [2, 1, 1]
    assert data["subjects"][data["id"].index("43069")] == [2]
    report = pd.read_csv(messy / "metadata_report.csv", dtype=str)
    kinds = set(zip(report["kind"], report["id"], strict=True))
    assert {("duplicate_record", "43069"), ("record_without_image", "orphan"), ("image_without_record", "no-record"),
            ("unparsed_date", "43069")} <= kinds


def test_too_many_unmatched_images_is_an_error(messy):
    with pytest.raises(PipelineError, match="1 of 4 images have no record"):
        metadata.main(["-in", str(messy / "items.csv"), "-sub", str(messy / "subjects.csv"), "-grid",
                       str(messy / "grid.csv"), "-out", str(messy / "x.json"), "-max-unmatched", "0.1"])
    assert not (messy / "x.json").exists()


def test_gsize_must_match_the_grid_file(messy):
    arguments = ["-in", str(messy / "items.csv"), "-sub", str(messy / "subjects.csv"), "-grid",
                 str(messy / "grid.csv"), "-out", str(messy / "x.json")]
    metadata.main(arguments + ["-gsize", "3x2"])
    with pytest.raises(PipelineError, match="does not match the grid file, which is 3x2"):
        metadata.main(arguments + ["-gsize", "114x116"])


def test_missing_columns_are_named(messy):
    (messy / "bad.csv").write_text("identifier,name\n1,a\n")
    with pytest.raises(PipelineError, match="lacks column"):
        metadata.main(["-in", str(messy / "bad.csv"), "-sub", str(messy / "subjects.csv"), "-grid",
                       str(messy / "grid.csv"), "-out", str(messy / "x.json")])


def test_only_what_the_viewer_reads_is_written_and_subjects_output(messy):
    out = messy / "items.json"
    metadata.main(["-in", str(messy / "items.csv"), "-sub", str(messy / "subjects.csv"), "-grid",
                   str(messy / "grid.csv"), "-out", str(out), "-subjects-out", str(messy / "s.csv")])
    data = json.loads(out.read_text())
    # viewer/src/data.js reads these and nothing else: no id->position index (the viewer builds its
    # own), no thumbUrl (the site has its own thumbnails), no yearEnd or approximate (in dateLabel)
    assert set(data) == {"count", "subjectNames", "subjectCounts", *COLUMNS}
    subjects = pd.read_csv(messy / "s.csv", dtype=str)
    assert sorted(map(tuple, subjects.values)) == [("007", "Ships"), ("43069", "Whales"), ("K9045", "Meteorites"),
                                                   ("K9045", "Ships")]  # gridded ids only, duplicates once
    assert "description" not in data and "rights" not in data  # only where the column map names them


def test_pixplot_preset(tmp_path):
    (tmp_path / "grid.csv").write_text("# grid 2x2\nid,col,row\nbird-01,0,0\nBOAT_2,1,0\nplain,0,1\n")
    (tmp_path / "pix.csv").write_text(
        "filename,category,tags,description,permalink,year\n"
        'bird-01.jpg,Birds,heron|water| wading ,"A heron, standing",https://example.org/bird,1932\n'
        "BOAT_2.JPEG,Boats,water,Rowing boat,javascript:alert(1),ca. 1900\n"
        "plain.png,,,,,\n")
    metadata.main(["-in", str(tmp_path / "pix.csv"), "-preset", "pixplot", "-grid", str(tmp_path / "grid.csv"),
                   "-out", str(tmp_path / "items.json"), "-subjects-out", str(tmp_path / "s.csv")])
    data = json.loads((tmp_path / "items.json").read_text())
    row = {key: position for position, key in enumerate(data["id"])}
    assert set(row) == {"bird-01", "BOAT_2", "plain"}  # file names without extension, case kept
    assert data["description"][row["bird-01"]] == "A heron, standing"
    assert data["title"][row["bird-01"]] == "A heron, standing"  # no title column: the description
    assert data["title"][row["plain"]] == "plain"  # nothing at all: the id
    assert data["url"][row["bird-01"]] == "https://example.org/bird"
    assert data["url"][row["BOAT_2"]] == ""  # a javascript: link is dropped and reported
    assert (data["yearStart"][row["BOAT_2"]], data["dateLabel"][row["BOAT_2"]]) == (1900, "ca. 1900")
    names = data["subjectNames"]
    assert {names[i] for i in data["subjects"][row["bird-01"]]} == {"Birds", "heron", "water", "wading"}
    assert names[0] == "water" and data["subjectCounts"][0] == 2
    report = pd.read_csv(tmp_path / "metadata_report.csv", dtype=str)
    assert ("unsafe_link", "BOAT_2") in set(zip(report["kind"], report["id"], strict=True))


def test_column_map_for_another_export(tmp_path):
    (tmp_path / "grid.csv").write_text("# grid 2x1\nid,col,row\n0001,0,0\n0002,1,0\n")
    (tmp_path / "export.csv").write_text(
        "Identifier,Object title,Date created,Link,Credit line,Subjects\n"
        "0001,Hall of Ocean Life,1933,https://example.org/1,Gift of A. Donor; 1950,Hall of Ocean Life; Whales\n"
        "0002,Whale model,1969,https://example.org/2,Museum purchase,Hall of Ocean life;whales ;\n")
    columns = {"id": "Identifier", "title": "Object title", "date": "Date created", "url": "Link",
               "rights": "Credit line", "imageUrl": None, "thumbUrl": None}
    arguments = ["-in", str(tmp_path / "export.csv"), "-columns", json.dumps(columns), "-subject-columns",
                 json.dumps([{"column": "Subjects", "separator": ";"}]), "-grid", str(tmp_path / "grid.csv"),
                 "-out", str(tmp_path / "items.json")]
    metadata.main(arguments)
    data = json.loads((tmp_path / "items.json").read_text())
    assert data["id"] == ["0001", "0002"] and data["title"] == ["Hall of Ocean Life", "Whale model"]
    assert data["rights"] == ["Gift of A. Donor; 1950", "Museum purchase"]
    assert data["imageUrl"] == ["", ""]
    assert sorted(data["subjectNames"]) == ["Hall of Ocean Life", "Hall of Ocean life", "Whales", "whales"]
    metadata.main(arguments + ["-fold-subjects"])  # merged under the most frequent spelling (ties: first by name)
    data = json.loads((tmp_path / "items.json").read_text())
    assert sorted(data["subjectNames"]) == ["Hall of Ocean Life", "Whales"]
    assert data["subjectCounts"] == [2, 2]


def test_thumbnail_links_are_not_needed_nor_read(tmp_path):
    (tmp_path / "grid.csv").write_text("# grid 1x1\nid,col,row\n0001,0,0\n")
    (tmp_path / "items.csv").write_text("id,url,title,date,imageUrl\n0001,https://x/1,One,1900,\n")
    arguments = ["-in", str(tmp_path / "items.csv"), "-grid", str(tmp_path / "grid.csv"), "-out",
                 str(tmp_path / "items.json")]
    metadata.main(arguments)  # the original preset without a thumbUrl column
    metadata.main(arguments + ["-columns", '{"thumbUrl": "Thumbnail"}'])  # named, yet never read
    data = json.loads((tmp_path / "items.json").read_text())
    assert data["thumb"] == ["thumbs/0001.jpg"] and "thumbUrl" not in data
    assert "thumbUrl" not in metadata.column_map("original", {"thumbUrl": "thumbUrl"})["columns"]


def test_column_map_mistakes_are_named(messy):
    arguments = ["-in", str(messy / "items.csv"), "-grid", str(messy / "grid.csv"), "-out", str(messy / "x.json")]
    with pytest.raises(PipelineError, match="lacks column.*Title.*set metadata.preset or metadata.columns"):
        metadata.main(arguments + ["-columns", '{"title": "Title"}'])
    with pytest.raises(PipelineError, match="unknown metadata field"):
        metadata.main(arguments + ["-columns", '{"headline": "title"}'])
    with pytest.raises(PipelineError, match="column: NAME"):
        metadata.main(arguments + ["-subject-columns", '["tags"]'])
    with pytest.raises(PipelineError, match="JSON"):
        metadata.main(arguments + ["-columns", "{title: Title}"])


@pytest.mark.parametrize("link,safe", [("https://example.org/a?b=c", True), ("http://x", True), ("", True),
                                       ("items/12.html", True), ("javascript:alert(1)", False),
                                       (" JavaScript:alert(1)", False), ("java\tscript:alert(1)", False),
                                       ("data:text/html,<b>x</b>", False), ("vbscript:x", False)])
def test_only_web_links_are_kept(link, safe):
    assert metadata.is_safe_link(link) is safe


def test_exports_in_other_encodings_and_delimiters(tmp_path):
    """Excel's UTF-8 with a BOM and a ;-separated export are read as they are; a Latin-1 file is an error
    naming the file, the line and the setting, and reads with metadata.encoding set."""
    from tables import read_table

    (tmp_path / "bom.csv").write_bytes("id,title\n1,Café\n".encode("utf-8-sig"))
    (tmp_path / "semicolon.csv").write_text("id;title;date\n1;Café, Paris;1900\n", encoding="utf-8")
    (tmp_path / "latin1.csv").write_bytes("id,title\n1,Tea\n2,Café\n".encode("latin-1"))
    assert read_table(tmp_path / "bom.csv", ["id"]).to_dict("records") == [{"id": "1", "title": "Café"}]
    assert read_table(tmp_path / "semicolon.csv", ["id"]).to_dict("records") == [
        {"id": "1", "title": "Café, Paris", "date": "1900"}]
    with pytest.raises(PipelineError, match=r"latin1\.csv, line 3: byte 0xe9 is not utf-8 text; set metadata\.enc"):
        read_table(tmp_path / "latin1.csv", ["id"])
    assert read_table(tmp_path / "latin1.csv", ["id"], encoding="latin-1")["title"].tolist() == ["Tea", "Café"]
    (tmp_path / "tabs.csv").write_text("id\ttitle, with a comma; and a semicolon\n1\tx\n", encoding="utf-8")
    assert read_table(tmp_path / "tabs.csv", ["id"], delimiter="\t").columns.tolist() == [
        "id", "title, with a comma; and a semicolon"]
