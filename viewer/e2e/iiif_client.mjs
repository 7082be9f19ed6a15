#!/usr/bin/env node
/**
 * A released IIIF viewer (Mirador or Universal Viewer, as installed from npm) opening a built site's
 * manifest in headless Chromium: the test of the site's IIIF output (tests/test_viewer_e2e.py) and the
 * benchmark of IIIF clients (bench/iiif_clients.py) both run this.
 *
 *   node e2e/iiif_client.mjs <site dir> [--client mirador|uv] [--client-dir DIR] [--manifest iiif/manifest.json]
 *        [--options JSON] [--runs 1] [--budget-ms 3000] [--timeout-ms 30000] [--settle-ms 1000] [--json out.json]
 *        [--screenshot out.png]
 *
 * The site is served by serve.mjs's server (the same files and headers as `npm start`) at the address its
 * manifest's ids name (the build's `site.url`, which must be http://127.0.0.1:PORT/ or localhost), and the
 * viewer from a second origin: a small page (written here, nothing bundled) that loads the client's own
 * released bundle from --client-dir (default: viewer/node_modules/mirador/dist for Mirador; Universal
 * Viewer's dist/ must be given) and opens the manifest's URL in it, so every request for the site's files
 * is cross-origin: the manifest and info.json, which the clients fetch, need the site's CORS headers, and
 * so do the tiles where a client loads them with CORS (Universal Viewer does; Mirador does not).
 *
 * Per run (a fresh browser context, empty cache), all times in ms from navigation start: when the
 * manifest and info.json had arrived; when the first response of an image-service request (tiles/iiif/.../default.jpg)
 * had arrived, and which; when the first tile was drawn (the first frame in which one of OpenSeadragon's
 * canvases holds pixels: a canvas that a cross-origin image has tainted counts as drawn, as only a tile
 * taints it); the longest main-thread task and their total (Long Tasks API) until --settle-ms after that;
 * the number of requests and of image-service requests, and the site's other files it asked for; and
 * every problem: HTTP responses >= 400 and failed requests (CORS errors included; cancelled ones listed
 * apart, as viewers cancel tiles they no longer need; those of the client's own files apart too, as
 * clientProblems), page errors, requests to any other origin than the two served here (refused: nothing
 * leaves the machine), and console errors (reported, not failures: a viewer's own warnings are not the
 * site's).
 *
 * Exit status 1 when a run has a problem or its first tile is not drawn within --budget-ms (0: no
 * budget, only figures, as the benchmark uses it).
 */
import { createServer } from 'node:http';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VIEWER_DIR, launchBrowser, newContext } from './harness.mjs';

export const CLIENTS = {
  mirador: {
    label: 'Mirador',
    defaultDir: join(VIEWER_DIR, 'node_modules', 'mirador', 'dist'),
    bundle: 'mirador.min.js',
    packageJson: (dir) => join(dir, '..', 'package.json'),
    // options: settings of Mirador's window, e.g. {"sideBarOpen": true, "defaultSideBarPanel": "annotations"}
    page: (manifest, options) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mirador</title>
<style>html, body { margin: 0; height: 100%; } #viewer { position: absolute; inset: 0; }</style>
<script src="client/mirador.min.js"></script></head>
<body><div id="viewer"></div>
<script>Mirador.viewer({ id: 'viewer', windows: [{ ...${options}, manifestId: ${JSON.stringify(manifest).replaceAll('<', '\\u003c')} }] });</script>
</body></html>`,
  },
  uv: {
    label: 'Universal Viewer',
    defaultDir: null, // bench/iiif_clients.py installs it (bench/.iiif-clients/node_modules/universalviewer/dist)
    bundle: 'umd/UV.js',
    packageJson: (dir) => join(dir, '..', 'package.json'),
    // options: more of UV.init's data, e.g. {"canvasIndex": 0}
    page: (manifest, options) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Universal Viewer</title>
<link rel="stylesheet" href="client/uv.css">
<style>html, body { margin: 0; height: 100%; overflow: hidden; } #uv { width: 100vw; height: 100vh; }</style>
<script src="client/umd/UV.js"></script></head>
<body><div id="uv" class="uv"></div>
<script>UV.init('uv', { ...${options}, manifest: ${JSON.stringify(manifest).replaceAll('<', '\\u003c')}, embedded: true });</script>
</body></html>`,
  },
};

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.map': 'application/json; charset=utf-8', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.gif': 'image/gif', '.ico': 'image/x-icon', '.woff': 'font/woff',
  '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.wasm': 'application/wasm', '.mjs': 'text/javascript; charset=utf-8',
};

const listen = (server, port, host) => new Promise((done, fail) => {
  server.once('error', fail);
  server.listen(port, host, () => done(server));
});
const closer = (server) => () => new Promise((done) => {
  server.closeAllConnections?.();
  server.close(() => done());
});

/**
 * The client's page and its released files, from an origin of their own (a free port on 127.0.0.1):
 * `/?manifest=URL` is the page, `/client/...` the files of `dir`. Resolves to {url, close()}.
 */
export async function serveClient(name, dir) {
  const client = CLIENTS[name];
  const { resolveRequestPath } = await import(join(VIEWER_DIR, 'serve.mjs'));
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { 'Content-Type': MIME['.html'], 'Cache-Control': 'no-store' });
      let options = '{}';
      try {
        options = JSON.stringify(JSON.parse(url.searchParams.get('options') || '{}')).replaceAll('<', '\\u003c');
      } catch { /* not JSON: no options */ }
      return res.end(client.page(url.searchParams.get('manifest') || '', options));
    }
    const file = url.pathname.startsWith('/client/') && resolveRequestPath(root, url.pathname.slice('/client'.length));
    try {
      if (!file || !(await stat(file)).isFile()) throw new Error('not a file');
      res.writeHead(200, { 'Content-Type': MIME[extname(file).toLowerCase()] || 'application/octet-stream' });
      createReadStream(file).on('error', () => res.destroy()).pipe(res);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('Not found\n');
    }
  });
  await listen(server, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${server.address().port}/`, close: closer(server) };
}

/**
 * Serve siteDir with serve.mjs's server where its manifest says it is (IIIF ids are absolute): the
 * origin of the manifest's id, which must be on this machine. Resolves to {url, manifestUrl, close()}.
 */
export async function serveSiteAtItsUrl(siteDir, manifestPath = 'iiif/manifest.json') {
  const file = join(siteDir, manifestPath);
  if (!existsSync(file)) throw new Error(`${file} does not exist: was the site built with IIIF (tiles.iiif)?`);
  const manifestUrl = new URL(JSON.parse(readFileSync(file, 'utf8')).id);
  if (manifestUrl.protocol !== 'http:' || !['127.0.0.1', 'localhost'].includes(manifestUrl.hostname)) {
    throw new Error(`the manifest's id is ${manifestUrl}: build the site with site.url http://127.0.0.1:PORT/ to open it here`);
  }
  const { createSiteServer } = await import(join(VIEWER_DIR, 'serve.mjs'));
  const server = createSiteServer(resolve(siteDir));
  const port = Number(manifestUrl.port || 80);
  try {
    await listen(server, port, '127.0.0.1');
  } catch (err) {
    throw new Error(`cannot serve the site on 127.0.0.1:${port}, where its site.url puts it: ${err.message}`);
  }
  return { url: `${manifestUrl.origin}/`, manifestUrl: manifestUrl.href, close: closer(server) };
}

/** Runs in the page before its own scripts: long tasks, and the first frame with a tile on a canvas. */
function installProbe() {
  const probe = { longTasks: [], drawnAt: null, drawnHow: null, checks: 0 };
  window.__iiifProbe = probe;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) probe.longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch { /* no Long Tasks API: no freeze figures */ }
  const sample = document.createElement('canvas');
  sample.width = sample.height = 32;
  const check = () => {
    probe.checks += 1;
    for (const canvas of document.querySelectorAll('.openseadragon-canvas canvas')) {
      if (!canvas.width || !canvas.height) continue;
      const ctx = sample.getContext('2d', { willReadFrequently: true });
      ctx.clearRect(0, 0, 32, 32);
      ctx.drawImage(canvas, 0, 0, 32, 32);
      let data;
      try {
        data = ctx.getImageData(0, 0, 32, 32).data;
      } catch {
        // A tile from the image service's origin, loaded without CORS, taints the canvas it is drawn on.
        sample.width = 32; // a fresh, untainted sample canvas for later checks
        return { how: 'tainted' };
      }
      for (let k = 3; k < data.length; k += 4) if (data[k] > 0) return { how: 'pixels' };
    }
    return null;
  };
  const frame = () => {
    const drawn = check();
    if (drawn) {
      probe.drawnAt = performance.now();
      probe.drawnHow = drawn.how;
    } else requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

const TILE = /\/tiles\/iiif\/.+\/default\.(jpg|png|webp)(\?.*)?$/;

/** One load of the client page in a fresh context: the figures and problems described at the top. */
export async function openManifest(browser, { clientUrl, manifestUrl, siteUrl, options = null, timeoutMs = 30000,
  settleMs = 1000, screenshot = null } = {}) {
  const context = await newContext(browser, { acceptDownloads: false });
  await context.addInitScript(installProbe);
  const allowed = [new URL(clientUrl).origin, new URL(siteUrl).origin];
  const problems = [];
  const clientProblems = [];
  const cancelled = [];
  const consoleErrors = [];
  const requests = { all: 0, tiles: 0, firstTile: null, other: [] };
  // Nothing may leave the machine: a request elsewhere (a font, an analytics call) is refused and reported.
  await context.route((url) => !allowed.includes(url.origin), (route) => {
    problems.push(`request to another origin: ${route.request().url()}`);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('request', (r) => {
    requests.all += 1;
    if (TILE.test(r.url())) {
      requests.tiles += 1;
      requests.firstTile ??= r.url();
    } else if (r.url().startsWith(siteUrl)) requests.other.push(r.url().slice(siteUrl.length));
  });
  // A problem with the client's own files (its page's origin) is the client's, not the site's: listed apart.
  const list = (url) => (url.startsWith(clientUrl) ? clientProblems : problems);
  page.on('response', (r) => { if (r.status() >= 400) list(r.url()).push(`HTTP ${r.status()}: ${r.url()}`); });
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText || '';
    if (/ERR_BLOCKED_BY_CLIENT/.test(why) && !allowed.includes(new URL(r.url()).origin)) return; // reported above
    (/ERR_ABORTED/.test(why) ? cancelled : list(r.url())).push(`request failed: ${r.url()} (${why})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text().slice(0, 500)); });

  const query = `manifest=${encodeURIComponent(manifestUrl)}${options ? `&options=${encodeURIComponent(options)}` : ''}`;
  await page.goto(`${clientUrl}?${query}`);
  let drawn = true;
  try {
    await page.waitForFunction(() => window.__iiifProbe?.drawnAt !== null, null, { timeout: timeoutMs, polling: 100 });
  } catch {
    drawn = false;
  }
  if (drawn && settleMs) await page.waitForTimeout(settleMs);
  const figures = await page.evaluate(([manifest, tilePattern]) => {
    const probe = window.__iiifProbe;
    const tile = new RegExp(tilePattern);
    const resources = performance.getEntriesByType('resource');
    const tiles = resources.filter((e) => tile.test(e.name)).sort((a, b) => a.responseEnd - b.responseEnd);
    const manifestEntry = resources.find((e) => e.name === manifest);
    const infoEntry = resources.find((e) => /\/tiles\/iiif\/info\.json$/.test(e.name));
    const until = probe.drawnAt === null ? performance.now() : probe.drawnAt;
    const tasks = probe.longTasks;
    return {
      manifestMs: manifestEntry ? manifestEntry.responseEnd : null,
      infoJsonMs: infoEntry ? infoEntry.responseEnd : null,
      firstTileResponseMs: tiles.length ? tiles[0].responseEnd : null,
      firstTileResponse: tiles.length ? tiles[0].name : null,
      firstTileDrawnMs: probe.drawnAt,
      drawnHow: probe.drawnHow,
      longestTaskMs: tasks.length ? Math.max(...tasks.map((t) => t.duration)) : 0,
      longTasksMs: tasks.reduce((sum, t) => sum + t.duration, 0),
      longTasksBeforeTileMs: tasks.filter((t) => t.start < until).reduce((sum, t) => sum + t.duration, 0),
      longTasks: tasks.length,
      osdCanvases: document.querySelectorAll('.openseadragon-canvas canvas').length,
      measuredForMs: performance.now(),
    };
  }, [manifestUrl, TILE.source]);
  if (screenshot) await page.screenshot({ path: screenshot });
  await context.close();
  if (!drawn) problems.push(`no tile drawn within ${timeoutMs} ms`);
  return { ...figures, requests: requests.all, tileRequests: requests.tiles, firstTileRequested: requests.firstTile,
    siteRequests: requests.other, problems, clientProblems, cancelled, consoleErrors };
}

/** The version of the client's package, from the package.json beside its dist folder. */
export function clientVersion(name, dir) {
  try {
    return JSON.parse(readFileSync(CLIENTS[name].packageJson(dir), 'utf8')).version;
  } catch {
    return null;
  }
}

async function main() {
  const args = process.argv.slice(2);
  const opt = { site: null, client: 'mirador', clientDir: null, manifest: 'iiif/manifest.json', options: null, runs: 1,
    budgetMs: 3000, timeoutMs: 30000, settleMs: 1000, json: null, screenshot: null };
  const numbers = { '--runs': 'runs', '--budget-ms': 'budgetMs', '--timeout-ms': 'timeoutMs', '--settle-ms': 'settleMs' };
  const strings = { '--client': 'client', '--client-dir': 'clientDir', '--manifest': 'manifest', '--json': 'json',
    '--screenshot': 'screenshot', '--options': 'options' };
  for (let k = 0; k < args.length; k++) {
    const a = args[k];
    if (a in numbers) opt[numbers[a]] = Number(args[++k]);
    else if (a in strings) opt[strings[a]] = args[++k];
    else if (!opt.site && !a.startsWith('--')) opt.site = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!opt.site || !CLIENTS[opt.client]) {
    console.error('usage: node e2e/iiif_client.mjs <site dir> [--client mirador|uv] [--client-dir DIR] '
      + '[--manifest iiif/manifest.json] [--runs 1] [--budget-ms 3000] [--timeout-ms 30000] [--json out.json]');
    process.exit(2);
  }
  const client = CLIENTS[opt.client];
  const clientDir = opt.clientDir || client.defaultDir;
  if (!clientDir || !existsSync(join(clientDir, client.bundle))) {
    throw new Error(`${client.label}'s bundle ${client.bundle} is not in ${clientDir}: `
      + (opt.client === 'mirador' ? 'run `npm ci --prefix viewer` (make setup)' : 'give --client-dir'));
  }
  const site = await serveSiteAtItsUrl(opt.site, opt.manifest);
  const page = await serveClient(opt.client, clientDir);
  const { browser, version } = await launchBrowser();
  const runs = [];
  try {
    for (let n = 0; n < opt.runs; n++) {
      runs.push(await openManifest(browser, { clientUrl: page.url, manifestUrl: site.manifestUrl, siteUrl: site.url,
        options: opt.options, timeoutMs: opt.timeoutMs, settleMs: opt.settleMs, screenshot: n === 0 ? opt.screenshot : null }));
    }
  } finally {
    await browser.close();
    await page.close();
    await site.close();
  }
  const result = { client: opt.client, clientVersion: clientVersion(opt.client, clientDir), chromium: version,
    manifest: site.manifestUrl, options: opt.options ? JSON.parse(opt.options) : null, clientPage: page.url,
    budgetMs: opt.budgetMs, runs };
  if (opt.json) writeFileSync(opt.json, JSON.stringify(result, null, 1));
  console.log(JSON.stringify(result, null, 1));
  let failed = false;
  for (const [n, run] of runs.entries()) {
    for (const p of [...run.problems, ...run.clientProblems]) console.error(`run ${n + 1}: ${p}`);
    if (opt.budgetMs && !(run.firstTileDrawnMs <= opt.budgetMs)) {
      console.error(`run ${n + 1}: first tile drawn at ${run.firstTileDrawnMs} ms, over the budget of ${opt.budgetMs} ms`);
      failed = true;
    }
    failed ||= run.problems.length + run.clientProblems.length > 0;
  }
  console.error(failed ? 'IIIF client check FAILED' : `IIIF client check passed (${client.label})`);
  process.exit(failed ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err.stack || String(err));
    process.exit(1);
  });
}
