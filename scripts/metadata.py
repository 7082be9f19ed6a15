"""Stage 6, metadata: the collection's CSVs joined with the grid into the viewer's JSON.

Joins by id (the image file name without extension, always a string) with hash lookups, never by
file order. Nothing stops at the first mismatch: images without a record, records without an image,
duplicate records and unreadable dates are all listed in ``metadata_report.csv``; only more unmatched
images than ``-max-unmatched`` (a share) is an error. Text fields are kept verbatim; escaping them is
the viewer's job.
"""
from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from common import CELL_FORMAT, PipelineError, atomic_path, parse_grid_size, read_grid, read_table, run_cli

ITEM_COLUMNS = ["id", "url", "title", "date", "imageUrl", "thumbUrl"]
OTHER_SUBJECT = "Other"

MONTHS = "january february march april may june july august september october november december".split()
_APPROXIMATE = re.compile(r"\b(?:ap+r?o?x\w*|ca|circa|c|about|probably)\b\.?|\?", re.IGNORECASE)
_DECADE = re.compile(r"^(?:(early|mid|late)[\s-]+)?(\d{3})0'?s$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d{4})\s*(?:-|–|to)\s*(\d{4})$")
_ISO = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_WRITTEN = re.compile(r"^(?:(\w+)\.?\s+)?(?:\d{1,2},?\s+)?(\d{4})$")


def parse_date(text: str, min_year: int = 1400, max_year: int | None = None):
    """Read a free-text catalogue date as (start_year, end_year, approximate), or None if unknown.

    Understands 1897, 1932-12, 1897-08-16, 1920-1940, [1913-1940], 1909 approximate (and typos of
    it), [1909?], ca./circa 1900, 1900s, early/mid/late 1920s and 'August 30, 1893'. Anything else
    (Unknown, junk such as 11910-03 or a place name) is None rather than a wrong year.
    """
    max_year = max_year or datetime.date.today().year
    value = str(text or "").strip()
    if not value:
        return None
    approximate = bool(_APPROXIMATE.search(value)) or value.startswith("[")
    core = _APPROXIMATE.sub(" ", value).strip("[] ,.").strip()
    core = re.sub(r"[\s,]+$", "", core).strip()
    start = end = None
    if match := _RANGE.match(core):
        start, end = int(match[1]), int(match[2])
    elif match := _ISO.match(core):
        start = end = int(match[1])
        if (match[2] and not 1 <= int(match[2]) <= 12) or (match[3] and not 1 <= int(match[3]) <= 31):
            return None
    elif match := _DECADE.match(core):
        decade = int(match[2]) * 10
        part = (match[1] or "").lower()
        start, end = {"early": (decade, decade + 3), "mid": (decade + 3, decade + 6),
                      "late": (decade + 6, decade + 9)}.get(part, (decade, decade + 9))
        approximate = True
    elif (match := _WRITTEN.match(core)) and match[1] and match[1].lower().rstrip(".") in {m[:len(match[1])] for m in MONTHS}:
        start = end = int(match[2])
    if start is None or not (min_year <= start <= end <= max_year):
        return None
    return start, end, approximate


def is_stated_unknown(text: str) -> bool:
    """True for dates that say they are unknown (including typos like 'Unkown'), as opposed to junk."""
    value = str(text or "").strip().lower()
    return value in ("", "n.d.", "undated") or value.startswith("unk")


def date_label(interval) -> str:
    """How the viewer shows a parsed date: '1897', '1900–1910', 'ca. 1909'."""
    if interval is None:
        return "Unknown"
    start, end, approximate = interval
    label = str(start) if start == end else f"{start}–{end}"
    return f"ca. {label}" if approximate else label


def top_subjects(subjects: pd.DataFrame, limit: int) -> list[str]:
    """The `limit` most frequent subjects (ties by name), plus 'Other' when more exist."""
    counts = Counter(subjects["subject"])
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    names = [name for name, _ in ranked[:limit]]
    if len(ranked) > limit:
        names.append(OTHER_SUBJECT)
    return names


def join(grid: pd.DataFrame, items: pd.DataFrame, subjects: pd.DataFrame, cols: int,
         subject_limit: int = 64, min_year: int = 1400, max_year: int | None = None, rejected: pd.DataFrame | None = None):
    """Join grid, item records and subjects; return (viewer JSON dict, report rows).

    `rejected` (id, path, reason from the features stage) turns "record without image" into the real
    reason: the image exists but could not be read.
    """
    rejected_reason = dict(zip(rejected["id"], rejected["reason"])) if rejected is not None else {}
    report = [("image_rejected", key, reason) for key, reason in rejected_reason.items()]
    items = items.assign(id=items["id"].str.strip())
    duplicated = items["id"].duplicated(keep="first")
    report += [("duplicate_record", key, "kept the first row") for key in items.loc[duplicated, "id"]]
    records = items.loc[~duplicated].set_index("id")
    gridded = set(grid["id"])
    report += [("record_without_image", key, "") for key in records.index
               if key not in gridded and key not in rejected_reason]

    subjects = subjects.assign(id=subjects["id"].str.strip(), subject=subjects["subject"].str.strip())
    subjects = subjects[(subjects["subject"] != "") & subjects["id"].isin(gridded)].drop_duplicates()
    names = top_subjects(subjects, subject_limit)
    index_of = {name: position for position, name in enumerate(names)}
    other = index_of.get(OTHER_SUBJECT)
    subjects_by_id: dict[str, list[int]] = {}
    for key, subject in subjects[["id", "subject"]].itertuples(index=False):
        position = index_of.get(subject, other)
        chosen = subjects_by_id.setdefault(key, [])
        if position not in chosen:
            chosen.append(position)

    ordered = grid.assign(cell=grid["row"] * cols + grid["col"]).sort_values("cell")
    columns = {name: [] for name in ["id", "col", "row", "title", "date", "dateLabel", "yearStart", "yearEnd",
                                     "approximate", "url", "imageUrl", "thumbUrl", "thumb", "subjects"]}
    for key, col, row in ordered[["id", "col", "row"]].itertuples(index=False):
        record = records.loc[key] if key in records.index else None
        if record is None:
            report.append(("image_without_record", key, ""))
        field = (lambda name: str(record[name]) if record is not None and name in record.index else "")
        interval = parse_date(field("date"), min_year, max_year)
        if interval is None and not is_stated_unknown(field("date")):
            report.append(("unparsed_date", key, field("date")))
        columns["id"].append(key)
        columns["col"].append(int(col))
        columns["row"].append(int(row))
        columns["title"].append(field("title"))
        columns["date"].append(field("date"))
        columns["dateLabel"].append(date_label(interval))
        columns["yearStart"].append(interval[0] if interval else None)
        columns["yearEnd"].append(interval[1] if interval else None)
        columns["approximate"].append(bool(interval and interval[2]))
        for name in ("url", "imageUrl", "thumbUrl"):
            columns[name].append(field(name))
        columns["thumb"].append(f"thumbs/{quote(key)}{CELL_FORMAT}")
        columns["subjects"].append(sorted(subjects_by_id.get(key, [])))
    counts = Counter(position for chosen in columns["subjects"] for position in chosen)
    data = {"count": len(columns["id"]), **columns, "subjectNames": names,
            "subjectCounts": [counts.get(position, 0) for position in range(len(names))]}
    return data, report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-in", dest="input", required=True, help="items CSV: id,url,title,date,imageUrl,thumbUrl")
    parser.add_argument("-sub", dest="subjects", required=True, help="subjects CSV: id,subject (one row each)")
    parser.add_argument("-grid", required=True, help="grid CSV (id,col,row)")
    parser.add_argument("-gsize", default=None, help="COLSxROWS the grid must have (the grid file states its own size)")
    parser.add_argument("-out", dest="output", required=True, help="items JSON for the viewer")
    parser.add_argument("-rejected", default=None, help="rejected.csv from the features stage (id,path,reason)")
    parser.add_argument("-report", default=None, help="match report CSV (default: metadata_report.csv beside -out)")
    parser.add_argument("-subjects-top", dest="subject_limit", type=int, default=64)
    parser.add_argument("-max-unmatched", dest="max_unmatched", type=float, default=0.5,
                        help="largest share of images without a record before this is an error")
    parser.add_argument("-years", default="1400-", help="plausible years, e.g. 1800-2025 (open end: this year)")
    args = parser.parse_args(argv)

    grid, cols, rows = read_grid(args.grid)
    if args.gsize and parse_grid_size(args.gsize) != (cols, rows):
        raise PipelineError(f"-gsize {args.gsize} does not match the grid file, which is {cols}x{rows}")
    items = read_table(args.input, ["id", "title"])
    for name in ITEM_COLUMNS:
        if name not in items.columns:
            items[name] = ""
    subjects = read_table(args.subjects, ["id", "subject"])
    low, _, high = args.years.partition("-")
    rejected = read_table(args.rejected, ["id", "reason"]) if args.rejected else None
    data, report = join(grid, items, subjects, cols, args.subject_limit, int(low or 1400), int(high) if high else None,
                        rejected)
    report_path = args.report or str(Path(args.output).with_name("metadata_report.csv"))
    with atomic_path(report_path) as temp:
        pd.DataFrame(report, columns=["kind", "id", "detail"]).to_csv(temp, index=False)
    kinds = Counter(kind for kind, _, _ in report)
    print(f"metadata: {data['count']} images; " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
          + f" (see {report_path})", file=sys.stderr)
    unmatched = kinds.get("image_without_record", 0)
    if unmatched > args.max_unmatched * max(1, data["count"]):
        raise PipelineError(f"{unmatched} of {data['count']} images have no record in {args.input}; "
                            f"check that ids are file names without extension (report: {report_path})")
    with atomic_path(args.output) as temp:
        temp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


if __name__ == "__main__":
    run_cli(main)
