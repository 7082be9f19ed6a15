"""A collection of bad input, made by the tests themselves: every case a hostile but fair tester found.

`make_bad_collection(folder)` writes the pictures and returns what the workflow must do with each file:
the ids that must be published, and for every other file the reason rejected.csv must give.
"""
from pathlib import Path

from PIL import Image

from conftest import draw_picture

# Ids with characters Snakemake, shells or CSV readers trip on: a comment marker, wildcard braces, angle
# brackets, quotes, non-ASCII letters, delimiters, glob brackets, leading zeros.
ODD_IDS = ["box #3", "a{b}", "<c>", "d's \"e\"", "ünï cödé", "f,g;h", "x[1]", "007"]


def make_bad_collection(folder: Path, glob_text: str) -> tuple[list[str], dict[str, str]]:
    """Pictures in `folder`, for the images glob `glob_text` ('<folder>/*.jpg'): (published ids, rejected id ->
    reason)."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed, key in enumerate(ODD_IDS):
        draw_picture(seed).save(folder / f"{key}.jpg")
    draw_picture(41).save(folder / "UPPER.JPG")  # found: *.jpg matches any case
    Image.new("RGB", (30, 20), (0, 90, 200)).save(folder / "sneaky.jpg", format="BMP")  # Pillow reads, libvips not
    draw_picture(40).save(folder / ".hidden.jpg")  # macOS's ._ files are hidden files too
    Image.new("RGB", (30, 20)).save(folder / "other.bmp")  # beside the collection, not matched
    (folder / "truncated.jpg").write_bytes((folder / "007.jpg").read_bytes()[:200])
    (folder / "empty.jpg").write_bytes(b"")
    rejected = {
        "sneaky": "a BMP file: the mosaic stage reads only GIF, JPEG, MPO, PNG, TIFF, WEBP; convert it, e.g. to JPEG",
        ".hidden": "a hidden file (its name starts with a dot)",
        "other": f"not matched by the images glob {glob_text!r}",
        "truncated": "cannot decode: Truncated File Read",
        "empty": "cannot decode: cannot identify image file the file",
    }
    return [*ODD_IDS, "UPPER"], rejected
