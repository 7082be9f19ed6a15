/**
 * Shared set-up of the browser tests and the performance benchmark: find Debian's Chromium, serve a
 * built site with serve.mjs on a free port, launch Chromium headless through playwright-core (which
 * downloads no browser), and open pages that record every console error, page error, failed request,
 * HTTP error and dialog.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const VIEWER_DIR = resolve(here, '..');

/** Path of the Chromium binary: $CHROMIUM_PATH, else chromium / chromium-browser on PATH. */
export function findChromium() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      candidates.push(execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim());
    } catch { /* not on PATH */ }
  }
  const found = candidates.find((p) => p && existsSync(p));
  if (!found) {
    throw new Error('Chromium not found: run `make browser` (apt-get install chromium) or set CHROMIUM_PATH');
  }
  return found;
}

export async function loadPlaywright() {
  try {
    return await import('playwright-core');
  } catch (err) {
    throw new Error(`playwright-core is not installed (${err.message}): run \`npm ci --prefix viewer\` or \`make setup\``);
  }
}

/**
 * Headless Chromium through playwright-core. Playwright gives the browser a fresh temporary
 * --user-data-dir and each context a clean profile; the flags work as root and reach nothing outside.
 */
export async function launchBrowser() {
  const { chromium } = await loadPlaywright();
  const executablePath = findChromium();
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', '--enable-precise-memory-info'],
  });
  return { browser, version: browser.version(), executablePath };
}

/** A fresh browser context (own storage) sized like a laptop screen, downloads allowed. */
export function newContext(browser, options = {}) {
  return browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true, ...options });
}

/**
 * Serve siteDir with the viewer's own server (serve.mjs's createSiteServer: same files, headers and CSP as
 * `npm start`) on a free port, in this process, so it can never outlive the tests; resolves to {url, close()}.
 */
export async function serveSite(siteDir) {
  const { createSiteServer } = await import(join(VIEWER_DIR, 'serve.mjs'));
  const server = createSiteServer(resolve(siteDir));
  await new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((done) => {
      server.closeAllConnections?.();
      server.close(() => done());
    }),
  };
}

/**
 * A new page that records problems: console errors, uncaught page errors, failed requests,
 * HTTP responses >= 400 and any dialog (alert/confirm/prompt, dismissed at once).
 */
export async function openPage(context) {
  const page = await context.newPage();
  const problems = [];
  const dialogs = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText || '';
    // Cancelled, not failed: tiles OpenSeadragon no longer needs, requests cut by a reload, downloads.
    // (A missing file is a response >= 400, caught below.)
    if (/ERR_ABORTED/.test(why)) return;
    problems.push(`request failed: ${r.url()} (${why})`);
  });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  page.on('dialog', (d) => { dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  return { page, problems, dialogs };
}

/** Wait until the mosaic is on screen and the item columns are in (filters, search, hover work). */
export async function waitForViewer(page, timeout = 20000) {
  await waitForMark(page, 'viewer-ready', timeout);
  await waitForMark(page, 'viewer-data-loaded', timeout);
}

/** Wait for a performance mark the viewer sets (viewer-ready, then viewer-data-loaded). */
export async function waitForMark(page, name, timeout = 20000) {
  await page.waitForFunction((n) => performance.getEntriesByName(n, 'mark').length > 0, name, { timeout });
}

/**
 * The site's own data, read from disk and put back together as the columns the metadata stage wrote
 * (items: count, id, col, row, title, date, dateLabel, url, imageUrl, thumb, description, rights, yearStart,
 * subjects, subjectNames, subjectCounts) and neighbours ({k, id, neighbours}: positions per item) when the
 * site has them, so the tests compare the page with the data however it is chunked; and the exploring
 * keys' files: `hotspotOf` (per item: -1 or its hotspot), `arrangements` (name -> {grid, col, row} per
 * item) and `facets` (name -> {values, of: value indices per item}) for the values facets.
 */
export function readSite(siteDir) {
  const data = (p) => join(siteDir, 'data', p);
  const collection = JSON.parse(readFileSync(data('collection.json'), 'utf8'));
  const meta = collection.items;
  const name = (n) => `${String(n).padStart(5, '0')}.json`;
  const bytes = (p) => readFileSync(data(p));
  const view = (buf, Type) => new Type(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const items = { count: meta.count, subjectNames: meta.subjectNames, subjectCounts: meta.subjectCounts };
  for (let n = 0; n < meta.chunks; n++) {
    const chunk = JSON.parse(readFileSync(data(`items/${name(n)}`), 'utf8'));
    for (const [field, values] of Object.entries(chunk)) if (Array.isArray(values)) (items[field] ??= []).push(...values);
  }
  const cells = view(bytes('cells.bin'), Uint32Array);
  items.col = [...cells].map((c) => c % collection.grid.cols);
  items.row = [...cells].map((c) => Math.floor(c / collection.grid.cols));
  items.yearStart = [...view(bytes('years.bin'), Int16Array)].map((y) => (y === -32768 ? null : y));
  const counts = bytes('subject-counts.bin');
  const ids = meta.subjectIdBytes === 2 ? view(bytes('subject-ids.bin'), Uint16Array) : bytes('subject-ids.bin');
  let at = 0;
  items.subjects = [...counts].map((k) => [...ids.slice(at, (at += k))]);
  let neighbours = null;
  if (Number.isInteger(meta.neighbours)) {
    neighbours = { k: meta.neighbours, id: items.id, neighbours: [] };
    for (let n = 0; n < meta.chunks; n++) {
      neighbours.neighbours.push(...JSON.parse(readFileSync(data(`neighbours/${name(n)}`), 'utf8')).neighbours);
    }
  }
  const siteBytes = (p) => readFileSync(join(siteDir, p));
  const hotspotOf = collection.hotspots ? [...view(bytes('hotspots.bin'), Uint16Array)].map((h) => h - 1) : null;
  const arrangements = new Map();
  for (const a of collection.arrangements ?? []) {
    const grid = a.grid ?? collection.grid;
    const cellsOf = a.cells ? view(siteBytes(a.cells), Uint32Array) : cells;
    arrangements.set(a.name, { ...a, grid, col: [...cellsOf].map((c) => c % grid.cols), row: [...cellsOf].map((c) => Math.floor(c / grid.cols)) });
  }
  const facets = new Map();
  for (const f of collection.facets ?? []) {
    if (f.kind !== 'values') continue;
    const perItem = siteBytes(f.files.counts);
    const valueIds = f.valueIdBytes === 2 ? view(siteBytes(f.files.ids), Uint16Array) : siteBytes(f.files.ids);
    let k = 0;
    facets.set(f.name, { ...f, of: [...perItem].map((n) => [...valueIds.slice(k, (k += n))]) });
  }
  return { collection, items, neighbours, hotspotOf, arrangements, facets };
}
