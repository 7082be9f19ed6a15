"""Helpers shared by every stage: user errors, grid sizes, atomic writes, the CLI wrapper.

Each stage script imports these instead of re-implementing them, so that grid sizes and file
handling mean the same thing everywhere in the pipeline. The Snakefile imports this module too,
so it uses the standard library only; readers of the stages' data files are in tables.py.
"""
from __future__ import annotations

import collections
import contextlib
import ctypes
import glob
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

CELL_FORMAT = ".jpg"  # file type of the mosaic cells, which the site also serves as thumbnails


class PipelineError(Exception):
    """An error in the user's input that the CLI reports as one clear line, without a traceback."""


def cell_files(folders) -> dict[str, Path]:
    """id -> cell file, gathered from the mosaic stage's folders (one per shard).

    An id found in two folders is an error: the shards of one mosaic never share an image.
    """
    found: dict[str, Path] = {}
    for folder in map(Path, folders):
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            raise PipelineError(f"folder of cells not found: {folder}; rerun the mosaic stage") from None
        for entry in entries:
            if entry.name.endswith(CELL_FORMAT) and not entry.name.startswith("."):
                key = entry.name[: -len(CELL_FORMAT)]
                if key in found:
                    raise PipelineError(f"image {key!r} has a cell in both {found[key].parent} and {folder}")
                found[key] = Path(entry.path)
    return found


def parse_grid_size(text: str) -> tuple[int, int]:
    """Parse 'COLSxROWS' (the original's -grid/-gsize format) into (cols, rows)."""
    try:
        cols, rows = (int(part) for part in str(text).lower().split("x"))
    except ValueError:
        raise PipelineError(f"grid size {text!r} is not of the form COLSxROWS, e.g. 114x116") from None
    if cols <= 0 or rows <= 0:
        raise PipelineError(f"grid size {text!r} must have positive columns and rows")
    return cols, rows


def parse_tile(text: str) -> int:
    """Accept the original's '128x128' or a plain '128'; cells are square."""
    parts = {int(part) for part in str(text).lower().split("x") if part}
    if len(parts) != 1 or min(parts) <= 0:
        raise PipelineError(f"tile size {text!r} must be a positive size such as 128 or 128x128")
    return parts.pop()


def parse_colour(text: str) -> tuple[int, int, int]:
    """Parse 'R,G,B' (0-255 each), the form the Snakefile passes colours in."""
    try:
        colour = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        colour = ()
    if len(colour) != 3 or not all(0 <= part <= 255 for part in colour):
        raise PipelineError(f"colour {text!r} must be three numbers 0-255 like 0,0,0")
    return colour


def auto_grid_size(count: int, aspect: float = 1.0) -> tuple[int, int]:
    """The smallest grid of about `aspect` (columns / rows; 1 is square) that holds `count` images."""
    if count <= 0:
        raise PipelineError("cannot size a grid for zero images")
    rows = max(1, round(math.sqrt(count / aspect)))
    return math.ceil(count / rows), rows


def resolve_grid_size(text: str, count: int, aspect: float = 1.0) -> tuple[int, int]:
    """Grid size from config ('auto' or 'COLSxROWS'), checked against the number of images."""
    if str(text).strip().lower() == "auto":
        return auto_grid_size(count, aspect)
    cols, rows = parse_grid_size(text)
    if cols * rows < count:
        min_cols, min_rows = auto_grid_size(count)
        raise PipelineError(
            f"grid {cols}x{rows} has {cols * rows} cells but there are {count} images; "
            f"use at least {count} cells, e.g. {min_cols}x{min_rows}, or grid size 'auto'"
        )
    return cols, rows


BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
DELIMITERS = (",", ";", "\t", "|")


def read_text(path: str | os.PathLike, encoding: str = "auto", setting: str = "metadata.encoding") -> str:
    """A text file's content. 'auto': UTF-8, or what its byte-order mark says (Excel writes UTF-8 with a
    BOM). Bytes that are not text in that encoding are an error naming the file, the line and the setting
    that fixes it, instead of a failure after hours of work."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise PipelineError(f"file not found: {path}") from None
    if encoding == "auto":
        encoding = next((name for mark, name in BOMS if data.startswith(mark)), "utf-8")
    try:
        return data.decode(encoding)
    except LookupError:
        raise PipelineError(f"{setting}: {encoding!r} is not an encoding Python knows (e.g. utf-8, cp1252)") from None
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise PipelineError(f"{path}, line {line}: byte 0x{data[error.start]:02x} is not {encoding} text; set "
                            f"{setting} to the export's encoding, e.g. cp1252 (Excel on Windows) or latin-1") from None


def sniff_delimiter(text: str, delimiter: str = "auto") -> str:
    """The CSV delimiter: as given, or for 'auto' the one of , ; tab | found most often in the header line
    (spreadsheets in many European locales export with ;)."""
    if delimiter != "auto":
        return delimiter
    header = text.split("\n", 1)[0]
    return max(DELIMITERS, key=header.count) if any(mark in header for mark in DELIMITERS) else ","


def read_geometry(path: str | os.PathLike) -> dict:
    """The pyramid's geometry as the tiles stage wrote it (mosaic.json): sizes, cells, tiles, where the DZI
    and IIIF files lie."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path} not found: it is written by the tiles stage") from None


def _process_umask() -> int:
    mask = os.umask(0)  # the umask can only be read by setting it
    os.umask(mask)
    return mask


# Outputs get the permissions any file this process created would have (0644 and 0755 under the usual
# umask), not those of the private temporary files they are written as (0600 and 0700): a web server
# running as another user must be able to read a published site.
UMASK = _process_umask()
FILE_MODE = 0o666 & ~UMASK
FOLDER_MODE = 0o777 & ~UMASK
_HOST = socket.gethostname().replace(".", "_")


def _temp_prefix(final: Path) -> str:
    """Temporary siblings are named after the output, this host and this process, so a later run can tell
    the leftovers of a killed one from another process's work in progress."""
    return f".{final.name}.tmp.{_HOST}.{os.getpid()}."


def remove_leftovers(final: str | os.PathLike) -> list[Path]:
    """Delete the temporary siblings of `final` left by killed processes of this host; return them."""
    final = Path(final)
    prefix = f".{final.name}.tmp.{_HOST}."
    removed = []
    for path in final.parent.glob(glob.escape(prefix) + "*"):
        try:
            pid = int(path.name[len(prefix):].split(".")[0])
            os.kill(pid, 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except (ValueError, IndexError, PermissionError):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, tidy: bool = True):
    """Yield a temporary path next to `final`, renamed onto it only if the block succeeds.

    A crash halfway through never leaves a partial output that a rerun would mistake for a
    finished one, and an existing output is only replaced by a complete new one. With `tidy`,
    leftovers of killed runs are removed first (one glob: off for the many small files of a cache).
    The output gets ordinary permissions (FILE_MODE).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if tidy:
        remove_leftovers(final)
    handle, temp_name = tempfile.mkstemp(prefix=_temp_prefix(final), suffix="".join(final.suffixes),
                                         dir=final.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        os.chmod(temp, FILE_MODE)
        os.replace(temp, final)
    finally:
        if temp.exists():
            temp.unlink()


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike):
    """Like atomic_path for a folder: build it under a temporary name, then swap it in whole.

    The old folder stays in place, complete, until the new one takes its name (an atomic exchange
    where the system has one), so a web server never finds the folder missing or half-written.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(final)
    temp = Path(tempfile.mkdtemp(prefix=_temp_prefix(final), dir=final.parent))
    try:
        yield temp
        os.chmod(temp, FOLDER_MODE)
        replace_folder(temp, final)
    finally:
        if temp.exists():
            shutil.rmtree(temp)


_RENAME_EXCHANGE = 2  # renameat2's flag (Linux 3.15+)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step with Linux's renameat2; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_cwd = -100
    return renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), _RENAME_EXCHANGE) == 0


def exchange_folders(new: Path, final: Path) -> None:
    """Put folder `new` in the place of `final` in one step where the system can; the old folder, if any,
    ends under `new`'s name."""
    if not final.exists():
        os.replace(new, final)
    elif not _exchange(new, final):
        old = new.with_name(new.name + "old")
        os.replace(final, old)
        os.replace(new, final)
        os.replace(old, new)


def replace_folder(new: Path, final: Path) -> None:
    """Put folder `new` in the place of `final`; the old one, if any, is deleted afterwards (new is gone)."""
    exchange_folders(new, final)
    if new.exists():
        shutil.rmtree(new)


def settings_folder(root: str | os.PathLike, settings: dict) -> Path:
    """A cache's folder for one set of settings: named by their hash (changing any starts a fresh folder
    instead of mixing entries), with the settings written beside the entries for whoever looks."""
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(root) / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps(settings, indent=1, sort_keys=True))
    return folder


def link_or_copy(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """A hard link where the file system allows (no extra disk space), else a copy; never over a file."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        shutil.copy2(source, target)


FOLDER_THREADS = 16  # folders made at once: a mkdir waits on the disk (about 1.4 ms here alone, 0.09 ms with 8 threads)


def link_files(pairs, threads: int = FOLDER_THREADS) -> int:
    """link_or_copy(source, target) for each pair, making the targets' folders, on `threads` threads: a
    folder costs the file system a wait, not CPU, and an IIIF tile has three folders of its own, so
    making them one at a time is most of the time of reusing a pyramid's tiles. Returns the files linked."""
    by_folder: dict[str, list] = {}
    for source, target in pairs:
        by_folder.setdefault(os.path.dirname(os.fspath(target)), []).append((source, target))

    def link_folders(folders: list[str]) -> int:
        for folder in folders:
            os.makedirs(folder, exist_ok=True)
            for source, target in by_folder[folder]:
                link_or_copy(source, target)
        return sum(len(by_folder[folder]) for folder in folders)

    folders = list(by_folder)
    if threads <= 1 or len(folders) < 2:
        return link_folders(folders)
    step = max(1, min(256, len(folders) // threads))  # a task per few hundred folders, not one each
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(link_folders, [folders[i:i + step] for i in range(0, len(folders), step)]))


REPLACE_THREADS = 8  # files removed and linked at once when many change (see replace_files)


def replace_files(pairs, threads: int = REPLACE_THREADS) -> int:
    """For each (source, target): what is at target removed (a file, or a folder whole), then source linked
    there (link_or_copy); a source of None only removes. On `threads` threads when there are many: removing
    a file that is its last link frees its blocks, which this VM's disk takes about 140 microseconds to do
    alone and 70 with 8 threads, and the site replaced by a fresh build holds 100,000 such. Returns the
    files linked."""
    def replace(pair) -> int:
        source, target = pair
        try:
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        except FileNotFoundError:
            pass
        if source is None:
            return 0
        link_or_copy(source, target)
        return 1

    pairs = list(pairs)
    if threads <= 1 or len(pairs) < 1000:
        return sum(map(replace, pairs))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(replace, pairs, chunksize=256))


def in_order(pool, function, items, ahead: int):
    """function(item) for each item on a concurrent.futures pool, yielded in the items' order, with at
    most `ahead` results computed or in progress beyond the one being consumed (a bound on memory)."""
    window: collections.deque = collections.deque()
    for item in items:
        window.append(pool.submit(function, item))
        if len(window) >= ahead:
            yield window.popleft().result()
    while window:
        yield window.popleft().result()


def run_cli(main) -> None:
    """Run a stage's main(); user errors become one 'error:' line and exit status 1."""
    try:
        main()
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


def _die_with_parent(parent: int, initializer, initargs) -> None:
    """A pool worker's start-up: on Linux the kernel kills the worker when the process that made it dies, even
    by kill -9 (the out-of-memory killer's), which leaves the pool no chance to stop it; without this the
    workers of a killed mosaic or tiles job lingered for ever. Then the pool's own initializer."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: nothing to ask for
        pass
    if os.getppid() != parent:  # the parent died before the request
        os._exit(1)
    if initializer is not None:
        initializer(*initargs)


def process_pool(workers: int, start_method: str, initializer=None, initargs=()) -> ProcessPoolExecutor:
    """A process pool (workers started by `start_method`) whose workers die with this process."""
    return ProcessPoolExecutor(workers, multiprocessing.get_context(start_method), _die_with_parent,
                               (os.getpid(), initializer, tuple(initargs)))
