"""Checks of config.yaml in words a collection manager understands, run before any work starts,
and the image list the workflow plans with.

The JSON schema (schemas/config.schema.yaml) says what each key may hold; this module turns its
findings into one plain sentence per problem, and adds the checks a schema cannot make: that the
image glob finds files and that the grid has room for them. The Snakefile imports this module, so
it uses the standard library, PyYAML and jsonschema only.
"""
from __future__ import annotations

import copy
import csv
import os
import sys
from pathlib import Path

import jsonschema
import yaml

import images
from common import PipelineError, read_text, resolve_grid_size

KIND_NAMES = {"integer": "a whole number", "number": "a number", "string": "text", "boolean": "true or false",
              "array": "a list", "object": "a section of keys", "null": "empty"}


def _where(error) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "config"


def describe(error) -> str:
    """One sentence for one schema violation."""
    where, value, rule = _where(error), error.instance, error.validator
    if rule == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(value) - set(allowed))
        return f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed here: {', '.join(allowed)}"
    if rule == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"{where} must be {' or '.join(KIND_NAMES.get(k, k) for k in kinds)}, not {value!r}"
    if rule in ("minimum", "exclusiveMinimum"):
        bound = "greater than" if rule == "exclusiveMinimum" else "at least"
        return f"{where} must be {bound} {error.validator_value}, not {value!r}"
    if rule == "maximum":
        return f"{where} must be at most {error.validator_value}, not {value!r}"
    if rule == "enum":
        return f"{where} must be one of {', '.join(map(str, error.validator_value))}, not {value!r}"
    if rule == "pattern":
        hint = error.schema.get("description", f"match {error.validator_value}")
        return f"{where} is {value!r}, but it should be {hint}"
    if rule == "required":
        return f"{where}: {error.message}"
    return f"{where}: {error.message}"


def load_schema(schema_path: str | os.PathLike) -> dict:
    """The schema, read with libyaml's loader where PyYAML has it (7 times faster: every plan reads it)."""
    with open(schema_path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def schema_problems(config: dict, schema: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [describe(error) for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))]


def fill_defaults(config: dict, schema: dict) -> None:
    """Set every missing key that has a default in the schema, in place, sections before their keys."""
    for key, spec in schema.get("properties", {}).items():
        if key not in config and "default" in spec:
            config[key] = copy.deepcopy(spec["default"])
        if isinstance(config.get(key), dict) and "properties" in spec:
            fill_defaults(config[key], spec)


def source_folder(config: dict) -> str:
    """Where the IIIF rules write the collection they fetch: pictures, items and subjects CSVs, rejected.csv."""
    return f"results/{config.get('collection', {}).get('name', '')}/source"


SOURCE_SETS = (("images", None), ("metadata", "items"), ("metadata", "subjects"), ("metadata", "preset"))


def apply_source(config: dict) -> None:
    """With source.iiif, point images and the metadata CSVs at what the IIIF rules write, in place: the user
    sets neither (one source of truth), and every later stage reads them as it reads a folder and its CSVs."""
    source = config.get("source")
    if not isinstance(source, dict):
        return
    if config.get("demo"):
        raise PipelineError("config has both demo and source: leave the demo section out to build from IIIF")
    given = [f"{section}.{key}" if key else section for section, key in SOURCE_SETS
             if (config.get(section) if key is None else isinstance(config.get(section), dict)
                 and key in config[section])]
    if given:
        raise PipelineError(f"source.iiif sets {', '.join(given)}: leave them out of the config (the pictures and "
                            "their records are fetched from IIIF into results/<name>/source/)")
    folder = source_folder(config)
    config["images"] = f"{folder}/images/*/*.jpg"
    metadata = config.setdefault("metadata", {})
    if isinstance(metadata, dict):
        metadata.update(items=f"{folder}/items.csv", subjects=f"{folder}/subjects.csv", preset="original")
        metadata["columns"] = {"description": "description", "rights": "rights", **metadata.get("columns", {})}


def check(config: dict, schema_path: str | os.PathLike) -> None:
    """Raise PipelineError listing every problem in `config`; else fill in the schema's defaults, in place.
    A source section first sets the keys it stands for (apply_source)."""
    apply_source(config)
    schema = load_schema(schema_path)
    problems = schema_problems(config, schema)
    if problems:
        raise PipelineError("config has problems:\n  - " + "\n  - ".join(problems))
    fill_defaults(config, schema)


def planned_images(config: dict) -> list[tuple]:
    """What the images stage will list, known while the workflow is planned: the images (checked for room
    on the grid), then the files it will leave out, with the reason.

    For a real collection: the files the glob matches now, with size and modification time (see
    images.scan_images), so a changed listing is seen before anything runs. For the demo, whose
    pictures are made by the workflow itself: the ids and paths it will make. For a IIIF source: none
    (its pictures are known once fetched; the listing then reruns because the fetched records changed).
    """
    demo = config.get("demo")
    if config.get("source"):  # fetched by the workflow itself: listed once they are (rule image_shard)
        return []
    if demo:
        import demo_collection

        rows = [(key, f"{demo['folder']}/images/{key}.jpg") for key in demo_collection.demo_ids(demo["per_source"])]
        excluded = []
    else:
        rows, excluded = images.scan_images(config["images"], config["image_formats"])
        if not rows:
            raise PipelineError(f"images: {config['images']!r} matches no files of image_formats "
                                f"({', '.join(config['image_formats'])}); check the path (relative to the "
                                "folder snakemake runs in) and the extension")
    check_grid(config, len(rows))
    return [*rows, *excluded]


def planned_image_count(planned: list[tuple]) -> int:
    """The images among planned_images' rows; the excluded files are its (id, path, reason) rows."""
    return sum(1 for row in planned if len(row) != 3)


def check_metadata_files(config: dict) -> None:
    """The metadata CSVs must exist before anything runs (the demo makes its own), like the images:
    a missing or renamed one is named at once, not found after features and t-SNE have run."""
    if config.get("demo") or config.get("source"):
        return
    for key in ("items", "subjects"):
        path = config["metadata"].get(key)
        if path and not os.path.isfile(path):
            raise PipelineError(f"metadata.{key}: {path!r} is not a file; check the path (relative to the folder "
                                "snakemake runs in)")
        if path:  # undecodable text fails now, not after features and t-SNE (a few ms for 13,000 records)
            read_text(path, config["metadata"]["encoding"])


def shard_digests(rows: list[tuple], shards: int) -> list[str]:
    """One digest per extraction shard of the planned images: a shard's job reruns only when its own images change."""
    if shards == 1:
        return [images.digest(rows)]
    members: list[list[tuple]] = [[] for _ in range(shards)]
    for row in rows:
        members[images.shard_of(row[0], shards)].append(row)
    return [images.digest(part) for part in members]


def check_grid(config: dict, count: int) -> None:
    """A configured COLSxROWS grid must hold every image; the error names the minimum."""
    try:
        resolve_grid_size(config["grid"]["size"], count, config["grid"].get("aspect", 1.0))
    except PipelineError as error:
        raise PipelineError(f"grid.size: {error}") from None


IIIF_AUTO_LIMIT = 200_000


def iiif_wanted(setting: bool | str, image_count: int | None) -> bool:
    """tiles.iiif resolved: `auto` writes the IIIF files up to IIIF_AUTO_LIMIT images. Static level 0 names
    every tile under about five folders of its own (region, sizes, rotation): 6.7 million folders at a
    million images, made again in the site and kept in its standby, more than many disks have inodes for
    and about nine minutes of making folders here. Above the limit the Deep Zoom pyramid (the viewer's)
    is written alone; an image server (a IIIF level 1 server reading the pyramid) is the tool at that size.
    With no count (a cluster job planned before the images were listed) the setting reads as on."""
    if setting == "auto":
        return image_count is None or image_count <= IIIF_AUTO_LIMIT
    return bool(setting)


ARRANGEMENTS_AUTO_LIMIT = 200_000


def arrangements_wanted(setting: list[str] | str, image_count: int | None) -> list[str]:
    """arrangements resolved: `auto` is date and subject up to ARRANGEMENTS_AUTO_LIMIT images (each costs about
    one tiles stage: seconds at 13,000, a quarter of an hour at a million here), none above."""
    if setting == "auto":
        return ["date", "subject"] if image_count is None or image_count <= ARRANGEMENTS_AUTO_LIMIT else []
    return list(setting)


def listed_image_count(images_csv) -> int | None:
    """The images that images.csv lists (excluded files left out), or None when it is not there yet: how a
    cluster job, which does not list the collection itself, counts the images as planning did."""
    try:
        with open(images_csv, newline="", encoding="utf-8") as handle:
            return sum(1 for row in csv.DictReader(handle) if not row.get("excluded"))
    except FileNotFoundError:
        return None


def forget_lost_site(receipt: Path, page: Path) -> None:
    """Delete the site's receipt when the site it records is gone: Snakemake sees only the receipt (the site
    folder is replaced outside its view), so without this a site deleted by hand would never come back."""
    if receipt.is_file() and not page.is_file():
        receipt.unlink()
        print(f"{page.parent} is gone: it will be published again", file=sys.stderr)
