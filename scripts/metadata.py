"""Stage 6, metadata: the collection's CSVs joined with the grid into the viewer's JSON.

Any export works through a column map: which column holds the id, title, date, record link, image
link, description and rights, and where the subjects are (a long ``id,subject`` table, and/or delimited
columns such as ``tags`` split on ``|``). Presets name the columns of the original's format and of
PixPlot's ``filename,category,tags,description,permalink,year``. The original's thumbnail links
(``thumbUrl``) are not read: the site has its own thumbnail of every item, and those links were a
quarter of the file for the library's 13,000 items; a column map may still name the field.

Joins by id (the image file name without extension, always a string) with hash lookups, never by
file order. Nothing stops at the first mismatch: images without a record, records without an image,
duplicate records, unreadable dates and links that are not web addresses are all listed in
``metadata_report.csv``; only more unmatched images than ``--max-unmatched`` (a share) is an error.
Text fields are kept verbatim; escaping them is the viewer's job.

Output (the viewer's ``items.json``): ``count``, then one array per field in grid-cell order (compact,
and gzip finds the repeats): ``id``, ``col``, ``row``, ``title``, ``date`` (the catalogue's text),
``dateLabel`` (how the viewer shows it), ``yearStart`` (the year the date filter uses, or null), ``url``,
``imageUrl``, ``description`` and ``rights`` where the column map names them, ``thumb`` (the site's
thumbnail) and ``subjects`` (indices into ``subjectNames``), plus ``subjectNames`` (the ``--subjects-top``
most frequent, then "Other") and their ``subjectCounts``. Only what the viewer reads is written: it finds
an id's position itself, and the interval's end and approximate flag live on in ``dateLabel``.
"""
from __future__ import annotations

import argparse
import datetime
import gzip
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlsplit

import pandas as pd

from common import CELL_FORMAT, PipelineError, atomic_path, parse_grid_size, run_cli
from tables import in_cell_order, read_grid, read_table

FIELDS = ["id", "title", "date", "url", "imageUrl", "description", "rights"]
IGNORED_FIELDS = ("thumbUrl",)  # the original's thumbnail links: a column map may name them; never read
LINK_FIELDS = ("url", "imageUrl")
OPTIONAL_FIELDS = ("description", "rights")  # in the output only where the column map names them
OTHER_SUBJECT = "Other"
PRESETS = {
    "original": {"columns": {"id": "id", "title": "title", "date": "date", "url": "url", "imageUrl": "imageUrl"},
                 "subject_columns": [], "id_has_extension": False},
    "pixplot": {"columns": {"id": "filename", "description": "description", "date": "year", "url": "permalink"},
                "subject_columns": [{"column": "category"}, {"column": "tags", "separator": "|"}],
                "id_has_extension": True},
}
IMAGE_EXTENSION = re.compile(r"\.(?:jpe?g|png|tiff?|gif|webp|bmp|jp2)$", re.IGNORECASE)

MONTHS = "january february march april may june july august september october november december".split()
_APPROXIMATE = re.compile(r"\b(?:ap+r?o?(?:x|\w*mat)\w*|ca|circa|c|about|probably)\b\.?|\?", re.IGNORECASE)
_DECADE = re.compile(r"^(?:(early|mid|late)[\s-]+)?(\d{3})0'?s$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d{4})\s*(?:-|–|to)\s*(\d{4})$")
_ISO = re.compile(r"^(\d{4})(?:[-_/](\d{1,2})(?:[-_/](\d{1,2}))?)?$")
_WRITTEN = re.compile(r"^(?:(\w+)\.?,?\s+)?(?:\d{1,2},?\s+)?(\d{4})$")


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
    elif ((match := _WRITTEN.match(core)) and match[1]
          and match[1].lower().rstrip(".") in {m[:len(match[1])] for m in MONTHS}):
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


def column_map(preset: str = "original", columns: dict | None = None, subject_columns: list | None = None) -> dict:
    """A preset's column map with fields or subject columns overridden; a field set to None is not in the export.

    IGNORED_FIELDS are accepted (configs written for the original's format name them) and dropped.
    """
    if preset not in PRESETS:
        raise PipelineError(f"unknown metadata preset {preset!r}; choose one of {', '.join(PRESETS)}")
    merged = {**PRESETS[preset]["columns"], **(columns or {})}
    unknown = sorted(set(merged) - set(FIELDS) - set(IGNORED_FIELDS))
    if unknown:
        raise PipelineError(f"unknown metadata field(s) {', '.join(unknown)}; the fields are {', '.join(FIELDS)}")
    if not merged.get("id"):
        raise PipelineError("the column map must name the id column")
    specs = PRESETS[preset]["subject_columns"] if subject_columns is None else subject_columns
    for spec in specs:
        if not isinstance(spec, dict) or not spec.get("column") or set(spec) - {"column", "separator"}:
            raise PipelineError(f"a subject column is given as {{column: NAME, separator: '|'}}, not {spec!r}")
    return {"columns": {field: name for field, name in merged.items() if name and field in FIELDS},
            "subject_columns": specs,
            "id_has_extension": PRESETS[preset]["id_has_extension"]}


def records_from_export(table: pd.DataFrame, mapping: dict, source: str = "the items CSV"):
    """(records with one text column per field, subjects as id,subject rows) from an export read as text."""
    columns, specs = mapping["columns"], mapping["subject_columns"]
    wanted = list(columns.values()) + [spec["column"] for spec in specs]
    missing = [name for name in dict.fromkeys(wanted) if name not in table.columns]
    if missing:
        raise PipelineError(f"{source} lacks column(s) {', '.join(missing)}; it has {', '.join(table.columns)} "
                            "(set metadata.preset or metadata.columns)")
    records = pd.DataFrame({field: table[columns[field]] if field in columns else "" for field in FIELDS},
                           index=table.index)
    records["id"] = records["id"].str.strip()
    if mapping["id_has_extension"]:
        records["id"] = records["id"].str.replace(IMAGE_EXTENSION, "", regex=True)
    pieces = []
    for spec in specs:
        values = table[spec["column"]]
        if spec.get("separator"):
            values = values.str.split(spec["separator"], regex=False)
        pieces.append(pd.DataFrame({"id": records["id"], "subject": values}).explode("subject"))
    subjects = pd.concat(pieces) if pieces else pd.DataFrame({"id": [], "subject": []}, dtype=str)
    subjects = subjects.assign(subject=subjects["subject"].fillna("").str.strip())
    return records, subjects[subjects["subject"] != ""].reset_index(drop=True)


def fold_subject_case(subjects: pd.DataFrame) -> pd.DataFrame:
    """Merge subjects that differ only in case or spacing, under their most frequent spelling."""
    key = subjects["subject"].str.casefold().str.split().str.join(" ")
    spellings = (subjects.assign(key=key).groupby(["key", "subject"]).size().reset_index(name="count")
                 .sort_values(["key", "count", "subject"], ascending=[True, False, True])
                 .drop_duplicates("key").set_index("key")["subject"])
    return subjects.assign(subject=key.map(spellings))


def is_safe_link(text: str) -> bool:
    """True for web addresses (http, https) and relative links; false for javascript:, data: and the like."""
    value = str(text or "").strip()
    return not value or urlsplit(value).scheme.lower() in ("", "http", "https")


def top_subjects(subjects: pd.DataFrame, limit: int) -> list[str]:
    """The `limit` most frequent subjects (ties by name), plus 'Other' when more exist."""
    counts = Counter(subjects["subject"])
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    names = [name for name, _ in ranked[:limit]]
    if len(ranked) > limit:
        names.append(OTHER_SUBJECT)
    return names


def gridded_subjects(subjects: pd.DataFrame, ids, fold_case: bool = False) -> pd.DataFrame:
    """The distinct (id, subject) rows of the gridded images, trimmed, optionally case-folded."""
    subjects = subjects.assign(id=subjects["id"].str.strip(), subject=subjects["subject"].str.strip())
    subjects = subjects[(subjects["subject"] != "") & subjects["id"].isin(set(ids))]
    return (fold_subject_case(subjects) if fold_case else subjects).drop_duplicates().reset_index(drop=True)


def join(grid: pd.DataFrame, items: pd.DataFrame, subjects: pd.DataFrame, cols: int,
         subject_limit: int = 64, min_year: int = 1400, max_year: int | None = None,
         rejected: pd.DataFrame | None = None, optional_fields: tuple[str, ...] = ()):
    """Join grid, item records (a column per field of FIELDS) and subjects; return (viewer JSON dict, report rows).

    `subjects` are the gridded_subjects rows.
    `rejected` (id, path, reason from the features stage) turns "record without image" into the real
    reason: the image exists but could not be read. `optional_fields` (description, rights) are
    written only when named. An image whose record has no title shows its description, else its id.
    """
    rejected_reason = dict(zip(rejected["id"], rejected["reason"], strict=True)) if rejected is not None else {}
    report = [("image_rejected", key, reason) for key, reason in rejected_reason.items()]
    items = items.assign(id=items["id"].str.strip())
    duplicated = items["id"].duplicated(keep="first")
    report += [("duplicate_record", key, "kept the first row") for key in items.loc[duplicated, "id"]]
    # One dict per record: looking a row up in the frame (.loc) cost 0.4 ms, a third of the stage's time.
    records = items.loc[~duplicated].set_index("id").to_dict("index")
    gridded = set(grid["id"])
    report += [("record_without_image", key, "") for key in records
               if key not in gridded and key not in rejected_reason]

    names = top_subjects(subjects, subject_limit)
    index_of = {name: position for position, name in enumerate(names)}
    other = index_of.get(OTHER_SUBJECT)
    subjects_by_id: dict[str, list[int]] = {}
    for key, subject in subjects[["id", "subject"]].itertuples(index=False):
        position = index_of.get(subject, other)
        chosen = subjects_by_id.setdefault(key, [])
        if position not in chosen:
            chosen.append(position)

    ordered = in_cell_order(grid, cols)
    columns = {name: [] for name in ["id", "col", "row", "title", "date", "dateLabel", "yearStart", *LINK_FIELDS,
                                     *optional_fields, "thumb", "subjects"]}
    for key, col, row in ordered[["id", "col", "row"]].itertuples(index=False):
        record = records.get(key)
        if record is None:
            report.append(("image_without_record", key, ""))

        def field(name, record=record):
            return str(record[name]) if record is not None and name in record else ""

        interval = parse_date(field("date"), min_year, max_year)
        if interval is None and not is_stated_unknown(field("date")):
            report.append(("unparsed_date", key, field("date")))
        columns["id"].append(key)
        columns["col"].append(int(col))
        columns["row"].append(int(row))
        columns["title"].append(field("title") or field("description") or key)
        columns["date"].append(field("date"))
        columns["dateLabel"].append(date_label(interval))
        columns["yearStart"].append(interval[0] if interval else None)
        for name in LINK_FIELDS:
            link = field(name).strip()
            if not is_safe_link(link):
                report.append(("unsafe_link", key, f"{name}: {link[:80]}"))
                link = ""
            columns[name].append(link)
        for name in optional_fields:
            columns[name].append(field(name))
        columns["thumb"].append(f"thumbs/{quote(key)}{CELL_FORMAT}")
        columns["subjects"].append(sorted(subjects_by_id.get(key, [])))
    counts = Counter(position for chosen in columns["subjects"] for position in chosen)
    data = {"count": len(columns["id"]), **columns, "subjectNames": names,
            "subjectCounts": [counts.get(position, 0) for position in range(len(names))]}
    return data, report


def facet_name(label: str, taken: set[str]) -> str:
    """A URL-safe key for a facet (the viewer's link names it), unique among `taken`."""
    base = re.sub(r"[^a-z0-9]+", "-", label.casefold()).strip("-") or "facet"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    taken.add(name)
    return name


def facets(export: pd.DataFrame, record_ids: pd.Series, specs: list[dict], ids: list[str], report: list) -> list[dict]:
    """Extra filters from catalogue columns (metadata.facets), in the order of `ids` (the items'): for kind
    `values` each item's values (split at the spec's separator) as indices into the facet's value names, most
    frequent first; for kind `number` each item's number or None (text that is no number is reported)."""
    missing = [spec["column"] for spec in specs if spec["column"] not in export.columns]
    if missing:
        raise PipelineError(f"metadata.facets names column(s) {', '.join(missing)} that the items CSV lacks; "
                            f"it has {', '.join(export.columns)}")
    first = ~record_ids.duplicated(keep="first")
    taken: set[str] = set()
    found = []
    for spec in specs:
        label = spec.get("label") or spec["column"]
        texts = dict(zip(record_ids[first], export.loc[first, spec["column"]].fillna(""), strict=True))
        facet = {"name": facet_name(label, taken), "label": label, "kind": spec.get("kind", "values")}
        if facet["kind"] == "number":
            numbers = []
            for key in ids:
                text = str(texts.get(key, "")).strip()
                try:
                    number = float(text.replace(",", "")) if text else None
                except ValueError:
                    number = None
                    report.append(("unparsed_number", key, f"{label}: {text[:80]}"))
                numbers.append(number if number is None or math.isfinite(number) else None)
            facet["items"] = numbers
        else:
            separator = spec.get("separator")
            lists = []
            for key in ids:
                text = str(texts.get(key, ""))
                parts = text.split(separator) if separator else [text]
                lists.append(list(dict.fromkeys(part.strip() for part in parts if part.strip())))
            counts = Counter(value for values in lists for value in values)
            names = [name for name, _ in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))]
            index_of = {name: position for position, name in enumerate(names)}
            facet.update(values=names, counts=[counts[name] for name in names],
                         items=[[index_of[value] for value in values] for values in lists])
        found.append(facet)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", "-in", dest="input", required=True,
                        help="items CSV (default columns: id,url,title,date,imageUrl; a thumbUrl column is ignored)")
    parser.add_argument("--subjects", "-sub", dest="subjects", default=None,
                        help="subjects CSV: id,subject (one row each), if any")
    parser.add_argument("--preset", "-preset", choices=tuple(PRESETS), default="original",
                        help="column names of a known export")
    parser.add_argument("--columns", "-columns", default="{}",
                        help='JSON overriding the preset\'s columns, e.g. {"title": "Title"}')
    parser.add_argument("--subject-columns", "-subject-columns", dest="subject_columns", default=None,
                        help="JSON list of subject columns in the items CSV, e.g. "
                             '[{"column": "tags", "separator": "|"}] (default or null: the preset\'s)')
    parser.add_argument("--fold-subjects", "-fold-subjects", dest="fold_subjects", action="store_true",
                        help="merge subjects that differ only in case or spacing")
    parser.add_argument("--grid", "-grid", required=True, help="grid CSV (id,col,row)")
    parser.add_argument("--grid-size", "-gsize", dest="gsize", default=None,
                        help="COLSxROWS the grid must have (the grid file states its own size)")
    parser.add_argument("--out", "-out", dest="output", required=True, help="items JSON for the viewer")
    parser.add_argument("--rejected", "-rejected", default=None,
                        help="rejected.csv from the features stage (id,path,reason)")
    parser.add_argument("--report", "-report", default=None,
                        help="match report CSV (default: metadata_report.csv beside -out)")
    parser.add_argument("--subjects-out", "-subjects-out", dest="subjects_out", default=None,
                        help="write the gridded images' subjects here as id,subject rows (for the quality stage)")
    parser.add_argument("--subjects-top", "-subjects-top", dest="subject_limit", type=int, default=64)
    parser.add_argument("--max-unmatched", "-max-unmatched", dest="max_unmatched", type=float, default=0.5,
                        help="largest share of images without a record before this is an error")
    parser.add_argument("--encoding", default="auto",
                        help="text encoding of the CSVs, e.g. cp1252 (default auto: UTF-8, or what a BOM says)")
    parser.add_argument("--delimiter", default="auto",
                        help="column separator of the CSVs (default auto: the header's most frequent of , ; tab |)")
    parser.add_argument("--years", "-years", default="1400-",
                        help="plausible years, e.g. 1800-2025 (open end: this year)")
    parser.add_argument("--facets", default="[]", help='JSON list of extra filter columns, e.g. '
                        '[{"column": "Place", "label": "Place", "kind": "values", "separator": ";"}]')
    args = parser.parse_args(argv)

    grid, cols, rows = read_grid(args.grid)
    if args.gsize and parse_grid_size(args.gsize) != (cols, rows):
        raise PipelineError(f"-gsize {args.gsize} does not match the grid file, which is {cols}x{rows}")
    try:
        mapping = column_map(args.preset, json.loads(args.columns), json.loads(args.subject_columns or "null"))
    except json.JSONDecodeError as error:
        raise PipelineError(f"-columns and -subject-columns take JSON: {error}") from None
    export = read_table(args.input, [], args.encoding, args.delimiter)
    items, subjects = records_from_export(export, mapping, args.input)
    if args.subjects:
        subjects = pd.concat([subjects, read_table(args.subjects, ["id", "subject"], args.encoding,
                                                   args.delimiter)[["id", "subject"]]])
    low, _, high = args.years.partition("-")
    rejected = read_table(args.rejected, ["id", "reason"]) if args.rejected else None
    optional = tuple(field for field in OPTIONAL_FIELDS if field in mapping["columns"])
    subjects = gridded_subjects(subjects, grid["id"], args.fold_subjects)
    data, report = join(grid, items, subjects, cols, args.subject_limit, int(low or 1400), int(high) if high else None,
                        rejected, optional)
    specs = json.loads(args.facets)
    if specs:
        data["facets"] = facets(export, items["id"], specs, data["id"], report)
    if args.subjects_out:
        with atomic_path(args.subjects_out) as temp:
            subjects.to_csv(temp, index=False)
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
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with atomic_path(args.output) as temp:
        temp.write_bytes(text)
    print(f"metadata: {args.output} is {len(text) / 1e6:.2f} MB, {len(gzip.compress(text)) / 1e6:.2f} MB gzipped",
          file=sys.stderr)

if __name__ == "__main__":
    run_cli(main)
