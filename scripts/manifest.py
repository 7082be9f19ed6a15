"""Stage 7, manifest: the mosaic as a IIIF Presentation 3 manifest, lean by default.

One canvas the size of the mosaic carries the tiles stage's IIIF image service, described in full
(width, height, sizes, tiles; Mirador and Universal Viewer still read info.json before their first tile,
which costs nothing); the thumbnail is the site's preview.jpg, a file of its own (a viewer that took the
body's whole-image URL for the thumbnail asked for sizes it does not have). The per-cell annotations
(each cell's title as text and its record as a link, ``#xywh=`` on the canvas) go to a second manifest
only on request (`--annotated`): a viewer's annotation list over 13,000 of them freezes it (Mirador 4.0.0
with the list open: 7-10 s, the first tile at 19 s) and Clover's stops at a few thousand.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import PipelineError, atomic_path, read_geometry, run_cli

MEDIA_TYPES = {"jpg": "image/jpeg", "webp": "image/webp", "png": "image/png"}
SERVICE_KEYS = ("width", "height", "maxWidth", "maxHeight", "sizes", "tiles")  # copied from info.json


def build_manifest(site_url: str, info: dict, cell_size: int, items: dict, label: str, summary: str = "",
                   language: str | None = None, preview_size=None, annotated: bool = False) -> dict:
    """The manifest as a dict, for the image service described by `info` (the tiles stage's info.json).

    Its own URLs are made from site_url, where the site folder is served. `language` (a BCP 47 tag) is
    the language of the collection's texts; without it they are marked as of no language (`none`).
    `preview_size` is preview.jpg's (width, height); `annotated` adds one annotation per cell.
    """
    base = site_url.rstrip("/") + "/"
    service, fmt = info["id"], info["preferredFormats"][0]
    tag = language or "none"
    canvas = f"{base}iiif/canvas/mosaic"
    width, height, cell = info["width"], info["height"], cell_size
    largest = max(info["sizes"], key=lambda size: size["width"])
    image = {"id": f"{service}/full/{largest['width']},{largest['height']}/0/default.{fmt}", "type": "Image",
             "format": MEDIA_TYPES[fmt], "width": width, "height": height,
             "service": [{"id": service, "type": "ImageService3", "profile": "level0",
                          **{key: info[key] for key in SERVICE_KEYS if key in info}}]}
    preview_w, preview_h = preview_size or (largest["width"], largest["height"])
    manifest = {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{base}iiif/{'manifest-cells' if annotated else 'manifest'}.json",
        "type": "Manifest",
        "label": {tag: [label]},
        "metadata": [{"label": {"en": ["Pictures"]}, "value": {"none": [f"{len(items['id']):,}"]}}],
        "items": [{
            "id": canvas, "type": "Canvas", "label": {tag: [label]}, "width": width, "height": height,
            "items": [{"id": f"{base}iiif/page/painting", "type": "AnnotationPage", "items": [{
                "id": f"{base}iiif/annotation/painting", "type": "Annotation", "motivation": "painting",
                "body": image, "target": canvas}]}],
        }],
        "thumbnail": [{"id": f"{base}preview.jpg", "type": "Image", "format": "image/jpeg",
                       "width": preview_w, "height": preview_h}],
        "homepage": [{"id": base, "type": "Text", "label": {tag: [label]}, "format": "text/html"}],
    }
    if summary:
        manifest["summary"] = {tag: [summary]}
    if annotated:
        manifest["items"][0]["annotations"] = [{"id": f"{base}iiif/page/cells", "type": "AnnotationPage",
                                                "items": cell_annotations(base, canvas, cell, items, language)}]
    return manifest


def cell_annotations(base: str, canvas: str, cell: int, items: dict, language: str | None) -> list[dict]:
    """One commenting annotation per cell: the item's title (its id without one) and its record's link."""
    annotations = []
    for index, (key, col, row, title, url) in enumerate(zip(items["id"], items["col"], items["row"], items["title"],
                                                            items["url"], strict=True)):
        text = {"type": "TextualBody", "value": title or key, "format": "text/plain"}
        body = [{**text, "language": language} if language else text]
        if url:
            body.append({"id": url, "type": "Text", "format": "text/html",
                         "label": {language or "none": [title or key]}})
        annotations.append({"id": f"{base}iiif/annotation/cell/{index}", "type": "Annotation",
                            "motivation": "commenting", "body": body,
                            "target": f"{canvas}#xywh={col * cell},{row * cell},{cell},{cell}"})
    return annotations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", "-tiles", required=True, help="folder written by the tiles stage (with iiif/)")
    parser.add_argument("--geometry", default=None, help="mosaic.json of the tiles stage (default: beside --tiles)")
    parser.add_argument("--items", "-items", required=True, help="items JSON from the metadata stage")
    parser.add_argument("--url", "-url", required=True, help="where the site folder will be served, e.g. https://example.org/mosaic/")
    parser.add_argument("--out", "-out", dest="output", required=True, help="manifest JSON to write (lean)")
    parser.add_argument("--annotated", default=None,
                        help="also write the manifest with one annotation per cell (the site's "
                             "iiif/manifest-cells.json)")
    parser.add_argument("--title", "-title", default="Image collection")
    parser.add_argument("--description", "-description", default="")
    parser.add_argument("--language", default=None, help="BCP 47 tag of the collection's texts (default: none)")
    args = parser.parse_args(argv)

    tiles = Path(args.tiles)
    geometry = read_geometry(args.geometry or tiles.with_name("mosaic.json"))
    if not geometry.get("iiif"):
        raise PipelineError(f"{tiles} has no IIIF image service; set tiles.iiif to true")
    info = json.loads((tiles / geometry["iiif"]).read_text())
    items = json.loads(Path(args.items).read_text(encoding="utf-8"))
    options = {"language": args.language or None, "preview_size": geometry.get("previewSize")}
    outputs = [(args.output, False)] + ([(args.annotated, True)] if args.annotated else [])
    for path, annotated in outputs:
        manifest = build_manifest(args.url, info, geometry["cellSize"], items, args.title, args.description,
                                  annotated=annotated, **options)
        with atomic_path(path) as temp:
            Path(temp).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        print(f"manifest: {path}, {len(items['id']) if annotated else 'no'} cells annotated, "
              f"{Path(path).stat().st_size // 1024} KB", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
