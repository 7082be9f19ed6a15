"""The configuration checks the Snakefile runs before any work: plain-language problems, the schema's defaults."""
import copy
from pathlib import Path

import pytest
import yaml

import workflow_config
from common import PipelineError

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "config.schema.yaml"


def test_defaults_are_filled_as_snakemakes_validate_fills_them():
    from snakemake.utils import validate

    minimal = {"collection": {"name": "x"}, "images": "a/*.jpg", "metadata": {"items": "a.csv"},
               "features": {"pca": 8}, "demo": {"folder": "d"}}
    ours, theirs = copy.deepcopy(minimal), copy.deepcopy(minimal)
    workflow_config.check(ours, SCHEMA)
    validate(theirs, str(SCHEMA))
    assert ours == theirs
    assert ours["features"] == {**theirs["features"], "pca": 8}
    assert ours["neighbours"] == {"count": 12, "method": "auto"}
    assert ours["demo"]["per_source"] == 24 and ours["tiles"]["size"] == 128


def test_every_problem_is_one_plain_sentence():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["tiles"]["size"] = 0
    config["grid"]["sise"] = "auto"
    with pytest.raises(PipelineError) as error:
        workflow_config.check(config, SCHEMA)
    assert "tiles.size must be at least 1, not 0" in str(error.value)
    assert "grid: unknown key(s) 'sise'" in str(error.value)
    del config["jobs"]
    with pytest.raises(PipelineError):
        workflow_config.check(config, SCHEMA)
    assert "jobs" not in config  # nothing is filled in when there are problems


def test_a_missing_metadata_file_is_reported_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    (tmp_path / "items.csv").write_text("id\n")
    config = {"collection": {"name": "x"}, "images": "photos/*.jpg",
              "metadata": {"items": "items.csv", "subjects": "subjects.csv"}}
    workflow_config.check(config, SCHEMA)
    with pytest.raises(PipelineError, match="metadata.subjects: 'subjects.csv' is not a file"):
        workflow_config.check_metadata_files(config)
    config["metadata"]["subjects"] = None
    workflow_config.check_metadata_files(config)
    (tmp_path / "items.csv").unlink()
    with pytest.raises(PipelineError, match="metadata.items: 'items.csv' is not a file"):
        workflow_config.check_metadata_files(config)
    workflow_config.check_metadata_files({**config, "demo": {"folder": "d"}})  # the demo makes its own


def test_a_metadata_file_in_another_encoding_is_reported_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "items.csv").write_bytes("id,title\n1,Café\n".encode("cp1252"))
    config = {"collection": {"name": "x"}, "images": "*.jpg", "metadata": {"items": "items.csv"}}
    workflow_config.check(config, SCHEMA)
    with pytest.raises(PipelineError, match="items.csv, line 2: byte 0xe9 is not utf-8 text; set metadata.encoding"):
        workflow_config.check_metadata_files(config)
    config["metadata"]["encoding"] = "cp1252"
    workflow_config.check_metadata_files(config)


def test_the_image_formats_have_one_source_of_truth():
    """The schema's default and choices are what the stages' command lines default to and accept."""
    import images

    formats = yaml.safe_load(SCHEMA.read_text())["properties"]["image_formats"]
    assert formats["default"] == list(images.DEFAULT_FORMATS)
    assert sorted(formats["items"]["enum"]) == sorted(images.READABLE_FORMATS)


def test_iiif_auto_writes_the_static_files_up_to_the_limit_only(tmp_path):
    limit = workflow_config.IIIF_AUTO_LIMIT
    assert workflow_config.iiif_wanted("auto", limit) and not workflow_config.iiif_wanted("auto", limit + 1)
    assert workflow_config.iiif_wanted(True, 10 * limit) and not workflow_config.iiif_wanted(False, 1)
    assert workflow_config.iiif_wanted("auto", None)  # a cluster job planned before the listing exists
    # A cluster job counts images.csv's images as planning counted the listing: excluded files left out.
    listing = tmp_path / "images.csv"
    assert workflow_config.listed_image_count(listing) is None
    listing.write_text("id,path,size,mtime_ns,excluded\na,images/a.jpg,1,1,\nb,images/b.bmp,,,not a format"
                       "\nc,\"images/c, 2.jpg\",1,1,\n", encoding="utf-8")
    assert workflow_config.listed_image_count(listing) == 2
    planned = [("a", "images/a.jpg", 1, 1), ("b", "images/b.bmp", "not a format"), ("c", "images/c, 2.jpg", 1, 1)]
    assert workflow_config.planned_image_count(planned) == 2


def test_a_iiif_source_stands_for_images_and_metadata_files():
    config = {"collection": {"name": "maps"}, "source": {"iiif": "https://example.org/collection.json"},
              "metadata": {"years": "1800-", "columns": {"rights": None}}}
    workflow_config.check(config, SCHEMA)
    assert config["images"] == "results/maps/source/images/*/*.jpg"
    assert config["metadata"]["items"] == "results/maps/source/items.csv"
    assert config["metadata"]["subjects"] == "results/maps/source/subjects.csv"
    assert config["metadata"]["columns"] == {"description": "description", "rights": None}  # the user's own kept
    assert config["metadata"]["years"] == "1800-" and config["source"]["size"] == 256
    assert config["source"]["subjects"][0] == "Subject" and config["source"]["canvases"] == "first"
    assert workflow_config.planned_images(config) == []  # listed once fetched
    workflow_config.check_metadata_files(config)  # written by the workflow: not there yet, no error
    for extra, named in (({"images": "a/*.jpg"}, "images"), ({"metadata": {"items": "a.csv"}}, "metadata.items")):
        with pytest.raises(PipelineError, match=f"source.iiif sets {named}: leave them out"):
            workflow_config.check({"collection": {"name": "maps"}, "source": {"iiif": ["x.json"]}, **extra}, SCHEMA)
    with pytest.raises(PipelineError, match="both demo and source"):
        workflow_config.check({"collection": {"name": "maps"}, "source": {"iiif": ["x.json"]},
                               "demo": {"folder": "d"}}, SCHEMA)
    with pytest.raises(PipelineError, match="source.canvases must be one of first, all"):
        workflow_config.check({"collection": {"name": "maps"}, "source": {"iiif": ["x.json"], "canvases": "some"}},
                              SCHEMA)
