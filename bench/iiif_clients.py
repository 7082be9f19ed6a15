"""Released IIIF viewers opening a built site's manifests: time to the first tile, failed requests, freezes.

For each client, Mirador (viewer/node_modules, the version viewer/package.json pins) and Universal Viewer
(UV_VERSION, which this script installs from the npm registry into bench/.iiif-clients/ on first use), and
each manifest, the lean `iiif/manifest.json` ("after") and `iiif/manifest-cells.json` with one annotation
per cell ("before", written with `site.annotated_manifest: true`), viewer/e2e/iiif_client.mjs serves the
site at its `site.url` (http://127.0.0.1:8080/ by default) and the client's page from a second origin,
and loads the page --runs times in headless Chromium, each in a fresh browser context (empty cache). Per
load, in ms from navigation start: the manifest in, the first image-service tile in and the first tile
drawn on OpenSeadragon's canvas; the longest main-thread task (Long Tasks API) up to --settle-ms after
that and their total; requests, and every failed one (HTTP >= 400, network and CORS errors; those of the
client's own files apart) and the console errors. Mirador is measured twice: as it opens by default
(annotation list closed) and with its annotation list open as it loads (VARIANTS).

The site: bench/scale.py's collection (its work folder /tmp/scale/<N> by default), built with both
manifests:

    python bench/scale.py --count 13000 --no-viewer --annotated-manifest
    python bench/iiif_clients.py [--site /tmp/scale/13000/results/scale13000/site] [--runs 3]
                                 [--clients mirador,uv] [--timeout-ms 60000] [--settle-ms 3000] [--json out.json]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import describe_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "viewer" / "e2e" / "iiif_client.mjs"
CLIENTS_DIR = ROOT / "bench" / ".iiif-clients"  # gitignored
UV_VERSION = "4.4.0"
MANIFESTS = {"lean (after)": "iiif/manifest.json", "annotated (before)": "iiif/manifest-cells.json"}
# Each client as it opens by default, and Mirador with its annotation list open as it loads (where it reads
# every annotation; a visitor who opens the list later waits as long then).
VARIANTS = [("mirador", "default", None),
            ("mirador", "annotation list open", {"sideBarOpen": True, "sideBarPanel": "annotations"}),
            ("uv", "default", None)]


def universal_viewer() -> Path:
    """Universal Viewer's released dist/ folder, installed with npm on first use."""
    dist = CLIENTS_DIR / "node_modules" / "universalviewer" / "dist"
    installed = CLIENTS_DIR / "node_modules" / "universalviewer" / "package.json"
    if not installed.is_file() or json.loads(installed.read_text())["version"] != UV_VERSION:
        CLIENTS_DIR.mkdir(parents=True, exist_ok=True)
        (CLIENTS_DIR / "package.json").write_text(json.dumps({"name": "iiif-clients", "private": True}) + "\n")
        print(f"installing universalviewer@{UV_VERSION} into {CLIENTS_DIR} (npm)", file=sys.stderr)
        subprocess.run(["npm", "install", "--prefix", str(CLIENTS_DIR), "--no-audit", "--no-fund", "--save-exact",
                        f"universalviewer@{UV_VERSION}"], check=True)
    return dist


def client_dirs(names: list[str]) -> dict[str, Path]:
    dirs = {}
    for name in names:
        if name == "mirador":
            dirs[name] = ROOT / "viewer" / "node_modules" / "mirador" / "dist"
            if not (dirs[name] / "mirador.min.js").is_file():
                raise SystemExit("Mirador is not in viewer/node_modules: run `make setup` (npm ci --prefix viewer)")
        elif name == "uv":
            dirs[name] = universal_viewer()
        else:
            raise SystemExit(f"unknown client {name} (mirador, uv)")
    return dirs


def measure(site: Path, client: str, folder: Path, manifest: str, options: dict | None, runs: int, timeout_ms: int,
            settle_ms: int) -> dict:
    """The driver's figures for `runs` loads of `manifest` in `client` (its JSON; it exits 1 on a problem)."""
    with tempfile.TemporaryDirectory() as temp:
        out = Path(temp) / "result.json"
        command = ["node", str(DRIVER), str(site), "--client", client, "--client-dir", str(folder),
                   "--manifest", manifest, "--runs", str(runs), "--budget-ms", "0", "--timeout-ms", str(timeout_ms),
                   "--settle-ms", str(settle_ms), "--json", str(out)]
        if options:
            command += ["--options", json.dumps(options)]
        result = subprocess.run(command, capture_output=True, text=True, env=os.environ)
        if not out.is_file():
            raise SystemExit(f"{DRIVER.name} {client} {manifest} failed:\n"
                             f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return json.loads(out.read_text())


def figures(values: list) -> str:
    """'median (a, b, c)' of ms values; a load that drew nothing shows as '-'."""
    shown = ", ".join("-" if v is None else f"{v:,.0f}" for v in values)
    present = [v for v in values if v is not None]
    if len(values) == 1 or not present:
        return shown
    return f"{statistics.median(present):,.0f} ({shown})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="/tmp/scale/13000/results/scale13000/site")
    parser.add_argument("--runs", type=int, default=3, help="loads per client and manifest, each a fresh context")
    parser.add_argument("--clients", default="mirador,uv")
    parser.add_argument("--timeout-ms", type=int, default=60000, help="how long a load may take to draw a tile")
    parser.add_argument("--settle-ms", type=int, default=3000,
                        help="how long after the first tile long tasks still count")
    parser.add_argument("--json", default=None, help="also write every load's figures here")
    args = parser.parse_args()
    site = Path(args.site)
    missing = [path for path in MANIFESTS.values() if not (site / path).is_file()]
    if missing:
        raise SystemExit(f"{site} lacks {', '.join(missing)}: build it with site.annotated_manifest: true "
                         "(python bench/scale.py --count 13000 --no-viewer --annotated-manifest)")
    if shutil.which("node") is None:
        raise SystemExit("node is needed (viewer/e2e/iiif_client.mjs)")
    items = json.loads((site / "iiif" / "manifest.json").read_text())["metadata"][0]["value"]["none"][0]
    sizes = {label: (site / path).stat().st_size for label, path in MANIFESTS.items()}
    folders = client_dirs(args.clients.split(","))
    results = []
    for client, variant, options in VARIANTS:
        if client not in folders:
            continue
        for label, manifest in MANIFESTS.items():
            result = measure(site, client, folders[client], manifest, options, args.runs, args.timeout_ms,
                             args.settle_ms)
            results.append({**result, "variant": variant, "manifestLabel": label})
            print(f"{client} ({variant}) {label}: first tile drawn at "
                  f"{[run['firstTileDrawnMs'] for run in result['runs']]} ms", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))

    chromium = results[0]["chromium"] if results else "?"
    print(f"\nMachine: {describe_machine()}, no GPU; Chromium {chromium} headless (--disable-gpu), "
          f"viewport 1400 x 900. Site: {site} ({items} pictures), served by viewer/serve.mjs on 127.0.0.1; "
          f"manifests: lean {sizes['lean (after)'] / 1e3:,.0f} kB, annotated "
          f"{sizes['annotated (before)'] / 1e6:,.1f} MB. {args.runs} loads each, fresh browser context (empty cache); "
          f"ms from navigation start, median (each load); long tasks counted until {args.settle_ms / 1000:g} s "
          "after the first tile was drawn.\n")
    print("| client | manifest | manifest in | first tile in | first tile drawn | longest task | long tasks, total "
          "| requests (tiles) | failed requests (site) | failed requests (client's own files) | console errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        runs = result["runs"]
        failed = sorted({p for run in runs for p in run["problems"]})
        own = sorted({p for run in runs for p in run["clientProblems"]})
        errors = sorted({e for run in runs for e in run["consoleErrors"]})
        print(f"| {result['client']} {result['clientVersion']} ({result['variant']}) | {result['manifestLabel']} "
              f"| {figures([run['manifestMs'] for run in runs])} "
              f"| {figures([run['firstTileResponseMs'] for run in runs])} "
              f"| {figures([run['firstTileDrawnMs'] for run in runs])} "
              f"| {figures([run['longestTaskMs'] for run in runs])} "
              f"| {figures([run['longTasksMs'] for run in runs])} "
              f"| {', '.join(str(run['requests']) + ' (' + str(run['tileRequests']) + ')' for run in runs)} "
              f"| {'; '.join(failed) or 'none'} | {'; '.join(own) or 'none'} "
              f"| {'; '.join(e[:100].replace(chr(10), ' ') for e in errors) or 'none'} |")


if __name__ == "__main__":
    main()
