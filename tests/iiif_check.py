"""An independent reading of a static IIIF Image API 3 level 0 service, as clients compute its URLs."""
import json
import math
from pathlib import Path

from PIL import Image


def client_requests(info):
    """{url path relative to the service: (width, height)} for every request a client may make.

    Tiles as OpenSeadragon asks for them (x,y,w,h region, or `full` when one tile covers the image;
    sizes as `w,h`, the Image API 3 form, and `w,` as Image API 2 clients spell it; `max` for full
    size); whole images from `sizes` at `full/w,h` and `full/w,`; and `full/max`.
    """
    width, height = info["width"], info["height"]
    wanted = {}
    for spec in info["tiles"]:
        tile_w, tile_h = spec["width"], spec.get("height", spec["width"])
        for scale in spec["scaleFactors"]:
            level_w, level_h = math.ceil(width / scale), math.ceil(height / scale)
            for y in range(math.ceil(level_h / tile_h)):
                for x in range(math.ceil(level_w / tile_w)):
                    rx, ry = x * tile_w * scale, y * tile_h * scale
                    rw, rh = min(tile_w * scale, width - rx), min(tile_h * scale, height - ry)
                    w, h = math.ceil(rw / scale), math.ceil(rh / scale)
                    regions = [f"{rx},{ry},{rw},{rh}"] + (["full"] if (rw, rh) == (width, height) else [])
                    sizes = [f"{w},{h}", f"{w},"] + (["max"] if (w, h) == (width, height) else [])
                    for region in regions:
                        for size in sizes:
                            wanted[f"{region}/{size}/0/default"] = (w, h)
    for size in info["sizes"]:
        w, h = size["width"], size["height"]
        for spelling in (f"{w},{h}", f"{w},"):
            wanted[f"full/{spelling}/0/default"] = (w, h)
    # Level 0 must answer `max`: the full size, or within the declared maxWidth and maxHeight.
    wanted["full/max/0/default"] = (info.get("maxWidth", width), info.get("maxHeight", height))
    return wanted


def check_service(folder):
    """Assert that info.json is a level 0 Image API 3 description and every URL a client may ask for exists."""
    folder = Path(folder)
    info = json.loads((folder / "info.json").read_text())
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["type"] == "ImageService3" and info["protocol"] == "http://iiif.io/api/image"
    assert info["profile"] == "level0"
    assert info["id"].startswith(("http://", "https://")) and not info["id"].endswith("/")
    fmt = info.get("preferredFormats", ["jpg"])[0]
    smallest = min(info["tiles"][0]["scaleFactors"][-1], 2 ** 30)
    last = (math.ceil(info["width"] / smallest), math.ceil(info["height"] / smallest))
    assert any((s["width"], s["height"]) == last for s in info["sizes"]) or max(last) <= info["tiles"][0]["width"]
    requests = client_requests(info)
    for path, size in requests.items():
        file = folder / f"{path}.{fmt}"
        assert file.is_file(), f"missing {path}.{fmt}"
        with Image.open(file) as image:
            assert image.size == size, f"{path}: {image.size} != {size}"
    return info, requests
