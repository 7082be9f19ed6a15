"""Stage 0 for a collection published as IIIF: manifests and collections in, pictures and the catalogue's
CSVs out, so that every later stage reads them as it reads a folder of photographs and its CSV export.

Three steps, each a rule of the Snakefile (source.iiif in config.yaml; README, From IIIF):

    iiif_source.py --list URL_OR_FILE... --out manifests.csv
        collections followed (nested ones too, to --depth, loops reported) down to one row per manifest
    iiif_source.py --fetch manifests.csv --shard 0/4 --images images/shard-0-of-4 --out records/shard-0-of-4.csv
        the shard's manifests read and one picture per canvas (or the first canvas) downloaded
    iiif_source.py --join records/*.csv --items items.csv --subjects subjects.csv --rejected rejected.csv

Pictures come from each canvas's Image API service at the size asked for (level 0 services: the listed
size nearest above it), else from the canvas's painting body, else from a thumbnail. Every download goes
through one HTTP cache keyed by URL (source.cache), so a rerun downloads nothing it has, and a new
manifest fetches only its own pictures. What fails (a 404, a server still failing after the retries, a
truncated picture) is a row of rejected.csv with its URL and the reason; the rest of the collection builds.

Metadata is mapped onto the fields the metadata stage reads (docs/metadata.md): title from label, date
from navDate or a date-like metadata pair, subjects from the metadata pairs whose labels source.subjects
names, description from summary (v3) or description (v2), rights from requiredStatement and rights (v3)
or attribution and license (v2), url from homepage (v3) or related (v2); language maps are read in the
order of source.languages, then values without a language, then any.
"""
from __future__ import annotations

import argparse
import csv
import email.utils
import hashlib
import html
import json
import os
import re
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from common import PipelineError, atomic_dir, atomic_path, link_or_copy, run_cli
from images import shard_of

# Servers' logs name who asked: this workflow, its purpose, the HTTP library (its version is added).
USER_AGENT = "image-collection-workflow/0.1 (IIIF source: one picture per canvas, cached)"
RETRY_STATUSES = {429, 500, 502, 503, 504}
RECORD_COLUMNS = ("id", "title", "date", "url", "imageUrl", "description", "rights", "subjects", "manifest",
                  "canvas", "source", "rejected")
ITEM_COLUMNS = ("id", "url", "title", "date", "imageUrl", "description", "rights", "manifest", "canvas")
# Path parts that name no object (…/iiif/2/manifest.json): left out of the readable part of an id.
GENERIC_PARTS = {"iiif", "manifest", "manifests", "presentation", "api", "json", "v2", "v3", "2", "3", "2.1"}


class FetchError(Exception):
    """A URL that could not be had, with the reason in a few words (a row of rejected.csv)."""


# -- HTTP ------------------------------------------------------------------------------------------------


def is_url(reference: str) -> bool:
    return urlsplit(reference).scheme in ("http", "https")


def retry_after(header: str | None, now: float | None = None) -> float | None:
    """Seconds a 429 or 503 asks to wait: Retry-After as seconds or as an HTTP date; None if absent or unreadable."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Fetcher:
    """Downloads through a cache keyed by URL: one connection pool, at most `per_host` requests at a time to
    any one host, `timeout` seconds for the connection and each read, and up to `retries` more tries after a
    5xx, a 429, a timeout or a dropped connection, waiting as Retry-After asks (at most `max_wait`) or twice
    as long each time. A body is written under a temporary name and kept only when complete (as long as
    its Content-Length says), so a partial file never counts as downloaded. Local files are read in place."""

    def __init__(self, cache: str | os.PathLike, timeout: float = 30, retries: int = 4, per_host: int = 4,
                 backoff: float = 1.0, max_wait: float = 120, user_agent: str = USER_AGENT):
        self.cache = Path(cache)
        self.timeout, self.retries, self.per_host = timeout, retries, per_host
        self.backoff, self.max_wait = backoff, max_wait
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"{user_agent} python-requests/{requests.__version__}"
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=max(per_host, 4), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()
        self.downloaded = self.reused = 0

    def cached(self, url: str) -> Path:
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return self.cache / key[:2] / key

    def _host(self, url: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._hosts.setdefault(urlsplit(url).netloc, threading.BoundedSemaphore(self.per_host))

    def get(self, reference: str) -> Path:
        """The file of a URL (downloaded once, then from the cache) or of a local path; FetchError if neither."""
        if not is_url(reference):
            path = Path(reference[len("file://"):] if reference.startswith("file://") else reference)
            if not path.is_file():
                raise FetchError(f"no such file: {path}")
            return path
        path = self.cached(reference)
        if path.is_file():
            with self._lock:
                self.reused += 1
            return path
        reason = "not tried"
        for attempt in range(self.retries + 1):
            with self._host(reference):
                wait, reason = self._download(reference, path)
            if wait is None:
                with self._lock:
                    self.downloaded += 1
                return path
            if attempt < self.retries and wait >= 0:
                time.sleep(min(wait if wait > 0 else self.backoff * 2 ** attempt, self.max_wait))
            elif wait < 0:
                break
        tries = f" (after {self.retries + 1} tries)" if self.retries and wait >= 0 else ""
        raise FetchError(reason + tries)

    def _download(self, url: str, path: Path) -> tuple[float | None, str]:
        """One try: (None, '') when `path` now holds the body; else (seconds to wait, 0 for the backoff, or -1
        for a failure that another try would not mend, and the reason)."""
        try:
            with self.session.get(url, timeout=self.timeout, stream=True) as response:
                if response.status_code in RETRY_STATUSES:
                    asked = retry_after(response.headers.get("Retry-After"))
                    return (asked if asked is not None else 0), f"HTTP {response.status_code}"
                if response.status_code != 200:
                    return -1, f"HTTP {response.status_code}"
                expected = response.headers.get("Content-Length")
                received = 0
                with atomic_path(path, tidy=False) as temp, open(temp, "wb") as handle:
                    for block in response.iter_content(1 << 16):
                        handle.write(block)
                        received += len(block)
                    if expected and expected.isdigit() and not response.headers.get("Content-Encoding") \
                            and received != int(expected):
                        raise FetchError(f"truncated: {received} of {expected} bytes")
        except FetchError as error:
            return 0, str(error)
        except requests.Timeout:
            return 0, f"no answer within {self.timeout:g} s"
        except requests.RequestException as error:
            text = str(error)
            if "IncompleteRead" in text or "Connection broken" in text:
                return 0, "truncated: the connection closed before the end of the body"
            return 0, f"connection failed: {text[:160]}"
        return None, ""


def read_json(fetcher: Fetcher, reference: str) -> dict:
    path = fetcher.get(reference)
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise FetchError("not a JSON document") from None
    if not isinstance(document, dict):
        raise FetchError("not a IIIF document (JSON, but not an object)")
    return document


# -- Presentation API 2.1 and 3 ------------------------------------------------------------------------------


def presentation_version(document: dict) -> int:
    """3 for Presentation 3 (`type`, `id`), else 2 (`@type`, `@id`)."""
    context = json.dumps(document.get("@context", ""))
    return 3 if "presentation/3" in context or ("type" in document and "@type" not in document) else 2


def kind(document: dict) -> str:
    """Manifest, Collection, or what else the document says it is."""
    value = document.get("type") or document.get("@type") or ""
    value = value[0] if isinstance(value, list) and value else value
    return str(value).split(":")[-1]


def identifier(resource) -> str:
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict):
        return str(resource.get("id") or resource.get("@id") or "")
    return ""


def as_list(value) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]


TAG = re.compile(r"<[A-Za-z/!][^>]*>")


def plain(text, markup: str = "wrapped") -> str:
    """A value as the text the viewer shows. Labels are never HTML (markup "none"); in Presentation 3 another
    value is HTML only when it starts with '<' and ends with '>' ("wrapped": the spec's rule, so a title
    such as '<b> or &amp;' written as text stays as written); in 2.1 descriptions, attributions and
    metadata values may hold HTML anywhere ("tags"). HTML is reduced to its text, entities read."""
    text = str(text).strip()
    is_html = ((markup == "wrapped" and text.startswith("<") and text.endswith(">"))
               or (markup == "tags" and TAG.search(text) is not None))
    if not is_html:
        return text
    text = re.sub(r"<br\s*/?>|</p>", " ", text, flags=re.IGNORECASE)
    return " ".join(html.unescape(TAG.sub("", text)).split())


def values(value, languages: tuple[str, ...] = (), markup: str = "wrapped") -> list[str]:
    """The strings of a v3 language map ({"en": [...], "none": [...]}) or of a v2 value (a string, a list,
    {"@value", "@language"} objects) in the first of `languages` present, else without a language, else any,
    as plain text (see plain)."""
    if value is None:
        return []
    if isinstance(value, dict) and "@value" not in value:  # a v3 language map
        keys = [*languages, "none", "@none", *value]
        chosen = next((as_list(value[key]) for key in keys if value.get(key)), [])
    else:
        untagged, by_language = [], {}
        for item in as_list(value):
            if isinstance(item, dict) and item.get("@language"):
                by_language.setdefault(item["@language"], []).append(item.get("@value", ""))
            else:
                untagged.append(item.get("@value", "") if isinstance(item, dict) else item)
        chosen = (next((by_language[key] for key in languages if key in by_language), None) or untagged
                  or next(iter(by_language.values()), []))
    return [plain(item, markup) for item in chosen if str(item).strip()]


def text(value, languages: tuple[str, ...] = (), markup: str = "wrapped") -> str:
    return "; ".join(values(value, languages, markup))


def collection_members(document: dict) -> list[tuple[str, str]]:
    """(kind, id) of what a collection lists: v3 items, v2 manifests, collections and members."""
    members = []
    for key, default in (("items", ""), ("members", ""), ("collections", "Collection"), ("manifests", "Manifest")):
        for entry in as_list(document.get(key)):
            if isinstance(entry, dict) and identifier(entry):
                members.append((kind(entry) or default, identifier(entry)))
    return members


def collection_pages(document: dict, reference: str, fetcher: Fetcher, rows: list[dict]):
    """(reference, document) of a collection and of its pages: a large Presentation 2.1 collection lists its
    members on pages, from `first` along `next` (each page once; one that fails is a rejected row)."""
    yield reference, document
    following, seen = identifier(document.get("first")), {reference}
    while following and following not in seen:
        seen.add(following)
        try:
            page = read_json(fetcher, following)
        except FetchError as error:
            rows.append({"manifest": following, "collection": reference, "rejected": f"collection page: {error}"})
            return
        yield following, page
        following = identifier(page.get("next"))


def read_sources(entries: list[str]) -> list[str]:
    """The configured references: URLs and local JSON files, and text files listing one per line (# comments)."""
    references = []
    for entry in entries:
        if not is_url(entry) and entry.lower().endswith(".txt"):
            try:
                lines = Path(entry).read_text(encoding="utf-8").splitlines()
            except OSError as error:
                raise PipelineError(f"source.iiif: cannot read the list {entry}: {error.strerror}") from None
            references += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        else:
            references.append(entry)
    return references


def list_manifests(references: list[str], fetcher: Fetcher, depth: int = 5) -> list[dict]:
    """Rows of manifests.csv: one per manifest found (each once), with the collection it came through, and one
    per reference that failed (rejected: why), in the order met. Collections are followed to `depth` levels;
    a collection that includes itself (a loop) is reported, not followed again."""
    rows: list[dict] = []
    seen: set[str] = set()

    def visit(reference: str, member_kind: str, parent: str, level: int, ancestors: tuple[str, ...]):
        if reference in ancestors:
            rows.append({"manifest": reference, "collection": parent, "rejected": "a collection loop: it includes "
                         "itself"})
            return
        if reference in seen:
            return
        seen.add(reference)
        if member_kind == "Manifest":  # read by the fetch step, in its shard
            rows.append({"manifest": reference, "collection": parent, "rejected": ""})
            return
        try:
            document = read_json(fetcher, reference)
        except FetchError as error:
            rows.append({"manifest": reference, "collection": parent, "rejected": str(error)})
            return
        found = kind(document)
        if found == "Manifest":
            rows.append({"manifest": reference, "collection": parent, "rejected": ""})
        elif found == "Collection":
            if level >= depth:
                rows.append({"manifest": reference, "collection": parent,
                             "rejected": f"a collection nested deeper than source.depth ({depth})"})
                return
            for page_reference, page in collection_pages(document, reference, fetcher, rows):
                base = page_reference if is_url(page_reference) else identifier(page)
                for child_kind, child in collection_members(page):
                    visit(urljoin(base, child), child_kind, reference, level + 1, (*ancestors, reference))
        else:
            rows.append({"manifest": reference, "collection": parent,
                         "rejected": f"not a IIIF manifest or collection (type {found or 'missing'})"})

    for reference in references:
        visit(reference, "", "", 0, ())
    return rows


# -- Pictures ------------------------------------------------------------------------------------------------


@dataclass
class Service:
    """An Image API service as a client needs it."""

    id: str
    version: int
    level: int | None
    width: int | None = None
    height: int | None = None
    sizes: list[tuple[int, int]] = field(default_factory=list)
    largest: int | None = None  # the smaller of maxWidth and maxHeight, where the service states one

    def complete(self) -> bool:
        """True when a request can be made without its info.json."""
        if self.level == 0:
            return bool(self.sizes)
        return self.level in (1, 2) and (self.level == 2 or bool(self.width and self.height))


def read_service(entry) -> Service | None:
    if not isinstance(entry, dict) or not identifier(entry):
        return None
    kind_name = str(entry.get("type") or entry.get("@type") or "")
    context = json.dumps(entry.get("@context", ""))
    profile = json.dumps(entry.get("profile", ""))
    if not ("ImageService" in kind_name or "image/" in context or "image/" in profile or "level" in profile):
        return None
    version = 3 if kind_name == "ImageService3" or "image/3" in context else 2
    level = re.search(r"level([012])", profile)
    sizes = [(int(s["width"]), int(s["height"])) for s in as_list(entry.get("sizes"))
             if isinstance(s, dict) and str(s.get("width", "")).isdigit() and str(s.get("height", "")).isdigit()]
    limits = [entry[key] for key in ("maxWidth", "maxHeight") if isinstance(entry.get(key), int) and entry[key] > 0]
    service_id = re.sub(r"/info\.json$", "", identifier(entry).rstrip("/"))  # some manifests name the info.json
    return Service(service_id, version, int(level[1]) if level else None,
                   entry.get("width") if isinstance(entry.get("width"), int) else None,
                   entry.get("height") if isinstance(entry.get("height"), int) else None, sizes,
                   min(limits) if limits else None)


def service_request(service: Service, size: int) -> str | None:
    """The URL of the picture at about `size` pixels on its longer side, as the service's level allows: level 2
    fits it in a size x size box (!w,h), level 1 asks for a width or a height (w, or ,h), level 0 takes the
    smallest listed size that is not smaller (else the largest). Never asks to enlarge (Image API 3 forbids it
    without ^), nor beyond a stated maxWidth or maxHeight. None when the level or the sizes needed are unknown."""
    full = "max" if service.version == 3 else "full"
    size = min(size, service.largest or size)
    if service.level == 0:
        if not service.sizes:
            return None
        larger = [s for s in service.sizes if max(s) >= size]
        width, height = min(larger, key=max) if larger else max(service.sizes, key=max)
        return f"{service.id}/full/{width},{height if service.version == 3 else ''}/0/default.jpg"
    if service.width and service.height and max(service.width, service.height) <= size:
        return f"{service.id}/full/{full}/0/default.jpg"
    if service.level == 2:
        return f"{service.id}/full/!{size},{size}/0/default.jpg"
    if service.level == 1 and service.width and service.height:
        box = f"{size}," if service.width >= service.height else f",{size}"
        return f"{service.id}/full/{box}/0/default.jpg"
    return None


def with_info(service: Service, fetcher: Fetcher) -> Service:
    """The service completed from its info.json (level, size, listed sizes) when the manifest left them out."""
    if service.complete():
        return service
    info = read_json(fetcher, f"{service.id}/info.json")
    found = read_service({**info, "id": service.id})
    if found is None:
        raise FetchError("its info.json describes no image service")
    found.level = found.level if found.level is not None else service.level
    found.width, found.height = found.width or service.width, found.height or service.height
    found.sizes = found.sizes or service.sizes
    found.largest = found.largest or service.largest
    return found


def full_image(service: Service) -> str:
    """A link to the whole picture at its largest: what a visitor opens from the viewer (imageUrl)."""
    if service.level == 0:
        if not service.sizes:
            return ""
        width, height = max(service.sizes, key=max)
        return f"{service.id}/full/{width},{height if service.version == 3 else ''}/0/default.jpg"
    return f"{service.id}/full/{'max' if service.version == 3 else 'full'}/0/default.jpg"


def painting_bodies(canvas: dict) -> list[dict]:
    """The images a canvas shows: v3 items > AnnotationPage > painting Annotation > body (a Choice: its
    items), v2 images > resource (a oa:Choice: its default and items)."""
    bodies = []
    for page in as_list(canvas.get("items")):
        for annotation in as_list(page.get("items") if isinstance(page, dict) else None):
            if isinstance(annotation, dict) and annotation.get("motivation", "painting") == "painting":
                bodies += as_list(annotation.get("body"))
    for annotation in as_list(canvas.get("images")):
        if isinstance(annotation, dict):
            bodies += as_list(annotation.get("resource"))
    chosen = []
    for body in bodies:
        if isinstance(body, dict) and kind(body) == "Choice":
            chosen += [item for item in [body.get("default"), *as_list(body.get("items"))] if isinstance(item, dict)]
        elif isinstance(body, dict):
            chosen.append(body)
    return chosen


# -- Manifests to items ----------------------------------------------------------------------------------------


def item_id(manifest_id: str, canvas: int | None = None) -> str:
    """A file-name-safe id that a rebuild keeps: the last telling part of the manifest's id and 10 hex digits of
    its hash (two manifests about never share one: join_records rejects the second if they do), and with every
    canvas its own item, -<n> (1 for the first)."""
    parts = [part for part in re.split(r"[/\\]", urlsplit(manifest_id).path) if part]
    telling = [part for part in parts if re.sub(r"\.json$", "", part.lower()) not in GENERIC_PARTS]
    name = re.sub(r"\.json$", "", telling[-1], flags=re.IGNORECASE) if telling else "item"
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:40] or "item"
    key = f"{slug}-{hashlib.sha1(manifest_id.encode('utf-8')).hexdigest()[:10]}"
    return key if canvas is None else f"{key}-{canvas}"


@dataclass
class Settings:
    """How manifests are read: source.size, canvases, subjects, dates and languages of config.yaml."""

    size: int = 256
    canvases: str = "first"
    subjects: tuple[str, ...] = ("subject", "subjects", "keywords", "topic", "topics")
    dates: tuple[str, ...] = ("date", "dates", "created", "date created", "creation date")
    languages: tuple[str, ...] = ()


def labelled(metadata, labels: tuple[str, ...], languages: tuple[str, ...], markup: str) -> list[str]:
    """The values of the metadata pairs whose label (in any language) is one of `labels`, in any case."""
    wanted = {label.casefold() for label in labels}
    found = []
    for pair in as_list(metadata):
        if not isinstance(pair, dict):
            continue
        label = pair.get("label")
        names = {name.casefold() for name in values(label, languages, "none")}
        if isinstance(label, dict) and "@value" not in label:  # every language's label counts
            names |= {str(name).strip().casefold() for texts in label.values() for name in as_list(texts)}
        if names & wanted:
            found += values(pair.get("value"), languages, markup)
    return found


def manifest_records(manifest: dict, reference: str, settings: Settings) -> list[dict]:
    """One record per picture of a manifest (its first canvas, or each canvas): the catalogue fields, and the
    picture's sources in the order to try them (`candidates`: Service objects, then plain URLs)."""
    languages = settings.languages
    version = presentation_version(manifest)
    markup = "wrapped" if version == 3 else "tags"  # where HTML may be (plain)
    manifest_id = identifier(manifest) or reference
    title = text(manifest.get("label"), languages, "none")
    metadata = manifest.get("metadata")
    date = (manifest.get("navDate") or "")[:10] or next(iter(labelled(metadata, settings.dates, languages, markup)), "")
    subjects = []
    for value in labelled(metadata, settings.subjects, languages, markup):
        subjects += [part.strip() for part in re.split(r"[;|]", value) if part.strip()]
    if version == 3:
        description = text(manifest.get("summary"), languages, markup)
        statement = manifest.get("requiredStatement") if isinstance(manifest.get("requiredStatement"), dict) else {}
        rights_parts = [text(statement.get("value"), languages, markup), str(manifest.get("rights") or "")]
        url = next((identifier(page) for page in as_list(manifest.get("homepage")) if identifier(page)), "")
        canvases = as_list(manifest.get("items"))
    else:
        description = text(manifest.get("description"), languages, markup)
        rights_parts = [text(manifest.get("attribution"), languages, markup),
                        " ".join(identifier(item) for item in as_list(manifest.get("license")))]
        url = next((identifier(page) for page in as_list(manifest.get("related")) if identifier(page)), "")
        canvases = [canvas for sequence in as_list(manifest.get("sequences"))[:1] if isinstance(sequence, dict)
                    for canvas in as_list(sequence.get("canvases"))]
    canvases = [canvas for canvas in canvases if isinstance(canvas, dict)]
    thumbnails = [identifier(item) for item in as_list(manifest.get("thumbnail")) if identifier(item)]
    if not canvases:
        return [{"id": item_id(manifest_id), "manifest": reference, "canvas": "", "title": title,
                 "candidates": thumbnails, "rejected": "" if thumbnails else "the manifest has no canvas"}]
    chosen = canvases if settings.canvases == "all" else canvases[:1]
    records = []
    for number, canvas in enumerate(chosen, start=1):
        candidates: list = []
        for body in painting_bodies(canvas):
            candidates += [service for service in map(read_service, as_list(body.get("service"))) if service]
            if identifier(body):
                candidates.append(identifier(body))
        candidates += [identifier(item) for item in as_list(canvas.get("thumbnail")) if identifier(item)]
        candidates += thumbnails if number == 1 else []
        canvas_label = text(canvas.get("label"), languages, "none")
        records.append({
            "id": item_id(manifest_id, number if settings.canvases == "all" else None),
            "title": f"{title} ({canvas_label})" if len(chosen) > 1 and canvas_label and canvas_label != title
            else title,
            "date": (canvas.get("navDate") or "")[:10] or date,
            "url": url, "description": description,
            "rights": " ".join(part for part in rights_parts if part).strip(),
            "subjects": subjects, "manifest": reference, "canvas": identifier(canvas),
            "candidates": candidates, "rejected": "" if candidates else "the canvas shows no image",
        })
    return records


# -- Fetching a shard --------------------------------------------------------------------------------------------


def save_picture(source: Path, target: Path, size: int) -> None:
    """The downloaded picture checked whole (a truncated one fails here) and kept as JPEG: linked as it is when
    it already is one, else converted (and, if far larger than asked, scaled down to twice `size`)."""
    from PIL import Image, UnidentifiedImageError

    if target.exists():
        raise FetchError(f"another manifest of this shard has the id {target.stem}")
    try:
        with Image.open(source) as picture:
            picture.load()
            if picture.format == "JPEG" and max(picture.size) <= 4 * size:
                link_or_copy(source, target)
                return
            picture.thumbnail((2 * size, 2 * size))
            with atomic_path(target, tidy=False) as temp:
                picture.convert("RGB").save(temp, "JPEG", quality=92)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise FetchError(f"not a readable picture ({str(error)[:120]})") from None


def fetch_picture(record: dict, fetcher: Fetcher, folder: Path, size: int) -> dict:
    """The record with its picture saved as <folder>/<id>.jpg and imageUrl set, or with `rejected` giving each
    source's failure (and `source`: the first URL tried)."""
    reasons, tried = [], []
    for candidate in record["candidates"]:
        url = getattr(candidate, "id", candidate)
        service = None
        try:
            if isinstance(candidate, Service):
                service = with_info(candidate, fetcher)
                url = service_request(service, size)
                if not url:
                    raise FetchError("an image service at level 0 that lists no sizes")
            tried.append(url)
            save_picture(fetcher.get(url), folder / f"{record['id']}.jpg", size)
        except FetchError as error:
            reasons.append(f"{url}: {error}")
            continue
        return {**record, "imageUrl": full_image(service) if service else url, "source": url, "rejected": ""}
    reason = record.get("rejected") or "; ".join(reasons) or "no image"
    return {**record, "imageUrl": "", "source": tried[0] if tried else "", "rejected": reason}


def fetch_shard(manifests: list[dict], shard: int, shards: int, fetcher: Fetcher, folder: Path,
                settings: Settings, threads: int = 8, progress: bool = True) -> list[dict]:
    """The shard's manifests read and their pictures saved into `folder`: one row per item or failure."""
    from tqdm import tqdm

    mine = [row["manifest"] for row in manifests if not row["rejected"] and shard_of(row["manifest"], shards) == shard]
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    records: list[dict] = []

    def read(reference: str) -> list[dict]:
        try:
            manifest = read_json(fetcher, reference)
        except FetchError as error:
            return [{"id": "", "manifest": reference, "source": reference, "rejected": f"manifest: {error}"}]
        if kind(manifest) != "Manifest":
            return [{"id": "", "manifest": reference, "source": reference,
                     "rejected": f"not a IIIF manifest (type {kind(manifest) or 'missing'})"}]
        return manifest_records(manifest, reference, settings)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for found in pool.map(read, mine):
            records += [record for record in found if record["id"] and not record["rejected"]]
            rows += [record for record in found if not record["id"] or record["rejected"]]
        with tqdm(total=len(records), unit="img", desc="IIIF pictures", disable=not progress, mininterval=1.0,
                  file=sys.stderr) as bar:
            for row in pool.map(lambda record: fetch_picture(record, fetcher, folder, settings.size), records):
                rows.append(row)
                bar.update()
    return rows


def record_row(record: dict) -> dict:
    row = {column: record.get(column, "") for column in RECORD_COLUMNS}
    row["subjects"] = json.dumps(record.get("subjects") or [], ensure_ascii=False)
    return row


def write_csv(path: str | os.PathLike, columns, rows) -> None:
    with atomic_path(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | os.PathLike) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def join_records(paths: list[str]) -> tuple[list[dict], list[dict], list[dict]]:
    """(items, subject rows, rejected rows) of the shards' records, items sorted by id. Of two manifests
    whose ids agree (the same last path part and hash: about never), the first shard's is kept and the
    other rejected (its picture is then removed by remove_duplicates)."""
    items: dict[str, dict] = {}
    rejected = []
    for path in paths:
        for row in read_csv(path):
            if not row.get("rejected") and row["id"] in items:
                row["rejected"] = f"the same id as {items[row['id']]['manifest']}"
                row["duplicate"] = "yes"
            if row.get("rejected"):
                rejected.append({"url": row.get("source") or row["manifest"], "manifest": row["manifest"],
                                 "id": row["id"], "reason": row["rejected"], "duplicate": row.get("duplicate", "")})
            else:
                items[row["id"]] = row
    kept = [items[key] for key in sorted(items)]
    subjects = [{"id": row["id"], "subject": subject}
                for row in kept for subject in json.loads(row["subjects"] or "[]")]
    return kept, subjects, rejected


def remove_duplicates(rejected: list[dict], folders: list[str]) -> None:
    """Delete the pictures of manifests rejected by join_records for an id another shard's manifest has: the
    images stage would find the id twice. A manifest's shard is fixed by its URL (its folder: that index)."""
    for row in rejected:
        if row.get("duplicate") and folders:
            (Path(folders[shard_of(row["manifest"], len(folders))]) / f"{row['id']}.jpg").unlink(missing_ok=True)


def remove_other_shards(folders: list[str]) -> None:
    """Delete the picture folders of an earlier number of shards beside these: the images glob would find
    their pictures twice."""
    keep = {Path(folder).resolve() for folder in folders}
    for parent in {Path(folder).resolve().parent for folder in folders}:
        for other in parent.glob("shard-*-of-*"):
            if other.is_dir() and other.resolve() not in keep:
                shutil.rmtree(other)
                print(f"removed {other}: pictures of another number of shards", file=sys.stderr)


# -- Command line ----------------------------------------------------------------------------------------------


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    step = parser.add_mutually_exclusive_group(required=True)
    step.add_argument("--list", nargs="+", metavar="SOURCE", help="manifest or collection URLs, local JSON files, "
                      "or .txt files of them (one per line)")
    step.add_argument("--fetch", metavar="MANIFESTS_CSV", help="manifests.csv of --list: fetch a shard of it")
    step.add_argument("--join", nargs="+", metavar="RECORDS_CSV", help="the shards' records: write the CSVs")
    parser.add_argument("--out", help="--list: manifests.csv; --fetch: the shard's records CSV")
    parser.add_argument("--shard", default="0/1", help="--fetch: i/N, the part of the manifests to fetch")
    parser.add_argument("--images", help="--fetch: folder for the shard's pictures (<id>.jpg)")
    parser.add_argument("--items", help="--join: items CSV (id,url,title,date,imageUrl,description,rights,...)")
    parser.add_argument("--subjects", help="--join: subjects CSV (id,subject)")
    parser.add_argument("--rejected", help="--join: the failures (url,manifest,id,reason), listing's included")
    parser.add_argument("--manifests", help="--join: manifests.csv, whose failed references are listed too")
    parser.add_argument("--image-folders", nargs="*", default=[], help="--join: the shards' picture folders; "
                        "others beside them (of another number of shards) are removed")
    parser.add_argument("--size", type=int, default=256, help="pixels on the longer side asked of image services")
    parser.add_argument("--canvases", choices=("first", "all"), default="first")
    parser.add_argument("--subject-labels", default=json.dumps(Settings.subjects), help="JSON list of metadata "
                        "labels whose values are subjects")
    parser.add_argument("--date-labels", default=json.dumps(Settings.dates), help="JSON list of metadata labels "
                        "read as the date where there is no navDate")
    parser.add_argument("--languages", default="[]", help="JSON list of language tags, preferred first")
    parser.add_argument("--depth", type=int, default=5, help="how deep nested collections are followed")
    parser.add_argument("--cache", default="cache/iiif", help="download cache, keyed by URL")
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--retries", type=int, default=4)
    parser.add_argument("--per-host", type=int, default=4, help="downloads at once from one host")
    parser.add_argument("--backoff", type=float, default=1.0, help="seconds before the first retry (doubling)")
    args = parser.parse_args(argv)
    fetcher = Fetcher(args.cache, args.timeout, args.retries, args.per_host, args.backoff)
    if args.list:
        rows = list_manifests(read_sources(args.list), fetcher, args.depth)
        found = sum(1 for row in rows if not row["rejected"])
        if not found:
            reasons = "; ".join(f"{row['manifest']}: {row['rejected']}" for row in rows[:5])
            raise PipelineError(f"source.iiif: no manifest could be read ({reasons or 'the list is empty'})")
        write_csv(args.out, ("manifest", "collection", "rejected"), rows)
        print(f"{found} manifests listed, {len(rows) - found} references failed; "
              f"{fetcher.downloaded} documents downloaded, {fetcher.reused} from the cache", file=sys.stderr)
    elif args.fetch:
        index, count = (int(part) for part in args.shard.split("/"))
        settings = Settings(args.size, args.canvases, tuple(json.loads(args.subject_labels)),
                            tuple(json.loads(args.date_labels)), tuple(json.loads(args.languages)))
        with atomic_dir(args.images) as folder:  # the shard's pictures, all new: swapped in whole when complete
            rows = fetch_shard(read_csv(args.fetch), index, count, fetcher, folder, settings,
                               threads=min(16, 4 * args.per_host))
        write_csv(args.out, RECORD_COLUMNS, map(record_row, rows))
        failed = sum(1 for row in rows if row["rejected"])
        print(f"shard {args.shard}: {len(rows) - failed} pictures, {failed} failed; {fetcher.downloaded} files "
              f"downloaded, {fetcher.reused} from the cache", file=sys.stderr)
    else:
        items, subjects, rejected = join_records(args.join)
        if args.manifests:
            rejected = [{"url": row["manifest"], "manifest": row["manifest"], "id": "", "reason": row["rejected"]}
                        for row in read_csv(args.manifests) if row["rejected"]] + rejected
        if not items:
            raise PipelineError("source.iiif: no picture could be fetched; see " + str(args.rejected))
        remove_other_shards(args.image_folders)
        remove_duplicates(rejected, args.image_folders)
        write_csv(args.items, ITEM_COLUMNS, items)
        write_csv(args.subjects, ("id", "subject"), subjects)
        write_csv(args.rejected, ("url", "manifest", "id", "reason"), rejected)
        print(f"{len(items)} items from IIIF, {len(rejected)} failures (in {args.rejected})", file=sys.stderr)
        for row in rejected[:10]:
            print(f"  {row['url']}: {row['reason']}", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
