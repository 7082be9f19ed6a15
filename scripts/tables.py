"""Reading and writing the files the stages pass each other: features, embedding, grid, CSV tables.

Every table is keyed by image id, read as text (ids like 007 keep their zeros), so that the stages
join by id and never by row order.
"""
from __future__ import annotations

import io
import json
import os

import numpy as np
import pandas as pd

from common import PipelineError, atomic_path, parse_grid_size, read_text, sniff_delimiter


def load_features(path):
    """Read a features file (written by the features stage) as (ids, vectors, description)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return [str(key) for key in data["ids"]], data["features"], json.loads(str(data["description"]))
    except FileNotFoundError:
        raise PipelineError(f"features file not found: {path}") from None
    except (KeyError, ValueError, OSError) as error:
        raise PipelineError(f"{path} is not a features file written by the features stage ({error})") from None


def read_embedding(path) -> pd.DataFrame:
    """Read an embedding file (id,x,y) with ids kept as text."""
    return pd.read_csv(path, dtype={"id": str}, keep_default_na=False)


def read_table(path: str | os.PathLike, required: list[str], encoding: str = "auto",
               delimiter: str = "auto") -> pd.DataFrame:
    """Read a CSV whose `id` column (and every other column) stays text, checking required columns.

    The encoding and the delimiter are detected unless given (see common.read_text, sniff_delimiter).
    """
    text = read_text(path, encoding)
    try:
        table = pd.read_csv(io.StringIO(text), sep=sniff_delimiter(text, delimiter), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise PipelineError(f"cannot read {path} as CSV: {error}; if its columns are separated by something "
                            "else than commas, set metadata.delimiter") from None
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise PipelineError(f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(table.columns)}")
    return table


def read_grid(path: str | os.PathLike) -> tuple[pd.DataFrame, int, int]:
    """Read a grid file (id,col,row with a '# grid COLSxROWS' header line) into a table and its size.

    Only the first line is a comment: ids may contain '#' (a file named "box #3.jpg").
    """
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline().strip()
    except FileNotFoundError:
        raise PipelineError(f"grid file not found: {path}") from None
    if not first.startswith("# grid "):
        raise PipelineError(f"{path} is not a grid file (its first line should be '# grid COLSxROWS')")
    cols, rows = parse_grid_size(first.removeprefix("# grid "))
    table = pd.read_csv(path, skiprows=1, dtype={"id": str, "col": int, "row": int}, keep_default_na=False)
    return table, cols, rows


def in_cell_order(grid: pd.DataFrame, cols: int) -> pd.DataFrame:
    """The grid's rows in cell order (row by row), the order of the viewer's arrays."""
    return grid.assign(cell=grid["row"] * cols + grid["col"]).sort_values("cell")


def save_npz(path, **arrays) -> None:
    """Write arrays (plus dicts as JSON strings) as one compressed .npz, atomically."""
    packed = {name: np.array(json.dumps(value)) if isinstance(value, dict) else np.asarray(value)
              for name, value in arrays.items()}
    with atomic_path(path) as temp:
        with open(temp, "wb") as handle:
            np.savez_compressed(handle, **packed)
