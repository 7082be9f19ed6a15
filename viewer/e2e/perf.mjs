#!/usr/bin/env node
/**
 * Load and filter timings of a built site in headless Chromium (bench/viewer_perf.py builds a
 * 13,000-item site and runs this):
 *
 *   node e2e/perf.mjs <site dir> [--loads 3] [--json out.json] [--search meteorite] [--years 1900-1930]
 *
 * Each load is a fresh browser context (empty cache). Per load: the viewer's own marks
 * `viewer-data-loaded` and `viewer-ready` (ms after navigation start), then, once the tiles in view have
 * loaded, the durations of its `filter-update` measures for each action (select a subject, a second
 * subject, any/all both ways, a year range, typing a search, reset all) and, for the same actions, the
 * Event Timing API's input-to-next-paint duration of the interaction (only reported above 16 ms).
 */
import { writeFileSync } from 'node:fs';
import { launchBrowser, newContext, openPage, readSite, serveSite, waitForMark } from './harness.mjs';

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

const { items } = readSite(opt.site);
// The two most frequent subjects (subjectNames is ordered most frequent first).
const [subjectA, subjectB] = items.subjectNames;

/** Runs in the page before its own scripts: keeps interaction timings (Event Timing API). */
function installProbe() {
  window.__interactions = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.interactionId) window.__interactions.push({ name: e.name, start: e.startTime, duration: e.duration });
      }
    }).observe({ type: 'event', durationThreshold: 16, buffered: true });
  } catch { /* no Event Timing: only filter-update measures are reported */ }
}

const measureCount = (page) => page.evaluate(() => performance.getEntriesByName('filter-update', 'measure').length);

/** Do `action`, wait for its filter-update measure(s), return {measures: [ms], paint: ms|null}. */
async function timed(page, action, { settleMs = 300, expect = 1 } = {}) {
  const before = await measureCount(page);
  const started = await page.evaluate(() => performance.now());
  await action();
  await page.waitForFunction(([n, k]) => performance.getEntriesByName('filter-update', 'measure').length >= n + k,
    [before, expect], { timeout: 10000 });
  await page.waitForTimeout(settleMs);
  return page.evaluate(([n, t0]) => {
    const measures = performance.getEntriesByName('filter-update', 'measure').slice(n).map((m) => m.duration);
    const events = window.__interactions.filter((e) => e.start >= t0);
    return { measures, paint: events.length ? Math.max(...events.map((e) => e.duration)) : null,
      events: events.map((e) => `${e.name} ${e.duration}`) };
  }, [before, started]);
}

const subjectButton = (page, name) => page.locator(`#filters [data-subject="${name.replaceAll('"', '\\"')}"]`).first();

async function oneLoad(browser, url) {
  const context = await newContext(browser);
  await context.addInitScript(installProbe);
  const { page, problems } = await openPage(context);
  await page.goto(url);
  await waitForMark(page, 'viewer-ready', 60000);
  const marks = await page.evaluate(() => ({
    dataLoaded: performance.getEntriesByName('viewer-data-loaded', 'mark')[0]?.startTime ?? null,
    ready: performance.getEntriesByName('viewer-ready', 'mark')[0]?.startTime ?? null,
    domContentLoaded: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? null,
  }));
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(500);

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
  add('type a search', await timed(page, () => page.keyboard.type(opt.search, { delay: 120 }), { settleMs: 800 }));
  const found = (await page.locator('#search-count').textContent())?.trim();
  await context.close();
  return { ...marks, actions, searchCount: found, problems };
}

const server = await serveSite(opt.site);
const { browser, version } = await launchBrowser();
const loads = [];
try {
  for (let k = 0; k < opt.loads; k++) {
    const load = await oneLoad(browser, server.url);
    loads.push(load);
    console.log(`load ${k + 1}: data ${load.dataLoaded?.toFixed(0)} ms, ready ${load.ready?.toFixed(0)} ms; ` +
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
