#!/usr/bin/env node
/**
 * Load and filter timings of a built site in headless Chromium (bench/viewer_perf.py builds a
 * 13,000-item site and runs this):
 *
 *   node e2e/perf.mjs <site dir> [--loads 3] [--json out.json] [--search meteorite] [--years 1900-1930]
 *
 * Each load is a fresh browser context (empty cache). Per load: the viewer's own marks `viewer-ready`
 * (the mosaic is on screen), `viewer-data-loaded` (the item columns are in: filters work) and
 * `search-ready` (the search worker has its index), all ms after navigation start; the bytes the page
 * had downloaded when the mosaic became visible (Resource Timing's transfer sizes, the page included);
 * hover-to-title times (pointer event to the tooltip's new text, first in a chunk not yet fetched, then
 * again); then, once the tiles in view have loaded, the durations of its `filter-update` measures for
 * each action (select a subject, a second subject, any/all both ways, a year range, each keystroke of a
 * search, reset all: for a search that is keystroke to mask, the worker's answer included) and, for the
 * same actions, the Event Timing API's input-to-next-paint duration (only reported above 16 ms); when the
 * site has other arrangements, switching to each and back (its `arrangement-switch` measure: the choice to
 * the new pyramid's first tile drawn); a lasso round about 1,000 cells of the whole mosaic in selection
 * mode (release to mask, count and outline, `filter-update`; the cells it took); last, the JavaScript heap
 * of the page and of the search worker (Chromium's precise memory info).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, newContext, openPage, serveSite, waitForMark } from './harness.mjs';

const args = process.argv.slice(2);
const opt = { site: null, loads: 3, json: null, search: 'meteorite', years: [1900, 1930] };
for (let k = 0; k < args.length; k++) {
  const a = args[k];
  if (a === '--loads') opt.loads = Number(args[++k]);
  else if (a === '--json') opt.json = args[++k];
  else if (a === '--search') opt.search = args[++k];
  else if (a === '--years') opt.years = args[++k].split('-').map(Number);
  else if (!opt.site) opt.site = a;
  else throw new Error(`unknown argument ${a}`);
}
if (!opt.site) {
  console.error('usage: node e2e/perf.mjs <site dir> [--loads 3] [--json out.json]');
  process.exit(2);
}

const collection = JSON.parse(readFileSync(join(opt.site, 'data', 'collection.json'), 'utf8'));
const items = collection.items;
// The two most frequent subjects (subjectNames is ordered most frequent first).
const [subjectA, subjectB] = items.subjectNames;

/** Runs in the page before its own scripts: keeps interaction timings (Event Timing API). */
function installProbe() {
  window.__interactions = [];
  window.__hover = [];
  addEventListener('pointermove', (e) => { window.__lastMove = e.timeStamp; }, { capture: true });
  addEventListener('DOMContentLoaded', () => {
    const tip = document.getElementById('tooltip');
    if (!tip) return;
    new MutationObserver(() => {
      if (!tip.hidden && window.__lastMove !== undefined) {
        window.__hover.push({ text: tip.textContent, ms: performance.now() - window.__lastMove });
      }
    }).observe(tip, { childList: true, subtree: true, characterData: true, attributes: true });
  });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.interactionId) window.__interactions.push({ name: e.name, start: e.startTime, duration: e.duration });
      }
    }).observe({ type: 'event', durationThreshold: 16, buffered: true });
  } catch { /* no Event Timing: only filter-update measures are reported */ }
}

const measureCount = (page, name) => page.evaluate((n) => performance.getEntriesByName(n, 'measure').length, name);

/** Do `action`, wait for its `measure` measure(s) (filter-update), return {measures: [ms], paint: ms|null}. */
async function timed(page, action, { settleMs = 300, expect = 1, measure = 'filter-update' } = {}) {
  const before = await measureCount(page, measure);
  const started = await page.evaluate(() => performance.now());
  await action();
  await page.waitForFunction(([name, n, k]) => performance.getEntriesByName(name, 'measure').length >= n + k,
    [measure, before, expect], { timeout: 10000 });
  await page.waitForTimeout(settleMs);
  return page.evaluate(([name, n, t0]) => {
    const measures = performance.getEntriesByName(name, 'measure').slice(n).map((m) => m.duration);
    const events = window.__interactions.filter((e) => e.start >= t0);
    return { measures, paint: events.length ? Math.max(...events.map((e) => e.duration)) : null,
      events: events.map((e) => `${e.name} ${e.duration}`) };
  }, [measure, before, started]);
}

const subjectButton = (page, name) => page.locator(`#filters [data-subject="${name.replaceAll('"', '\\"')}"]`).first();

async function oneLoad(browser, url) {
  const context = await newContext(browser);
  await context.addInitScript(installProbe);
  const { page, problems } = await openPage(context);
  await page.goto(url);
  await waitForMark(page, 'viewer-ready', 60000);
  await waitForMark(page, 'viewer-data-loaded', 60000);
  const marks = await page.evaluate(() => {
    const ready = performance.getEntriesByName('viewer-ready', 'mark')[0]?.startTime ?? null;
    const loaded = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
      .filter((e) => e.responseEnd <= ready);
    return {
      dataLoaded: performance.getEntriesByName('viewer-data-loaded', 'mark')[0]?.startTime ?? null,
      ready,
      domContentLoaded: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? null,
      bytesBeforeReady: loaded.reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0),
      filesBeforeReady: loaded.length,
    };
  });
  await waitForMark(page, 'search-ready', 120000);
  marks.searchReady = await page.evaluate(() => performance.getEntriesByName('search-ready', 'mark')[0].startTime);
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(500);
  marks.hover = await hoverTimes(page);

  const actions = {};
  const add = (name, result) => {
    actions[name] ??= { measures: [], paint: [], events: [] };
    actions[name].measures.push(...result.measures);
    actions[name].paint.push(result.paint);
    actions[name].events.push(result.events);
  };
  add('select a subject', await timed(page, () => subjectButton(page, subjectA).click()));
  add('select a subject', await timed(page, () => subjectButton(page, subjectB).click()));
  // any -> all -> any with the keyboard, so the change is a real (trusted) interaction
  await page.locator('#subject-mode').focus();
  const mode = async (value) => {
    const key = value === 'all' ? 'ArrowDown' : 'ArrowUp';
    return timed(page, () => page.keyboard.press(key));
  };
  add('switch any/all', await mode('all'));
  add('switch any/all', await mode('any'));
  add('set a year range', await timed(page, async () => {
    await page.locator('#year-from').fill(String(opt.years[0]));
    await page.locator('#year-from').press('Tab');
  }));
  add('set a year range', await timed(page, async () => {
    await page.locator('#year-to').fill(String(opt.years[1]));
    await page.locator('#year-to').press('Tab');
  }));
  add('reset all', await timed(page, () => page.locator('#reset-all').click()));
  await page.locator('#search').click();
  for (const ch of opt.search) add('search keystroke', await timed(page, () => page.keyboard.type(ch), { settleMs: 150 }));
  const found = (await page.locator('#search-count').textContent())?.trim();
  await page.locator('#search').fill('');
  await page.waitForFunction((n) => document.getElementById('match-count').textContent.trim().startsWith(n),
    new Intl.NumberFormat('en').format(items.count));

  // Every other arrangement, and back to similarity: the choice to the new pyramid's first tile drawn.
  const radio = (name) => page.locator(`#arrangement label:has(input[value="${name}"])`);
  for (const arrangement of (collection.arrangements ?? []).slice(1)) {
    for (const name of [arrangement.name, 'similarity']) {
      add('switch arrangement', await timed(page, () => radio(name).click(), { measure: 'arrangement-switch', settleMs: 800 }));
    }
  }

  // A lasso round about LASSO_CELLS cells in the middle of the whole mosaic, in selection mode.
  await page.locator('#viewer .openseadragon-canvas').first().focus();
  await page.keyboard.press('0'); // the whole mosaic
  await page.waitForTimeout(1500);
  await page.locator('#select-mode').click();
  const lasso = await lassoPath(page, LASSO_CELLS);
  add('lasso', await timed(page, () => drawPath(page, lasso), { settleMs: 300 }));
  const selected = (await page.locator('#selection-count').textContent())?.trim();

  const heap = await heapSizes(page);
  await context.close();
  return { ...marks, actions, searchCount: found, selected, heap, problems };
}

const LASSO_CELLS = 1000;

/** Page points of a circle covering about `cells` cells in the middle of the mosaic, as the view shows it now. */
async function lassoPath(page, cells) {
  const { grid } = collection;
  const geometry = await page.evaluate(() => {
    const box = document.getElementById('viewer').getBoundingClientRect();
    return { x: box.x, y: box.y, width: box.width, height: box.height };
  });
  const width = grid.cols * grid.cellWidth, height = grid.rows * grid.cellHeight;
  // Home view: the whole mosaic fitted and centred in the viewer.
  const scale = Math.min(geometry.width / width, geometry.height / height);
  const cellPx = grid.cellWidth * scale;
  const radius = Math.sqrt(cells / Math.PI) * cellPx;
  const cx = geometry.x + geometry.width / 2, cy = geometry.y + geometry.height / 2;
  return Array.from({ length: 73 }, (_, k) => ({
    x: cx + radius * Math.cos((k / 72) * 2 * Math.PI), y: cy + radius * Math.sin((k / 72) * 2 * Math.PI),
  }));
}

/** Press at the first point, drag through the others, release at the last. */
async function drawPath(page, points) {
  await page.mouse.move(points[0].x, points[0].y);
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(p.x, p.y, { steps: 2 });
  await page.mouse.up();
}

/** Hover-to-title times (ms) for cells spread over the mosaic: a chunk not yet fetched, then the same cell again. */
async function hoverTimes(page) {
  const box = await page.locator('#viewer').boundingBox();
  const out = { cold: [], warm: [] };
  for (const [fx, fy] of [[0.3, 0.3], [0.7, 0.6], [0.5, 0.85]]) {
    for (const kind of ['cold', 'warm']) {
      await page.mouse.move(box.x + 5, box.y + 5);
      await page.waitForTimeout(150);
      await page.evaluate(() => { window.__hover = []; });
      await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
      const ms = await page.waitForFunction(() => window.__hover.find((h) => h.text)?.ms, null, { timeout: 10000 })
        .then((h) => h.jsonValue()).catch(() => null);
      out[kind].push(ms);
    }
  }
  return out;
}

/**
 * Used JavaScript heap (MB) of the page and of each of its workers (the search), from the DevTools
 * protocol's Runtime.getHeapUsage: the page's own session, and the workers through auto-attach.
 */
async function heapSizes(page) {
  const cdp = await page.context().newCDPSession(page);
  const mb = (bytes) => bytes / 2 ** 20;
  const main = (await cdp.send('Runtime.getHeapUsage')).usedSize;
  const sessions = [];
  cdp.on('Target.attachedToTarget', (e) => { if (e.targetInfo.type === 'worker') sessions.push(e.sessionId); });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  await page.waitForTimeout(300);
  const workers = [];
  for (const sessionId of sessions) {
    const answer = new Promise((resolve) => {
      cdp.on('Target.receivedMessageFromTarget', (e) => {
        if (e.sessionId !== sessionId) return;
        const m = JSON.parse(e.message);
        if (m.id === 1) resolve(m.result?.usedSize ?? null);
      });
    });
    await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: 1, method: 'Runtime.getHeapUsage' }) });
    const used = await Promise.race([answer, new Promise((r) => setTimeout(() => r(null), 5000))]);
    if (used !== null) workers.push(mb(used));
  }
  await cdp.detach();
  return { page: mb(main), workers };
}

const server = await serveSite(opt.site);
const { browser, version } = await launchBrowser();
const loads = [];
try {
  for (let k = 0; k < opt.loads; k++) {
    const load = await oneLoad(browser, server.url);
    loads.push(load);
    console.log(`load ${k + 1}: ready ${load.ready?.toFixed(0)} ms (${(load.bytesBeforeReady / 1e6).toFixed(2)} MB in ` +
      `${load.filesBeforeReady} files), data ${load.dataLoaded?.toFixed(0)} ms, search ${load.searchReady?.toFixed(0)} ms; ` +
      `hover ${JSON.stringify(load.hover)}; heap ${JSON.stringify(load.heap)}; lasso: ${load.selected}; ` +
      Object.entries(load.actions).map(([n, a]) => `${n}: ${a.measures.map((m) => m.toFixed(1)).join('/')} ms`).join('; ') +
      (load.problems.length ? `; PROBLEMS: ${load.problems.join(' | ')}` : ''));
  }
} finally {
  await browser.close();
  await server.close();
}
const result = { chromium: version, count: items.count, subjects: [subjectA, subjectB], search: opt.search,
  years: opt.years, loads };
if (opt.json) writeFileSync(opt.json, JSON.stringify(result, null, 1));
else console.log(JSON.stringify(result));
