"""The viewer in a real browser: the whole Snakefile builds a small collection whose titles, dates and
subjects the test knows, then viewer/e2e/run.mjs drives Debian's Chromium (headless, through
playwright-core) over the served site: hover, click, filters, the subject treemap, search, deep links,
keyboard, inert catalogue text, more-like-this and CSV export; and viewer/e2e/iiif_client.mjs opens the
same site's IIIF manifest in Mirador as released on npm. `make test` installs Chromium (`make browser`);
without it these tests fail instead of skipping, so CI cannot pass without having run them.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from site_data import read_site_data

pytestmark = [pytest.mark.workflow, pytest.mark.browser]
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
XSS_TITLE = "<img src=x onerror=alert(1)>"

# Subjects by item position (0-23): any/all of two subjects and the counts are known in advance.
SUBJECTS = {
    "Animals": list(range(0, 10)),                    # 10
    "Ships, boats & harbours": list(range(8, 14)),    # 6; a comma and an ampersand for the URL hash
    "Portraits": list(range(14, 19)),                 # 5
    "Field photographs": list(range(0, 23, 2)),       # 12 (even positions up to 22)
}
# Many rare subjects besides, so that the treemap has more tiles than the viewer's old limit of 24:
# the metadata stage keeps SUBJECTS_TOP of the 44 (the rest become "Other") and the treemap must show
# exactly those. NEIGHBOURS (neighbours.count) is how many "more like this" each item shows.
FILLER_SUBJECTS = {f"Topic {j + 1:02d}": sorted({(7 * j + m) % 24 for m in range(1 + j % 3)}) for j in range(40)}
SUBJECTS_TOP = 30
NEIGHBOURS = 15  # more than the 12 the viewer once showed at most
CHUNK_SIZE = 5  # items per chunk of the site's data: 24 items make 5 chunks, so every test crosses boundaries
# A facet column (metadata.facets: values split at ";"): by position; items 21-23 have no place.
PLACES = {**{i: "Paris" for i in range(0, 6)}, **{i: "Lyon" for i in range(6, 10)}, 10: "Paris; Lyon", 11: "Lyon;Paris",
          **{i: "Nice" for i in range(12, 16)}, **{i: "Zürich" for i in range(16, 21)}}
SIZES = {i: 10 + 2.5 * i for i in range(20)}  # a number facet (kind: number); items 20-23 have none
HOTSPOTS = 4  # hotspots.count: regions of several cells, for the viewer to outline and fly to
TITLES = {
    1: "=1+1, a title that looks like a spreadsheet formula",  # CSV export guards it with a leading '
    3: 'Lighthouse on the "north" pier, at dusk',     # comma and quotes: CSV quoting
    7: XSS_TITLE,
    10: "Old lighthouse keeper's cottage",
    12: "Walrus resting on an ice floe",
    17: "Lighthouse lamp room",
}


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_collection(folder: Path, site_url: str | None = None) -> dict:
    """24 drawn pictures, an items CSV and a subjects CSV; returns what the viewer should show. `site_url`
    is the build's site.url, where the IIIF test serves the site (its IIIF ids are absolute)."""
    from conftest import draw_picture

    photos = folder / "photos"
    photos.mkdir(parents=True)
    ids = ["007", "K9045"] + [f"{1000 + i}" for i in range(2, 24)]  # text ids: leading zeros, letters
    dates = {i: str(1900 + 2 * i) for i in range(24)}  # even years 1900-1946, so ranges avoid boundaries
    dates[6] = "1912-1914"  # a range: its year is 1912
    dates[20] = "Unknown"
    dates[21] = ""
    rows = []
    for i, key in enumerate(ids):
        draw_picture(100 + i, size=(120, 96)).save(photos / f"{key}.jpg", quality=90)
        rows.append({"id": key, "url": f"https://example.org/record/{key}",
                     "title": TITLES.get(i, f"Picture {i:02d} of the test collection"), "date": dates[i],
                     "imageUrl": "", "thumbUrl": "", "place": PLACES.get(i, ""),
                     "size": f"{SIZES[i]:g}" if i in SIZES else ""})
    import pandas as pd

    pd.DataFrame(rows).to_csv(folder / "items.csv", index=False)
    subject_rows = [{"id": ids[i], "subject": name} for name, items in {**SUBJECTS, **FILLER_SUBJECTS}.items()
                    for i in items]
    pd.DataFrame(subject_rows).to_csv(folder / "subjects.csv", index=False)
    config = {"collection": {"name": "e2e", "title": "Viewer test collection", "description": "Made by the e2e test.",
                             "about": ["Made by tests/test_viewer_e2e.py."]},
              "images": "photos/*.jpg",
              "metadata": {"items": "items.csv", "subjects": "subjects.csv", "subjects_top": SUBJECTS_TOP,
                           "facets": [{"column": "place", "label": "Place", "separator": ";"},
                                      {"column": "size", "label": "Size (cm)", "kind": "number"}]},
              "hotspots": {"count": HOTSPOTS},
              "neighbours": {"count": NEIGHBOURS},
              "site": {"chunk_size": CHUNK_SIZE, **({"url": site_url} if site_url else {})},
              "features": {"pca": 8, "cache": "cache"}, "embedding": {"iterations": 250}, "jobs": 2}
    (folder / "e2e.yaml").write_text(yaml.safe_dump(config))
    expected = {
        "ids": ids,
        "titles": [row["title"] for row in rows],
        "xssId": ids[7],
        "subjects": {name: sorted(ids[i] for i in items) for name, items in SUBJECTS.items()},
        "subjectTiles": SUBJECTS_TOP,  # the top subjects; "Other" is no tile
        "neighbours": NEIGHBOURS,
        "search": {"one": {"text": "walrus", "ids": [ids[12]]},
                   "many": {"text": "lighthouse", "ids": sorted(ids[i] for i in (3, 10, 17))}},
        # from/to between the years present, so inclusive and exclusive ends agree
        "years": {"from": 1905, "to": 1913, "ids": sorted(ids[i] for i in (3, 4, 5, 6))},
        # from/to on years present: both ends are inclusive (1912 is the start of item 6's 1912-1914)
        "yearsInclusive": {"from": 1906, "to": 1912, "ids": sorted(ids[i] for i in (3, 4, 5, 6))},
        # the place facet: each value's items (10 and 11 have two places)
        "facet": {"name": "place", "label": "Place",
                  "values": {place: sorted(ids[i] for i, text in PLACES.items()
                                           if place in text.replace(" ", "").split(";"))
                             for place in ("Paris", "Lyon", "Nice", "Zürich")}},
        # the size facet: a range with both ends on values present (both are included)
        "numberFacet": {"name": "size-cm", "label": "Size (cm)", "from": 20, "to": 40,
                        "ids": sorted(ids[i] for i, size in SIZES.items() if 20 <= size <= 40),
                        "sizes": {ids[i]: SIZES.get(i) for i in range(len(ids))}},
        "hotspots": HOTSPOTS,
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=1))
    return expected


def run_workflow(folder: Path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(folder),
                             "--cores", "2", "--configfile", str(folder / "e2e.yaml")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder / "results" / "e2e" / "site"


@pytest.fixture(scope="module")
def browser_ready(node_available):
    if chromium_path() is None:
        pytest.fail("Chromium is needed for the viewer's browser tests: run `make browser` "
                    "(apt-get install chromium), or set CHROMIUM_PATH")
    if not (ROOT / "viewer" / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is not installed in viewer/node_modules: run `make setup`")
    return chromium_path()


@pytest.fixture(scope="module")
def e2e_site(tmp_path_factory, browser_ready):
    folder = tmp_path_factory.mktemp("viewer-e2e")
    # A port free now, for test_iiif_manifest_in_mirador to serve the site where its IIIF ids point.
    make_collection(folder, site_url=f"http://127.0.0.1:{free_port()}/")
    return run_workflow(folder), folder / "expected.json"


def test_viewer_in_a_real_browser(e2e_site, browser_ready, capsys):
    site, expected = e2e_site
    items = read_site_data(site)
    assert json.loads((site / "data" / "collection.json").read_text())["items"]["chunks"] == 5
    assert items["title"][items["id"].index(json.loads(expected.read_text())["xssId"])] == XSS_TITLE
    assert len(items["subjectNames"]) == SUBJECTS_TOP + 1 and items["subjectNames"][-1] == "Other"
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "viewer.png"
    screenshot.unlink(missing_ok=True)  # a picture left by an earlier run must not pass for this run's
    env = {**os.environ, "CHROMIUM_PATH": browser_ready}
    result = subprocess.run(["node", str(ROOT / "viewer" / "e2e" / "run.mjs"), str(site), "--expected", str(expected),
                             "--artifacts", str(ARTIFACTS)],
                            capture_output=True, text=True, env=env, timeout=600)
    output = result.stdout + result.stderr
    print(output[-20000:])
    assert result.returncode == 0, "viewer e2e failed:\n" + output[-12000:]
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000
    with capsys.disabled():
        print(f"\nscreenshot of the loaded viewer: {screenshot}")


FIRST_TILE_MS = 3000  # navigation to the first IIIF tile drawn in Mirador


def test_iiif_manifest_in_mirador(e2e_site, browser_ready, capsys):
    """The lean manifest in Mirador as released on npm (viewer/package.json pins it; its own UMD bundle on a
    page of the driver's, nothing bundled here): viewer/e2e/iiif_client.mjs serves the site at its site.url
    with serve.mjs and Mirador's page from another origin (so the manifest and info.json need the site's
    CORS headers), and fails when a request fails (HTTP >= 400, a network or CORS error, a request off
    this machine), the page throws, or no tile of the image service is drawn within FIRST_TILE_MS of
    navigation."""
    site, _ = e2e_site
    pinned = json.loads((ROOT / "viewer" / "package.json").read_text())["devDependencies"]["mirador"]
    if not (ROOT / "viewer" / "node_modules" / "mirador" / "dist" / "mirador.min.js").is_file():
        pytest.fail("Mirador is not installed in viewer/node_modules: run `make setup` (npm ci --prefix viewer)")
    manifest = json.loads((site / "iiif" / "manifest.json").read_text())
    service = manifest["items"][0]["items"][0]["items"][0]["body"]["service"][0]["id"]
    assert "annotations" not in manifest["items"][0]  # the lean manifest
    ARTIFACTS.mkdir(exist_ok=True)
    figures, screenshot = ARTIFACTS / "iiif-mirador.json", ARTIFACTS / "iiif-mirador.png"
    for stale in (figures, screenshot):
        stale.unlink(missing_ok=True)
    env = {**os.environ, "CHROMIUM_PATH": browser_ready}
    driver = ROOT / "viewer" / "e2e" / "iiif_client.mjs"
    result = subprocess.run(["node", str(driver), str(site), "--client", "mirador", "--budget-ms", str(FIRST_TILE_MS),
                             "--json", str(figures), "--screenshot", str(screenshot)],
                            capture_output=True, text=True, env=env, timeout=300)
    output = result.stdout + result.stderr
    print(output[-12000:])
    assert result.returncode == 0, "the manifest in Mirador failed:\n" + output[-12000:]
    report = json.loads(figures.read_text())
    assert report["clientVersion"] == pinned and report["manifest"] == manifest["id"]
    run = report["runs"][0]
    assert run["problems"] == [] and run["clientProblems"] == []
    assert run["siteRequests"][0] == "iiif/manifest.json"
    assert run["firstTileResponse"].startswith(service + "/")  # a tile of the manifest's own image service
    assert run["firstTileDrawnMs"] <= FIRST_TILE_MS
    with capsys.disabled():
        print(f"\nMirador {pinned}: first IIIF tile drawn {run['firstTileDrawnMs']:.0f} ms after navigation "
              f"({run['tileRequests']} tile requests, none failed); screenshot: {screenshot}")
