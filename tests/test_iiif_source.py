"""Collections read from IIIF (scripts/iiif_source.py) against a server on 127.0.0.1 that the tests start:
Presentation 2.1 and 3 manifests and collections with language maps, a nested collection and a loop, image
services at levels 0 (listed sizes only), 1 and 2, a canvas with no service, and the faults of real servers:
a 404, a 500 that mends on retry, a 429 with Retry-After, an answer slower than the timeout, a truncated body.
"""
import csv
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

import iiif_source
from conftest import draw_picture
from iiif_source import Fetcher, Service, Settings

SIZE = 64
RIGHTS = "http://creativecommons.org/publicdomain/mark/1.0/"


def jpeg(seed: int, size=(160, 120)) -> bytes:
    buffer = io.BytesIO()
    draw_picture(seed, size).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class Server:
    """A IIIF publisher on 127.0.0.1: documents and pictures by path, and faults by picture name."""

    def __init__(self):
        self.routes: dict[str, tuple[int, dict, bytes]] = {}
        self.hits: list[tuple[float, str]] = []
        self.faults_left: dict[str, int] = {}
        self.agents: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.hits.append((time.monotonic(), self.path))
                server.agents.add(self.headers.get("User-Agent", ""))
                server.answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def document(self, path: str, document: dict):
        self.routes[path] = (200, {"Content-Type": "application/json"}, json.dumps(document).encode())

    def picture(self, path: str, seed: int):
        self.routes[path] = (200, {"Content-Type": "image/jpeg"}, jpeg(seed))

    def count(self, path: str) -> int:
        return sum(1 for _, hit in self.hits if hit == path)

    def answer(self, handler):
        path = handler.path
        if path.startswith("/img/busy/") and self.faults_left.get("busy", 0) > 0:
            self.faults_left["busy"] -= 1
            return self.send(handler, 429, {"Retry-After": "1"}, b"slow down")
        if path.startswith("/img/flaky/") and self.faults_left.get("flaky", 0) > 0:
            self.faults_left["flaky"] -= 1
            return self.send(handler, 500, {}, b"oops")
        if path.startswith("/img/slow/"):
            time.sleep(1.5)
        if path.startswith("/img/truncated/"):
            handler.send_response(200)
            handler.send_header("Content-Type", "image/jpeg")
            handler.send_header("Content-Length", "5000")
            handler.end_headers()
            handler.wfile.write(jpeg(9)[:1000])
            handler.wfile.flush()
            handler.close_connection = True
            return
        status, headers, body = self.routes.get(path, (404, {}, b"not found"))
        self.send(handler, status, headers, body)

    @staticmethod
    def send(handler, status, headers, body):
        try:
            handler.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (the slow picture)
            pass


def v3_manifest(base, name, label, service=None, body=None, thumbnail=None, canvases=1, **fields):
    items = []
    for number in range(1, canvases + 1):
        image = {"id": body or f"{base}/img/{name}/full/max/0/default.jpg", "type": "Image", "format": "image/jpeg"}
        if service:
            image["service"] = [service]
        items.append({"id": f"{base}/{name}/canvas/{number}", "type": "Canvas", "width": 1600, "height": 1200,
                      "label": {"none": [f"p. {number}"]},
                      "items": [{"id": f"{base}/{name}/page/{number}", "type": "AnnotationPage", "items": [
                          {"id": f"{base}/{name}/annotation/{number}", "type": "Annotation", "motivation": "painting",
                           "target": f"{base}/{name}/canvas/{number}", "body": image}]}]})
    manifest = {"@context": "http://iiif.io/api/presentation/3/context.json", "id": f"{base}/{name}/manifest.json",
                "type": "Manifest", "label": label, "items": items, **fields}
    if thumbnail:
        manifest["thumbnail"] = [{"id": thumbnail, "type": "Image"}]
    return manifest


def level2(base, name):
    return {"id": f"{base}/img/{name}", "type": "ImageService3", "profile": "level2"}


def publish_fixtures(server: Server) -> None:
    """The fixture collection: a v3 collection of v3 manifests and a nested collection (v2 manifests, a loop)."""
    base = server.base
    manifests = {
        "whale": v3_manifest(
            base, "whale", {"fr": ["Baleine"], "en": ["Whale on the <i>beach</i>"]}, level2(base, "whale"),
            canvases=2, navDate="1899-03-04T00:00:00Z",
            summary={"en": ["<p>A whale &amp; its calf.</p>"]},
            metadata=[{"label": {"en": ["Subject"]}, "value": {"none": ["Whales", "Beaches"]}},
                      {"label": {"en": ["Date"]}, "value": {"en": ["1897"]}}],
            requiredStatement={"label": {"en": ["Attribution"]},
                               "value": {"en": ["<span>Courtesy of the <b>Library</b></span>"]}},
            rights=RIGHTS, homepage=[{"id": "https://example.org/whale", "type": "Text"}]),
        "listed": v3_manifest(base, "listed", {"none": ["Only listed sizes"]},
                              {"id": f"{base}/img/listed", "type": "ImageService3", "profile": "level0"},
                              metadata=[{"label": {"en": ["Keywords"]}, "value": {"en": ["Maps | Charts"]}},
                                        {"label": {"en": ["Created"]}, "value": {"en": ["ca. 1920"]}}]),
        "plain": v3_manifest(base, "plain", {"en": ["No service, a missing body, a thumbnail"]},
                             body=f"{base}/plain/missing.jpg", thumbnail=f"{base}/thumbs/plain.jpg"),
        "gone": v3_manifest(base, "gone", {"en": ["Its picture is gone"]}, level2(base, "gone")),
        "flaky": v3_manifest(base, "flaky", {"en": ["A 500 first"]}, level2(base, "flaky")),
        "busy": v3_manifest(base, "busy", {"en": ["A 429 first"]}, level2(base, "busy")),
        "slow": v3_manifest(base, "slow", {"en": ["Slower than the timeout"]}, level2(base, "slow")),
        "truncated": v3_manifest(base, "truncated", {"en": ["A truncated body"]}, level2(base, "truncated")),
    }
    for name, manifest in manifests.items():
        server.document(f"/{name}/manifest.json", manifest)
    for seed, name in enumerate(("whale", "flaky", "busy")):
        server.picture(f"/img/{name}/full/!{SIZE},{SIZE}/0/default.jpg", seed)
    server.document("/img/listed/info.json", {
        "@context": "http://iiif.io/api/image/3/context.json", "id": f"{base}/img/listed", "type": "ImageService3",
        "protocol": "http://iiif.io/api/image", "profile": "level0", "width": 1000, "height": 800,
        "sizes": [{"width": 50, "height": 40}, {"width": 100, "height": 80}, {"width": 1000, "height": 800}]})
    server.picture("/img/listed/full/100,80/0/default.jpg", 3)  # level 0: nothing but the listed sizes
    server.picture("/thumbs/plain.jpg", 4)
    # Presentation 2.1: a level 1 service whose size is in its info.json, text with @language, a related page.
    server.document("/v2/ship.json", {
        "@context": "http://iiif.io/api/presentation/2/context.json", "@id": f"{base}/v2/ship.json",
        "@type": "sc:Manifest",
        "label": [{"@value": "Schiff", "@language": "de"}, {"@value": "Ship", "@language": "en"}],
        "description": "A <b>three</b>-master.", "attribution": "Library of Ships", "license": RIGHTS,
        "related": {"@id": "https://example.org/ship", "format": "text/html"},
        "metadata": [{"label": "Subject", "value": "Ships; Harbours"}, {"label": "Date", "value": "ca. 1905"}],
        "sequences": [{"@type": "sc:Sequence", "canvases": [{
            "@id": f"{base}/v2/ship/canvas/1", "@type": "sc:Canvas", "width": 640, "height": 480,
            "images": [{"@type": "oa:Annotation", "motivation": "sc:painting", "resource": {
                "@id": f"{base}/img2/ship/full/full/0/default.jpg", "@type": "dctypes:Image",
                "service": {"@context": "http://iiif.io/api/image/2/context.json", "@id": f"{base}/img2/ship",
                            "profile": "http://iiif.io/api/image/2/level1.json"}}}]}]}]})
    server.document("/img2/ship/info.json", {"@context": "http://iiif.io/api/image/2/context.json",
                                             "@id": f"{base}/img2/ship", "protocol": "http://iiif.io/api/image",
                                             "width": 640, "height": 480,
                                             "profile": ["http://iiif.io/api/image/2/level1.json"]})
    server.picture(f"/img2/ship/full/{SIZE},/0/default.jpg", 5)
    server.document("/v2/nested.json", {
        "@context": "http://iiif.io/api/presentation/2/context.json", "@id": f"{base}/v2/nested.json",
        "@type": "sc:Collection", "label": "Nested",
        "manifests": [{"@id": f"{base}/v2/ship.json", "@type": "sc:Manifest"},
                      {"@id": f"{base}/missing/manifest.json", "@type": "sc:Manifest"}],
        "collections": [{"@id": f"{base}/collection.json", "@type": "sc:Collection"}]})  # a loop
    server.document("/collection.json", {
        "@context": "http://iiif.io/api/presentation/3/context.json", "id": f"{base}/collection.json",
        "type": "Collection", "label": {"en": ["Fixtures"]},
        "items": [*({"id": f"{base}/{name}/manifest.json", "type": "Manifest", "label": manifest["label"]}
                    for name, manifest in manifests.items()),
                  {"id": f"{base}/v2/nested.json", "type": "Collection", "label": {"en": ["Nested"]}}]})
    server.faults_left.update(flaky=1, busy=1)


@pytest.fixture(scope="module")
def server():
    server = Server()
    publish_fixtures(server)
    yield server
    server.httpd.shutdown()


def test_the_presentation_3_fixtures_are_valid_for_the_iiif_communitys_model(server):
    from iiif_prezi3 import Collection, Manifest

    checked = 0
    for _, headers, body in server.routes.values():
        document = json.loads(body) if headers.get("Content-Type") == "application/json" else {}
        if "presentation/3" in json.dumps(document.get("@context", "")):
            (Collection if document["type"] == "Collection" else Manifest).model_validate(document)
            checked += 1
    assert checked == 9  # the collection and its eight v3 manifests


def fetcher(tmp_path, **options) -> Fetcher:
    return Fetcher(tmp_path / "cache", **{"timeout": 0.5, "retries": 2, "backoff": 0.05, **options})


def test_language_maps_and_v2_values_are_read_in_the_preferred_language():
    label = {"fr": ["Baleine"], "en": ["Whale"], "none": ["W"]}
    assert iiif_source.values(label, ("en",)) == ["Whale"]
    assert iiif_source.values(label, ("de",)) == ["W"]  # no German: values of no language
    assert iiif_source.values({"fr": ["Baleine"]}, ("en",)) == ["Baleine"]  # then any
    tagged = [{"@value": "Schiff", "@language": "de"}, {"@value": "Ship", "@language": "en"}]
    assert iiif_source.text(tagged, ("en",)) == "Ship" and iiif_source.text(tagged, ("de",)) == "Schiff"
    assert iiif_source.text(["a", "b"]) == "a; b" and iiif_source.text("plain") == "plain"
    assert iiif_source.plain("<p>A &amp; <b>B</b></p><p>C</p>") == "A & B C"
    # Presentation 3: HTML only when the whole value is an element; a label never; 2.1 values: any tag.
    assert iiif_source.plain("x <b>y</b> &amp;") == "x <b>y</b> &amp;"
    assert iiif_source.plain("<b>y</b>", "none") == "<b>y</b>"
    assert iiif_source.plain("x <b>y</b> &amp;", "tags") == "x y &"
    assert iiif_source.text([{"@value": "Ship"}, {"@value": "Schiff", "@language": "de"}], ("en",)) == "Ship"


def test_ids_are_file_name_safe_stable_and_distinct():
    first = iiif_source.item_id("https://example.org/iiif/b1234/manifest.json")
    assert first == iiif_source.item_id("https://example.org/iiif/b1234/manifest.json")
    assert first.startswith("b1234-") and len(first) == len("b1234-") + 10
    assert first != iiif_source.item_id("https://other.org/iiif/b1234/manifest.json")
    odd = iiif_source.item_id("https://example.org/objects/Ä b?c=1/ü.json")
    assert odd.replace("-", "").replace("_", "").isalnum() and odd.isascii()
    assert iiif_source.item_id("https://example.org/m/manifest", 3).endswith("-3")


def test_image_requests_follow_the_service_level():
    assert iiif_source.service_request(Service("s", 3, 2), 256) == "s/full/!256,256/0/default.jpg"
    assert iiif_source.service_request(Service("s", 3, 2, 200, 100), 256) == "s/full/max/0/default.jpg"
    assert iiif_source.service_request(Service("s", 2, 1, 640, 480), 256) == "s/full/256,/0/default.jpg"
    assert iiif_source.service_request(Service("s", 2, 1, 480, 640), 256) == "s/full/,256/0/default.jpg"
    assert iiif_source.service_request(Service("s", 2, 1, 100, 80), 256) == "s/full/full/0/default.jpg"
    sizes = [(100, 80), (300, 240), (1000, 800)]
    assert iiif_source.service_request(Service("s", 3, 0, sizes=sizes), 256) == "s/full/300,240/0/default.jpg"
    assert iiif_source.service_request(Service("s", 2, 0, sizes=sizes), 256) == "s/full/300,/0/default.jpg"
    assert iiif_source.service_request(Service("s", 3, 0, sizes=[(100, 80)]), 256) == "s/full/100,80/0/default.jpg"
    assert iiif_source.service_request(Service("s", 3, 0), 256) is None  # nothing listed: fall back
    assert iiif_source.service_request(Service("s", 2, None), 256) is None
    assert iiif_source.read_service({"@id": "https://x.org/s/info.json", "profile": "level1"}).id == "https://x.org/s"


def test_retry_after_in_seconds_or_as_a_date():
    assert iiif_source.retry_after("7") == 7
    assert iiif_source.retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == pytest.approx(10)
    assert iiif_source.retry_after(None) is None and iiif_source.retry_after("soon") is None


def test_collections_are_followed_once_with_loops_and_depth_reported(server, tmp_path):
    rows = iiif_source.list_manifests([f"{server.base}/collection.json"], fetcher(tmp_path))
    found = [row["manifest"] for row in rows if not row["rejected"]]
    assert found == [f"{server.base}/{name}/manifest.json" for name in
                     ("whale", "listed", "plain", "gone", "flaky", "busy", "slow", "truncated")] + [
        f"{server.base}/v2/ship.json", f"{server.base}/missing/manifest.json"]
    loops = [row for row in rows if "loop" in row["rejected"]]
    assert [row["manifest"] for row in loops] == [f"{server.base}/collection.json"]
    shallow = iiif_source.list_manifests([f"{server.base}/collection.json"], fetcher(tmp_path), depth=1)
    assert [row["rejected"] for row in shallow if row["manifest"].endswith("nested.json")] == [
        "a collection nested deeper than source.depth (1)"]
    broken = iiif_source.list_manifests([f"{server.base}/nowhere.json", str(tmp_path / "none.json")],
                                        fetcher(tmp_path))
    assert [row["rejected"] for row in broken] == ["HTTP 404", f"no such file: {tmp_path / 'none.json'}"]


def test_a_paged_collection_is_read_page_by_page(server, tmp_path):
    """Presentation 2.1 pages a large collection: `first`, then each page's `next`."""
    base = server.base
    server.document("/paged.json", {"@context": "http://iiif.io/api/presentation/2/context.json",
                                    "@id": f"{base}/paged.json", "@type": "sc:Collection", "total": 3,
                                    "first": f"{base}/paged-1.json"})
    server.document("/paged-1.json", {"@id": f"{base}/paged-1.json", "@type": "sc:Collection",
                                      "manifests": [{"@id": f"{base}/whale/manifest.json", "@type": "sc:Manifest"}],
                                      "next": f"{base}/paged-2.json"})
    server.document("/paged-2.json", {"@id": f"{base}/paged-2.json", "@type": "sc:Collection",
                                      "manifests": [{"@id": f"{base}/v2/ship.json", "@type": "sc:Manifest"}],
                                      "next": f"{base}/paged-3.json"})
    rows = iiif_source.list_manifests([f"{base}/paged.json"], fetcher(tmp_path))
    assert [(row["manifest"], row["rejected"]) for row in rows] == [
        (f"{base}/whale/manifest.json", ""), (f"{base}/v2/ship.json", ""),
        (f"{base}/paged-3.json", "collection page: HTTP 404")]


def test_a_fetch_gets_every_picture_it_can_and_reports_each_failure(server, tmp_path):
    manifests = iiif_source.list_manifests([f"{server.base}/collection.json"], fetcher(tmp_path))
    folder = tmp_path / "pictures"
    started = len(server.hits)
    rows = iiif_source.fetch_shard(manifests, 0, 1, fetcher(tmp_path), folder, Settings(size=SIZE, languages=("en",)),
                                   progress=False)
    by_name = {row["manifest"].split("/")[-2] if "/v2/" not in row["manifest"] else "ship": row for row in rows}
    ok = sorted(name for name, row in by_name.items() if not row["rejected"])
    assert ok == ["busy", "flaky", "listed", "plain", "ship", "whale"]
    for name in ok:
        with Image.open(folder / f"{by_name[name]['id']}.jpg") as picture:
            picture.load()
    reasons = {name: row["rejected"] for name, row in by_name.items() if row["rejected"]}
    assert reasons["gone"] == (f"{server.base}/img/gone/full/!{SIZE},{SIZE}/0/default.jpg: HTTP 404; "  # the service,
                               f"{server.base}/img/gone/full/max/0/default.jpg: HTTP 404")  # then the body
    assert "no answer within 0.5 s (after 3 tries)" in reasons["slow"]
    assert "truncated" in reasons["truncated"] and "(after 3 tries)" in reasons["truncated"]
    assert reasons["missing"] == "manifest: HTTP 404"
    assert by_name["gone"]["source"] == f"{server.base}/img/gone/full/!{SIZE},{SIZE}/0/default.jpg"
    assert not list(folder.glob(".*")), "a partial download was left in the pictures' folder"
    assert {agent.split(" (")[0] for agent in server.agents} == {"image-collection-workflow/0.1"}
    # The 429 was waited out as Retry-After asked; the 500 mended on the second try.
    busy = [when for when, path in server.hits[started:] if path.startswith("/img/busy/")]
    assert len(busy) == 2 and busy[1] - busy[0] >= 0.9
    assert sum(1 for _, path in server.hits[started:] if path.startswith("/img/flaky/")) == 2
    # Level 0: the listed size nearest above 64 px, from its info.json; level 1 (v2): a width.
    assert server.count("/img/listed/full/100,80/0/default.jpg") == 1
    assert server.count(f"/img2/ship/full/{SIZE},/0/default.jpg") == 1
    assert by_name["plain"]["source"] == f"{server.base}/thumbs/plain.jpg"  # the body is missing: the thumbnail
    # The catalogue fields, language maps read in English.
    whale, ship, listed = by_name["whale"], by_name["ship"], by_name["listed"]
    assert whale["title"] == "Whale on the <i>beach</i>" and whale["date"] == "1899-03-04"  # a label is never HTML
    assert whale["subjects"] == ["Whales", "Beaches"] and whale["description"] == "A whale & its calf."
    assert whale["rights"] == f"Courtesy of the Library {RIGHTS}" and whale["url"] == "https://example.org/whale"
    assert whale["imageUrl"] == f"{server.base}/img/whale/full/max/0/default.jpg"
    assert ship["title"] == "Ship" and ship["date"] == "ca. 1905" and ship["subjects"] == ["Ships", "Harbours"]
    assert ship["rights"] == f"Library of Ships {RIGHTS}" and ship["url"] == "https://example.org/ship"
    assert ship["description"] == "A three-master."  # 2.1: HTML anywhere in a description
    assert ship["imageUrl"] == f"{server.base}/img2/ship/full/full/0/default.jpg"
    assert listed["subjects"] == ["Maps", "Charts"] and listed["date"] == "ca. 1920"
    assert listed["imageUrl"] == f"{server.base}/img/listed/full/1000,800/0/default.jpg"
    # A rerun downloads nothing it has: the pictures and documents come from the cache.
    again = fetcher(tmp_path, retries=0)
    before = len(server.hits)
    iiif_source.fetch_shard(manifests, 0, 1, again, tmp_path / "again", Settings(size=SIZE), progress=False)
    fetched_again = {path for _, path in server.hits[before:]}
    failed = {f"/img/{name}/full/{size}/0/default.jpg" for name in ("gone", "slow", "truncated")
              for size in ("!64,64", "max")}
    assert fetched_again <= failed | {"/missing/manifest.json", "/plain/missing.jpg"}, fetched_again
    assert again.reused >= 8


def test_every_canvas_as_its_own_item(server, tmp_path):
    manifests = [{"manifest": f"{server.base}/whale/manifest.json", "collection": "", "rejected": ""}]
    rows = iiif_source.fetch_shard(manifests, 0, 1, fetcher(tmp_path), tmp_path / "p",
                                   Settings(size=SIZE, canvases="all", languages=("en",)), progress=False)
    first = iiif_source.item_id(f"{server.base}/whale/manifest.json")
    assert sorted(row["id"] for row in rows) == [f"{first}-1", f"{first}-2"]
    assert {row["title"] for row in rows} == {"Whale on the <i>beach</i> (p. 1)", "Whale on the <i>beach</i> (p. 2)"}


def test_the_three_steps_write_the_csvs_the_metadata_stage_reads(server, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"# our manifests\n{server.base}/whale/manifest.json\n\n{server.base}/v2/ship.json\n"
                       f"{server.base}/gone/manifest.json\n{server.base}/nowhere.json\n")
    common = ["--cache", str(tmp_path / "cache"), "--timeout", "0.5", "--retries", "1", "--backoff", "0.05"]
    iiif_source.main(["--list", str(listing), "--out", str(tmp_path / "manifests.csv"), *common])
    stale = tmp_path / "images" / "shard-0-of-3"
    stale.mkdir(parents=True)
    folders = []
    for shard in range(2):
        folders.append(str(tmp_path / "images" / f"shard-{shard}-of-2"))
        iiif_source.main(["--fetch", str(tmp_path / "manifests.csv"), "--shard", f"{shard}/2", "--images", folders[-1],
                          "--out", str(tmp_path / f"records-{shard}.csv"), "--size", str(SIZE),
                          "--languages", '["en"]', *common])
    iiif_source.main(["--join", str(tmp_path / "records-0.csv"), str(tmp_path / "records-1.csv"),
                      "--manifests", str(tmp_path / "manifests.csv"), "--image-folders", *folders,
                      "--items", str(tmp_path / "items.csv"), "--subjects", str(tmp_path / "subjects.csv"),
                      "--rejected", str(tmp_path / "rejected.csv")])
    items = list(csv.DictReader(open(tmp_path / "items.csv", encoding="utf-8")))
    assert sorted(item["title"] for item in items) == ["Ship", "Whale on the <i>beach</i>"]
    pictures = sorted(path.stem for path in (tmp_path / "images").glob("*/*.jpg"))
    assert pictures == sorted(item["id"] for item in items)
    assert not stale.exists()
    subjects = list(csv.DictReader(open(tmp_path / "subjects.csv", encoding="utf-8")))
    assert sorted(row["subject"] for row in subjects) == ["Beaches", "Harbours", "Ships", "Whales"]
    rejected = {row["url"]: row["reason"] for row in csv.DictReader(open(tmp_path / "rejected.csv", encoding="utf-8"))}
    gone = f"{server.base}/img/gone/full/!64,64/0/default.jpg"
    assert sorted(rejected) == sorted([f"{server.base}/nowhere.json", gone])
    assert rejected[f"{server.base}/nowhere.json"] == "HTTP 404" and rejected[gone].startswith(f"{gone}: HTTP 404")


def test_two_manifests_with_one_id_keep_the_first_and_report_the_other(tmp_path):
    """Ids agree only if the last path part and 10 hex digits of the hash do: about never, but then the first
    shard's manifest keeps the id, the other is rejected and its picture removed (the images stage would
    otherwise find the id twice)."""
    folders = [tmp_path / "shard-0-of-2", tmp_path / "shard-1-of-2"]
    manifests = ["https://a.org/x/manifest.json", "https://b.org/x/manifest.json"]
    paths = []
    for number, manifest in enumerate(manifests):
        shard = iiif_source.shard_of(manifest, 2)
        folders[shard].mkdir(exist_ok=True)
        (folders[shard] / "x-1.jpg").write_bytes(jpeg(number))
        paths.append(tmp_path / f"records-{number}.csv")
        iiif_source.write_csv(paths[-1], iiif_source.RECORD_COLUMNS, [iiif_source.record_row(
            {"id": "x-1", "title": f"from {manifest}", "manifest": manifest, "subjects": [f"S{number}"]})])
    if iiif_source.shard_of(manifests[0], 2) == iiif_source.shard_of(manifests[1], 2):
        pytest.skip("both manifests hash to one shard")  # not so for these two URLs; kept honest if it changes
    items, subjects, rejected = iiif_source.join_records([str(path) for path in paths])
    assert [item["title"] for item in items] == [f"from {manifests[0]}"]
    assert subjects == [{"id": "x-1", "subject": "S0"}]
    assert [row["reason"] for row in rejected] == [f"the same id as {manifests[0]}"]
    iiif_source.remove_duplicates(rejected, [str(folder) for folder in folders])
    assert (folders[iiif_source.shard_of(manifests[0], 2)] / "x-1.jpg").exists()
    assert not (folders[iiif_source.shard_of(manifests[1], 2)] / "x-1.jpg").exists()
