"""Build the demo collection from the sample photographs that scikit-image ships (no download).

DEMO DATA: a few hundred thumbnails made from 14 distinct photographs by cropping, scaling, flipping
and recolouring them, with generated metadata CSVs in the original's format (items
``id,url,title,date,imageUrl,thumbUrl`` and long ``id,subject`` rows). The dates copy the messy forms
of a real library export, and ids mix leading zeros, letters and suffixes, so that the pipeline meets
the same quirks as on a real collection. Everything is derived from a fixed seed, so the same ids and
pixels come out on every machine.
"""
from __future__ import annotations

import argparse
import csv
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from common import run_cli

if TYPE_CHECKING:
    from PIL import Image

# numpy and Pillow are imported where the pictures are made: the Snakefile imports this module for
# demo_ids alone, and planning the workflow must stay cheap.

SKIMAGE_DOCS = "https://scikit-image.org/docs/stable/api/skimage.data.html#skimage.data."


@dataclass(frozen=True)
class Source:
    """One sample photograph: how to load it, what to call it, what it is about, when it was 'taken'."""

    loader: str
    code: str
    title: str
    subjects: tuple[str, ...]
    years: tuple[int, int]


SOURCES = (
    Source("astronaut", "AST", "Astronaut Eileen Collins", ("Portraits", "Space flight"), (1990, 1999)),
    Source("camera", "CAM", "Cameraman on a lawn", ("Portraits", "Photographers"), (1975, 1985)),
    Source("coffee", "COF", "Cup of coffee on a saucer", ("Food and drink",), (2000, 2010)),
    Source("chelsea", "CHE", "Chelsea the cat", ("Animals", "Cats"), (2005, 2012)),
    Source("rocket", "ROC", "Rocket on its launch pad", ("Space flight", "Vehicles"), (1960, 1975)),
    Source("hubble_deep_field", "HUB", "Hubble deep field", ("Astronomy", "Space flight"), (1995, 2004)),
    Source("retina", "RET", "Human retina, fundus photograph", ("Microscopy", "Medicine"), (1985, 2000)),
    Source("moon", "MOO", "Surface of the Moon", ("Astronomy",), (1890, 1930)),
    Source("coins", "COI", "Greek coins", ("Numismatics",), (1897, 1913)),
    Source("grass", "GRA", "Grass, close up", ("Textures", "Plants"), (1920, 1940)),
    Source("brick", "BRI", "Brick wall", ("Textures", "Architecture"), (1909, 1932)),
    Source("immunohistochemistry", "IHC", "Immunohistochemistry stain", ("Microscopy",), (1950, 1970)),
    Source("page", "PAG", "Page of printed text", ("Documents",), (1880, 1900)),
    Source("stereo_motorcycle", "MOT", "Motorcycle in a workshop", ("Vehicles",), (1930, 1950)),
)

VARIANTS_PER_SOURCE = 24
COLOUR_TREATMENTS = ("original", "original", "black and white", "sepia print", "faded", "high contrast", "warm tone")


def demo_ids(per_source: int = VARIANTS_PER_SOURCE) -> list[str]:
    """The ids the demo will have, known before any pixel is made (the Snakefile plans outputs with them).

    Mixes the forms real exports use: zero-padded numbers, letter prefixes and '-Edit' suffixes.
    """
    ids = []
    for source_number, source in enumerate(SOURCES):
        for variant in range(per_source):
            serial = source_number * 100 + variant
            form = variant % 4
            if form == 0:
                ids.append(f"{serial:06d}")
            elif form == 1:
                ids.append(f"{source.code}{serial}")
            elif form == 2:
                ids.append(f"{source.code.lower()}_{serial}-Edit")
            else:
                ids.append(str(329000 + serial))
    return ids


def load_source(source: Source) -> Image.Image:
    import numpy as np
    import skimage.data
    from PIL import Image

    pixels = getattr(skimage.data, source.loader)()
    if isinstance(pixels, tuple):  # stereo_motorcycle returns (left, right, disparity)
        pixels = pixels[0]
    return Image.fromarray(np.asarray(pixels)).convert("RGB")


def make_variant(photo: Image.Image, rng: random.Random, treatment: str) -> tuple[Image.Image, str]:
    """Crop, scale, maybe flip and recolour one photograph; return the picture and words describing it."""
    from PIL import Image, ImageEnhance, ImageOps

    width, height = photo.size
    scale = rng.uniform(0.45, 1.0)
    aspect = rng.choice((1.0, 4 / 3, 3 / 4, 3 / 2))
    crop_w = min(width, int(min(width, height) * scale * aspect ** 0.5))
    crop_h = min(height, int(min(width, height) * scale / aspect ** 0.5))
    left = rng.randint(0, width - crop_w)
    top = rng.randint(0, height - crop_h)
    picture = photo.crop((left, top, left + crop_w, top + crop_h))
    words = ["detail" if scale < 0.7 else "full view"]
    if rng.random() < 0.3:
        picture = ImageOps.mirror(picture)
        words.append("mirrored")
    long_side = rng.choice((160, 192, 256, 320))
    factor = long_side / max(picture.size)
    picture = picture.resize((max(1, round(picture.width * factor)), max(1, round(picture.height * factor))),
                             Image.LANCZOS)
    if treatment == "black and white":
        picture = ImageOps.grayscale(picture).convert("RGB")
    elif treatment == "sepia print":
        picture = ImageOps.colorize(ImageOps.grayscale(picture), "#2b1a0e", "#f3e3c3")
    elif treatment == "faded":
        picture = ImageEnhance.Contrast(ImageEnhance.Color(picture).enhance(0.4)).enhance(0.6)
    elif treatment == "high contrast":
        picture = ImageEnhance.Contrast(picture).enhance(1.8)
    elif treatment == "warm tone":
        red, green, blue = picture.split()
        picture = Image.merge("RGB", (red.point(lambda v: min(255, int(v * 1.15))), green,
                                      blue.point(lambda v: int(v * 0.8))))
    if treatment != "original":
        words.append(treatment)
    return picture, ", ".join(words)


def messy_date(rng: random.Random, years: tuple[int, int]) -> str:
    """A date in one of the forms a real library export has, typos and unknowns included."""
    year = rng.randint(*years)
    end = min(years[1], year + rng.randint(1, 15))
    forms = (
        str(year), str(year), f"{year}-{rng.randint(1, 12):02d}",
        f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        f"{year}-{end}", f"[{year}-{end}]", f"{year}, approximate", f"[{year}, approximate]", f"[{year}?]",
        "Unknown", "Unknown", "", "Unkown",
    )
    return rng.choice(forms)


def build(out_dir: str | Path, seed: int = 2019, per_source: int = VARIANTS_PER_SOURCE) -> list[str]:
    """Write images/<id>.jpg, items.csv, subjects.csv and README.txt under out_dir; return the ids."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    ids = iter(demo_ids(per_source))
    items, subjects = [], []
    for source in SOURCES:
        photo = load_source(source)
        for _ in range(per_source):
            key = next(ids)
            treatment = rng.choice(COLOUR_TREATMENTS)
            picture, words = make_variant(photo, rng, treatment)
            picture.save(out_dir / "images" / f"{key}.jpg", quality=88)
            items.append({
                "id": key,
                "url": SKIMAGE_DOCS + source.loader,
                "title": f"{source.title}, {words}",
                "date": messy_date(rng, source.years),
                "imageUrl": "",
                "thumbUrl": "",
            })
            tags = list(source.subjects) + ([treatment.capitalize()] if treatment != "original" else [])
            subjects.extend((key, tag) for tag in tags)
    # Quirks of real exports: markup and quotes in a title, a record whose image is missing,
    # a duplicated record and a duplicated subject row.
    items[5]["title"] = 'Cameraman, "studio" print <b>not bold</b> & <img src=x onerror=alert(1)>'
    items.append({**items[0], "title": items[0]["title"] + " (duplicate record)"})
    items.append({"id": "missing-0001", "url": "", "title": "A record whose photograph was never scanned",
                  "date": "1901", "imageUrl": "", "thumbUrl": ""})
    subjects.append(subjects[0])
    with open(out_dir / "items.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "url", "title", "date", "imageUrl", "thumbUrl"])
        writer.writeheader()
        writer.writerows(items)
    with open(out_dir / "subjects.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "subject"])
        writer.writerows(subjects)
    (out_dir / "README.txt").write_text(
        "DEMO DATA, generated by scripts/demo_collection.py from scikit-image's sample photographs.\n"
        "Titles, dates and subjects are invented to imitate a library export; they describe no real items.\n"
    )
    return demo_ids(per_source)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", "-out", dest="output", default="data/demo",
                        help="folder to write the demo collection to")
    parser.add_argument("--per-source", "-per-source", dest="per_source", type=int, default=VARIANTS_PER_SOURCE,
                        help="variants made of each of the 14 photographs")
    args = parser.parse_args(argv)
    ids = build(args.output, per_source=args.per_source)
    print(f"demo: wrote {len(ids)} images and metadata to {args.output}")


if __name__ == "__main__":
    run_cli(main)
