"""Stage 7, manifest: the mosaic as a IIIF Presentation 3 manifest with one clickable region per cell.

One canvas the size of the mosaic carries the tiles stage's IIIF image service; an annotation page
holds one annotation per cell (``#xywh=`` on the canvas) with the item's title as text and its
record as a link, so Mirador or Universal Viewer open the mosaic with cells that say what they are.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import PipelineError, atomic_path, read_geometry, run_cli

MEDIA_TYPES = {"jpg": "image/jpeg", "webp": "image/webp", "png": "image/png"}


def build_manifest(site_url: str, info: dict, cell_size: int, items: dict, label: str, summary: str = "") -> dict:
    """The manifest as a dict, for the image service described by `info` (the tiles stage's info.json).

    Its own URLs are made from site_url, where the site folder is served.
    """
    base = site_url.rstrip("/") + "/"
    service, fmt = info["id"], info["preferredFormats"][0]
    largest = max(info["sizes"], key=lambda size: size["width"])
    canvas = f"{base}iiif/canvas/mosaic"
    width, height, cell = info["width"], info["height"], cell_size
    preview = {"id": f"{service}/full/{largest['width']},{largest['height']}/0/default.{fmt}", "type": "Image",
               "format": MEDIA_TYPES[fmt], "width": largest["width"], "height": largest["height"]}
    image = {**preview, "width": width, "height": height,
             "service": [{"id": service, "type": "ImageService3", "profile": "level0"}]}
    cells = []
    for index, (key, col, row, title, url) in enumerate(zip(items["id"], items["col"], items["row"], items["title"],
                                                            items["url"], strict=True)):
        body = [{"type": "TextualBody", "value": title or key, "format": "text/plain", "language": "none"}]
        if url:
            body.append({"id": url, "type": "Text", "format": "text/html", "label": {"none": [title or key]}})
        cells.append({"id": f"{base}iiif/annotation/cell/{index}", "type": "Annotation",
                      "motivation": "commenting", "body": body,
                      "target": f"{canvas}#xywh={col * cell},{row * cell},{cell},{cell}"})
    manifest = {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{base}iiif/manifest.json",
        "type": "Manifest",
        "label": {"none": [label]},
        "items": [{
            "id": canvas, "type": "Canvas", "label": {"none": [label]}, "width": width, "height": height,
            "items": [{"id": f"{base}iiif/page/painting", "type": "AnnotationPage", "items": [{
                "id": f"{base}iiif/annotation/painting", "type": "Annotation", "motivation": "painting",
                "body": image, "target": canvas}]}],
            "annotations": [{"id": f"{base}iiif/page/cells", "type": "AnnotationPage", "items": cells}],
        }],
        "homepage": [{"id": base, "type": "Text", "label": {"none": [label]}, "format": "text/html"}],
    }
    if summary:
        manifest["summary"] = {"none": [summary]}
    manifest["thumbnail"] = [preview]
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", "-tiles", required=True, help="folder written by the tiles stage (with iiif/)")
    parser.add_argument("--geometry", default=None, help="mosaic.json of the tiles stage (default: beside --tiles)")
    parser.add_argument("--items", "-items", required=True, help="items JSON from the metadata stage")
    parser.add_argument("--url", "-url", required=True, help="where the site folder will be served, e.g. https://example.org/mosaic/")
    parser.add_argument("--out", "-out", dest="output", required=True, help="manifest JSON to write")
    parser.add_argument("--title", "-title", default="Image collection")
    parser.add_argument("--description", "-description", default="")
    args = parser.parse_args(argv)

    tiles = Path(args.tiles)
    geometry = read_geometry(args.geometry or tiles.with_name("mosaic.json"))
    if not geometry.get("iiif"):
        raise PipelineError(f"{tiles} has no IIIF image service; set tiles.iiif to true")
    info = json.loads((tiles / geometry["iiif"]).read_text())
    items = json.loads(Path(args.items).read_text(encoding="utf-8"))
    manifest = build_manifest(args.url, info, geometry["cellSize"], items, args.title, args.description)
    with atomic_path(args.output) as temp:
        Path(temp).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    print(f"manifest: {len(items['id'])} cells annotated, {Path(args.output).stat().st_size // 1024} KB",
          file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
