"""Stage 0, images: the collection's image files, listed once into ``images.csv``.

Every later stage reads this list instead of globbing the folder again, so all stages see the same
images, a stray file that appears halfway through a build changes nothing, and no stage needs the
file names on its command line (Linux allows 128 KiB for one argument; 13,000 paths are 600 KB).
Columns: ``id`` (the file name without extension, kept as text), ``path``, ``size`` (bytes) and
``mtime_ns``; the last two let the workflow see an edited picture without reading it.

The list is written per extraction shard (a stable split by id), then joined: a shard's list, and so
its extraction job, is rewritten only when one of its own images is added, removed or edited. The
Snakefile imports this module to plan the build, so it uses the standard library only.

    images.py --in 'data/photos/**/*.jpg' --shard 0/2 --out images/shard-0-of-2.csv
    images.py --join images/shard-0-of-2.csv images/shard-1-of-2.csv --out images.csv
"""
from __future__ import annotations

import argparse
import csv
import fnmatch
import gc
import glob
import hashlib
import os
import re
import sys
import zlib
from typing import NamedTuple

from common import PipelineError, atomic_path, run_cli

COLUMNS = ("id", "path", "size", "mtime_ns", "excluded")


class ImageFile(NamedTuple):
    """One row of images.csv."""

    id: str
    path: str
    size: int
    mtime_ns: int


def image_id(path: str | os.PathLike) -> str:
    """The id of an image is its file name without extension, kept as text (ids like 007 or K9045)."""
    return split_name(os.path.basename(path))[0]


# Picture formats both the extract stage (Pillow) and the mosaic stage (libvips) read, by extension, and
# Pillow's name for each, which the extract stage checks against the file's content.
READABLE_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "jpe": "JPEG", "jfif": "JPEG", "png": "PNG", "tif": "TIFF",
                    "tiff": "TIFF", "webp": "WEBP", "gif": "GIF"}
DEFAULT_FORMATS = ("jpg", "jpeg", "png", "tif", "tiff", "webp", "gif")
# Other picture extensions: files with these next to the collection are reported, never silently dropped.
OTHER_PICTURES = {"bmp", "dib", "ppm", "pgm", "pbm", "pnm", "tga", "pcx", "ico", "heic", "heif", "avif", "jp2",
                  "j2k", "psd", "cr2", "nef", "dng", "raw", "jpe", "jfif", "svg"}


def split_name(name: str) -> tuple[str, str]:
    """(id, lower-case extension) of a file name, by os.path.splitext's rules (leading dots belong to the
    name) but with one string method: the collection's listing calls it a million times."""
    stem, dot, kind = name.rpartition(".")
    if not dot or not stem.strip("."):
        return name, ""
    return stem, kind.lower()


def scan_images(pattern: str, formats=DEFAULT_FORMATS) -> tuple[list[ImageFile], list[tuple[str, str, str]]]:
    """The collection's files: (images, excluded), both sorted by id.

    The glob's file-name part is matched without regard to case, so photo.JPG is found by '*.jpg'. Excluded,
    each with the reason, and so reported rather than silently dropped: matched files of a format not in
    `formats`, hidden files (a leading dot: '._photo.jpg' files that macOS leaves are not pictures), and
    pictures beside the matched ones that the glob leaves out (photo.png next to '*.jpg'). Two images with
    the same id (photo.jpg and photo.png) would make every later join ambiguous: an error naming both.
    One stat per file: the workflow lists the collection each time it is planned (13,000 in about 0.2 s, a
    million in about 10 s).
    """
    folder_pattern, name_pattern = os.path.split(pattern)
    if glob.has_magic(folder_pattern):
        folders = sorted(path for path in glob.glob(folder_pattern, recursive=True) if os.path.isdir(path))
    else:
        folders = [folder_pattern] if os.path.isdir(folder_pattern or ".") else []
    matches = re.compile(fnmatch.translate(name_pattern.lower())).match
    accepted = {extension.lower() for extension in formats}
    found: dict[str, ImageFile] = {}
    excluded = []
    collecting = gc.isenabled()
    gc.disable()  # a million new tuples would set off full collections over everything alive, again and again
    try:
        _scan_folders(folders, pattern, name_pattern, matches, accepted, found, excluded)
    finally:
        if collecting:
            gc.enable()
    excluded = [row for row in excluded if row[0] not in found]  # a photo.bmp beside photo.jpg: not a loss
    return [found[key] for key in sorted(found)], sorted(excluded)  # ids are unique: sorting them sorts the rows


def _scan_folders(folders, pattern, name_pattern, matches, accepted, found, excluded) -> None:
    """scan_images' loop over the folders' files: images into `found` by id, the others into `excluded`."""
    for folder in folders:
        with os.scandir(folder or ".") as entries:
            for entry in entries:
                name = entry.name
                path = entry.path if folder else name  # scandir's own join: a million files, every µs counts
                try:
                    if not entry.is_file():  # follows links; a link to nothing is no file
                        continue
                    status = entry.stat()
                except OSError:
                    continue
                key, kind = split_name(name)
                if not matches(name.lower()):
                    if kind in accepted | OTHER_PICTURES and not name.startswith("."):
                        excluded.append((key, path, f"not matched by the images glob {pattern!r}"))
                    continue
                if name.startswith(".") and not name_pattern.startswith("."):
                    excluded.append((key, path, "a hidden file (its name starts with a dot)"))
                elif kind not in accepted:
                    excluded.append((key, path, f"a .{kind} file: image_formats lists {', '.join(sorted(accepted))}"))
                elif key in found:
                    first, second = sorted((found[key].path, path))
                    raise PipelineError(f"two images have the same id {key!r}: {first} and {second}; "
                                        "rename one of them (the id is the file name without extension)")
                else:  # tuple.__new__: the namedtuple without its Python-level constructor (a million times)
                    found[key] = tuple.__new__(ImageFile, (key, path, status.st_size, status.st_mtime_ns))


def find_images(pattern: str) -> dict[str, str]:
    """Map id -> path of the collection's images, sorted by id (see scan_images)."""
    return {row.id: row.path for row in scan_images(pattern)[0]}


def shard_of(key: str, count: int) -> int:
    """Stable shard number of an id: the same image stays in the same shard as the collection grows."""
    return zlib.crc32(key.encode("utf-8")) % count


def digest(rows) -> str:
    """A short hash of listed images: it changes when an image is added, removed, renamed or edited."""
    # Rows of images (id, path, size, mtime) by one f-string each, a million quickly; other rows (left-out
    # files with their reason, the demo's id and path) field by field. Hashed at once: the same digest as
    # row by row.
    text = "".join([f"{row[0]}\t{row[1]}\t{row[2]}\t{row[3]}\n" if len(row) == 4 else "\t".join(map(str, row)) + "\n"
                    for row in rows])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def write_list(path: str | os.PathLike, rows: list[ImageFile], excluded=()) -> None:
    """The images, then the excluded files with the reason in the last column (their size and time empty)."""
    with atomic_path(path) as temp:
        with open(temp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows((*row, "") for row in rows)
            writer.writerows((key, file, "", "", reason) for key, file, reason in excluded)


def read_all(path: str | os.PathLike) -> tuple[list[ImageFile], list[tuple[str, str, str]]]:
    """(images, excluded files with the reason) of an image list."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or tuple(header) != COLUMNS:
                raise PipelineError(f"{path} is not an image list written by the images stage (columns {header})")
            rows, excluded = [], []
            for key, file, size, mtime, reason in reader:
                if reason:
                    excluded.append((key, file, reason))
                else:
                    rows.append(ImageFile(key, file, int(size), int(mtime)))
            return rows, excluded
    except FileNotFoundError:
        raise PipelineError(f"image list not found: {path}") from None


def read_excluded(path: str | os.PathLike) -> list[tuple[str, str, str]]:
    """The files an image list leaves out, as (id, path, reason): reported like unreadable images."""
    return read_all(path)[1]


def read_list(path: str | os.PathLike, shard: tuple[int, int] | None = None) -> dict[str, str]:
    """id -> path from images.csv; with `shard` (index, count) only that shard's images."""
    images = {row.id: row.path for row in read_all(path)[0]}
    if shard is not None:
        index, count = shard
        images = {key: value for key, value in images.items() if shard_of(key, count) == index}
    return images


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' (this shard / number of shards) as (I, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise PipelineError(f"shard {text!r} must look like 0/4 (this shard / number of shards)") from None
    if not 0 <= index < count:
        raise PipelineError(f"shard {text!r}: the index must be 0 to {count - 1}")
    return index, count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--in", "-in", dest="input", help="glob of the collection's images, quoted")
    source.add_argument("--join", nargs="+", help="image lists (of shards) to join into one")
    parser.add_argument("--shard", default="0/1", help="with --in: list only shard I of N, written as I/N")
    parser.add_argument("--formats", nargs="+", default=list(DEFAULT_FORMATS), choices=sorted(READABLE_FORMATS),
                        help="file extensions of the images (any case)")
    parser.add_argument("--out", "-out", dest="output", required=True, help="image list (CSV) to write")
    args = parser.parse_args(argv)

    if args.join:
        listed = [read_all(path) for path in args.join]
        rows = sorted(row for images, _ in listed for row in images)
        excluded = sorted(row for _, left_out in listed for row in left_out)
        duplicated = sorted({first.id for first, second in zip(rows, rows[1:], strict=False) if first.id == second.id})
        if duplicated:
            raise PipelineError(f"the image lists {args.join} share ids, e.g. {duplicated[:3]}")
        write_list(args.output, rows, excluded)
        print(f"images: {len(rows)} images in {args.output}, {len(excluded)} files left out", file=sys.stderr)
        return
    index, count = parse_shard(args.shard)
    images, excluded = scan_images(args.input, args.formats)
    if not images:
        raise PipelineError(f"no images match {args.input!r}; check the path and the extension")
    mine = [row for row in images if shard_of(row.id, count) == index]
    left_out = [row for row in excluded if shard_of(row[0], count) == index]
    write_list(args.output, mine, left_out)
    for _key, path, reason in left_out:
        print(f"images: left out {path}: {reason}", file=sys.stderr)
    print(f"images: {len(mine)} of {len(images)} images matching {args.input} listed in {args.output}"
          + (f" (shard {args.shard})" if count > 1 else ""), file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
