/**
 * The viewer in headless Chromium, against a site the workflow built from a collection whose
 * titles, dates and subjects are known (tests/test_viewer_e2e.py writes it and expected.json).
 *
 *   node e2e/run.mjs <site dir> --expected <expected.json> [--artifacts <dir>]
 *
 * Every page records console errors, page errors, failed requests, HTTP errors and dialogs; each
 * test ends by checking that none happened.
 */
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, newContext, openPage, readSite, serveSite, waitForMark, waitForViewer } from './harness.mjs';

const SITE = process.env.E2E_SITE;
const EXPECTED = process.env.E2E_EXPECTED;
const ARTIFACTS = process.env.E2E_ARTIFACTS || '';
if (!SITE || !EXPECTED) throw new Error('run through e2e/run.mjs <site dir> --expected <expected.json>');

const expected = JSON.parse(readFileSync(EXPECTED, 'utf8'));
const { collection, items, neighbours } = readSite(SITE);
const { cols, rows, cellWidth: cw, cellHeight: ch } = collection.grid;
const W = cols * cw;
const H = rows * ch;
const N = items.count;
const position = new Map(items.id.map((id, i) => [id, i])); // id -> item position
const cellItem = new Map(items.id.map((id, i) => [`${items.col[i]},${items.row[i]}`, i]));
const itemAt = (col, row) => cellItem.get(`${col},${row}`) ?? -1;
const titleOf = (i) => items.title[i] || 'Untitled';
const enc = encodeURIComponent;

/** Viewport coordinates of a cell's centre (image width = 1). */
const cellCentre = (col, row) => ({ x: ((col + 0.5) * cw) / W, y: ((row + 0.5) * ch) / W });
/** A zoom at which one cell is a quarter of the viewer's width. */
const CLOSE_ZOOM = cols / 4;

let browser;
let server;
let version;

before(async () => {
  server = await serveSite(SITE);
  ({ browser, version } = await launchBrowser());
  console.log(`# Chromium ${version}, site ${SITE} at ${server.url}`);
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh context and page at `hash` (without '#'), waited until the mosaic is visible. */
async function open(hash = '', { ready = true } = {}) {
  const context = await newContext(browser);
  const session = await openPage(context);
  session.context = context;
  session.requests = [];
  session.page.on('request', (r) => session.requests.push(r.url()));
  await session.page.goto(server.url + (hash ? `#${hash}` : ''));
  if (ready) await waitForViewer(session.page);
  return session;
}

/** No console errors, page errors, failed requests, HTTP errors or dialogs happened. */
async function finish(session) {
  const { page, problems, dialogs, context } = session;
  const imgX = await page.evaluate(() => document.querySelectorAll('img[src="x"]').length);
  await context.close();
  assert.deepEqual(dialogs, [], 'a dialog opened: catalogue text ran as script');
  assert.equal(imgX, 0, 'an <img src="x"> element was created from catalogue text');
  assert.deepEqual(problems, [], 'the page reported problems');
}

/** Poll `fn` until it returns a truthy value (returned) or the time is up (last value returned). */
async function eventually(fn, timeout = 5000, interval = 100) {
  const end = Date.now() + timeout;
  let value;
  for (;;) {
    value = await fn();
    if (value || Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, interval));
  }
}

const text = (page, selector) => page.locator(selector).first().textContent().then((t) => (t ?? '').trim());
const matchCount = (page) => text(page, '#match-count');
const countText = (k, n = N) => (k === n ? `${n} items` : `${k} of ${n} items`);

async function waitForText(page, selector, wanted, timeout = 5000) {
  const got = await eventually(async () => {
    const t = await text(page, selector);
    return (typeof wanted === 'string' ? t === wanted : wanted.test(t)) ? t : null;
  }, timeout);
  if (!got) assert.fail(`${selector}: expected ${wanted}, found "${await text(page, selector)}" (at ${page.url()})`);
  return got;
}

/** The viewer element's centre in page pixels. */
async function viewerCentre(page) {
  const box = await page.locator('#viewer').boundingBox();
  return { x: box.x + box.width / 2, y: box.y + box.height / 2, box };
}

/** Hover a page point until the tooltip shows `title` (the view may still be animating). */
async function hoverUntilTitle(page, point, title, timeout = 6000) {
  let k = 0;
  const seen = await eventually(async () => {
    k += 1;
    await page.mouse.move(point.x + (k % 2), point.y + (k % 2));
    const tip = page.locator('#tooltip');
    if (!(await tip.isVisible())) return null;
    const t = (await tip.textContent()) ?? '';
    return t.includes(title) ? t : null;
  }, timeout, 150);
  return seen;
}

/** The item a search result / similar button names: its data-item is the item's position in items.json. */
function itemOfButton(value) {
  const n = Number(value);
  assert.ok(/^\d+$/.test(value ?? '') && n < N, `data-item "${value}" is not an item position`);
  return n;
}

const subjectButton = (page, name) => page.locator(`#filters [data-subject="${name.replaceAll('"', '\\"')}"]`).first();
const pressed = (page, name) => subjectButton(page, name).getAttribute('aria-pressed');

async function setYears(page, from, to) {
  await page.locator('#year-from').fill(from === null ? '' : String(from));
  await page.locator('#year-from').press('Tab'); // change fires when the value is committed
  await page.locator('#year-to').fill(to === null ? '' : String(to));
  await page.locator('#year-to').press('Tab');
}

/** The hash's parameters as raw (still encoded) text, by key. */
function parseHash(url) {
  const raw = new Map();
  for (const part of new URL(url).hash.slice(1).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) raw.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return raw;
}

// --- screen geometry and pixels, for hover and for checking which cells are dimmed ---

/** Hash that shows the whole mosaic, and the page-pixel rectangle of each cell under it. */
async function wholeMosaicView(page) {
  const box = await page.locator('#viewer').boundingBox();
  const h = H / W; // image height in viewport units
  const fit = Math.min(1, box.height / (box.width * h)); // OSD zoom 1: image width = viewer width
  const z = fit * 0.96;
  const centre = { x: 0.5, y: h / 2 };
  const scale = z * box.width; // page pixels per viewport unit
  const rect = (col, row) => ({
    x: box.x + box.width / 2 + ((col * cw) / W - centre.x) * scale,
    y: box.y + box.height / 2 + ((row * ch) / W - centre.y) * scale,
    width: (cw / W) * scale,
    height: (ch / W) * scale,
  });
  return { hash: `x=${centre.x}&y=${centre.y}&z=${z}`, rect };
}

/** Mean brightness of the middle of each listed cell, from a screenshot decoded in a blank page. */
async function cellBrightness(page, rects) {
  const png = await page.screenshot({ type: 'png' });
  const decoder = await browser.newPage();
  try {
    return await decoder.evaluate(async ({ b64, rects }) => {
      const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
      const bitmap = await createImageBitmap(blob);
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const ctx = canvas.getContext('2d');
      ctx.drawImage(bitmap, 0, 0);
      return rects.map((r) => {
        const x = Math.round(r.x + r.width * 0.3), y = Math.round(r.y + r.height * 0.3);
        const w = Math.max(1, Math.round(r.width * 0.4)), h = Math.max(1, Math.round(r.height * 0.4));
        const d = ctx.getImageData(x, y, w, h).data;
        let sum = 0;
        for (let k = 0; k < d.length; k += 4) sum += 0.2126 * d[k] + 0.7152 * d[k + 1] + 0.0722 * d[k + 2];
        return sum / (d.length / 4);
      });
    }, { b64: png.toString('base64'), rects });
  } finally {
    await decoder.close();
  }
}

/** Page rectangles of the viewer's own controls (navigator, buttons) that cover part of the mosaic. */
async function viewerObstacles(page) {
  return page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('#viewer .navigator, #viewer [title], #viewer .openseadragon-container > div > div')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && r.width < innerWidth * 0.5) out.push({ x: r.x, y: r.y, width: r.width, height: r.height });
    }
    return out;
  });
}
const overlaps = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/**
 * Cells that matter for a dimming check: occupied, not covered by a control, bright enough to
 * see a veil on. Returns [{item, rect}].
 */
async function measurableCells(page, view) {
  const obstacles = await viewerObstacles(page);
  const cells = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const item = itemAt(col, row);
      const rect = view.rect(col, row);
      const middle = { x: rect.x + rect.width * 0.3, y: rect.y + rect.height * 0.3, width: rect.width * 0.4, height: rect.height * 0.4 };
      if (item >= 0 && !obstacles.some((o) => overlaps(o, middle))) cells.push({ item, rect });
    }
  }
  // Checks that loop over these cells must not pass by having none to look at.
  assert.ok(cells.length >= Math.min(8, N), `only ${cells.length} of ${N} cells can be measured`);
  return cells;
}

/** Wait until the tiles have loaded and the picture stopped changing. */
async function settle(page) {
  await page.mouse.move(5, 5); // off the mosaic: no hover outline or tooltip in the pictures
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(400);
}

/** Assert that exactly the items in `bright` are undimmed, comparing with the unfiltered picture. */
async function assertDimmed(page, cells, baseline, bright, label) {
  await settle(page);
  const now = await cellBrightness(page, cells.map((c) => c.rect));
  const wrong = [];
  let judged = 0;
  cells.forEach((c, k) => {
    if (baseline[k] < 40) return; // too dark to tell a veil from the picture
    judged += 1;
    const ratio = now[k] / baseline[k];
    const shouldBeBright = bright.has(items.id[c.item]);
    if (shouldBeBright ? ratio < 0.85 : ratio > 0.6) {
      wrong.push(`${items.id[c.item]} (${shouldBeBright ? 'should be bright' : 'should be dimmed'}, brightness ${baseline[k].toFixed(0)} -> ${now[k].toFixed(0)})`);
    }
  });
  assert.ok(judged >= Math.min(8, cells.length), `${label}: only ${judged} cells could be judged`);
  assert.deepEqual(wrong, [], `${label}: cells dimmed wrongly`);
}

// ------------------------------------------------------------------------------------------

describe('viewer in Chromium', { timeout: 240000 }, () => {
  test('loads without errors, failed requests or missing tiles; marks its timings; screenshot', async () => {
    const s = await open();
    const { page } = s;
    await waitForMark(page, 'viewer-data-loaded');
    await settle(page);
    const marks = await page.evaluate(() => ({
      data: performance.getEntriesByName('viewer-data-loaded', 'mark')[0]?.startTime,
      ready: performance.getEntriesByName('viewer-ready', 'mark')[0]?.startTime,
      early: performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/data/') && !e.name.endsWith('/data/collection.json'))
        .map((e) => ({ name: e.name.replace(/^.*\/data\//, ''), start: e.startTime })),
    }));
    assert.ok(marks.ready > 0 && marks.data >= marks.ready, `mosaic first, then the data: ${JSON.stringify(marks)}`);
    const before = marks.early.filter((e) => e.start < marks.ready);
    assert.deepEqual(before, [], 'the first view fetches collection.json and the mosaic only');
    const tiles = s.requests.filter((u) => /\/tiles\/.*\.(jpg|jpeg|png|webp)$/.test(u));
    assert.ok(tiles.length > 0, 'no tile was requested');
    assert.equal(await matchCount(page), countText(N));
    assert.equal(await page.locator('#panel').isHidden(), true, '#panel is hidden until an item opens');
    assert.equal(await text(page, '#collection-title'), collection.title);
    if (ARTIFACTS) {
      mkdirSync(ARTIFACTS, { recursive: true });
      const path = join(ARTIFACTS, 'viewer.png');
      await page.screenshot({ path });
      console.log(`# screenshot: ${path}`);
    }
    await finish(s);
  });

  test('hover shows the title of the cell under the pointer; click opens that item', async () => {
    // A deep link centres the view on a known cell, zoomed in so that the cell is large.
    const target = position.get(expected.ids[12]);
    const c = cellCentre(items.col[target], items.row[target]);
    const s = await open(`x=${c.x}&y=${c.y}&z=${CLOSE_ZOOM}`);
    const { page } = s;
    const centre = await viewerCentre(page);
    const seen = await hoverUntilTitle(page, centre, titleOf(target));
    assert.ok(seen, `tooltip over the centre cell: expected "${titleOf(target)}", found "${await text(page, '#tooltip')}"`);
    await page.mouse.click(centre.x, centre.y);
    await waitForText(page, '#panel .panel-title', titleOf(target));
    assert.equal(await page.locator('#panel').isVisible(), true);
    await page.locator('#panel .panel-close').click();
    await eventually(() => page.locator('#panel').isHidden());
    assert.equal(await page.locator('#panel').isHidden(), true, '.panel-close closes the panel');

    const view = await wholeMosaicView(page); // the viewer's size does not depend on the link
    await finish(s);

    // Every occupied cell of the whole-mosaic view: hover gives its own title.
    const s2 = await open(view.hash);
    const page2 = s2.page;
    for (const { item, rect } of await measurableCells(page2, view)) {
      const point = { x: rect.x + rect.width / 2, y: rect.y + rect.height / 2 };
      const tip = await hoverUntilTitle(page2, point, titleOf(item), 4000);
      assert.ok(tip, `hover over cell (${items.col[item]},${items.row[item]}): expected "${titleOf(item)}", found "${await text(page2, '#tooltip')}"`);
    }
    await finish(s2);
  });

  test('subject, any/all and year filters dim the right cells and count them; resets restore', async () => {
    const s = await open();
    const { page } = s;
    const view = await wholeMosaicView(page);
    await page.goto(`${server.url}#${view.hash}`);
    await page.reload();
    await waitForViewer(page);
    await settle(page);
    const cells = await measurableCells(page, view);
    const baseline = await cellBrightness(page, cells.map((c) => c.rect));
    const filterMeasures = () => page.evaluate(() => performance.getEntriesByName('filter-update', 'measure').length);
    const measuresBefore = await filterMeasures();

    const [first, second] = Object.keys(expected.subjects);
    const a = new Set(expected.subjects[first]);
    const b = new Set(expected.subjects[second]);
    for (const name of Object.keys(expected.subjects)) assert.equal(await pressed(page, name), 'false', `${name} starts unpressed`);

    await subjectButton(page, first).click();
    await waitForText(page, '#match-count', countText(a.size));
    assert.equal(await pressed(page, first), 'true');
    await assertDimmed(page, cells, baseline, a, `subject ${first}`);
    assert.ok((await filterMeasures()) > measuresBefore, 'a filter change adds a filter-update measure');

    await subjectButton(page, second).click();
    const any = new Set([...a, ...b]);
    await waitForText(page, '#match-count', countText(any.size));
    assert.equal(await pressed(page, second), 'true');
    await assertDimmed(page, cells, baseline, any, `subjects ${first} or ${second}`);

    await page.selectOption('#subject-mode', 'all');
    const all = new Set([...a].filter((id) => b.has(id)));
    await waitForText(page, '#match-count', countText(all.size));
    await assertDimmed(page, cells, baseline, all, `subjects ${first} and ${second}`);
    await page.selectOption('#subject-mode', 'any');
    await waitForText(page, '#match-count', countText(any.size));

    await page.locator('#reset-subjects').click();
    await waitForText(page, '#match-count', countText(N));
    assert.equal(await pressed(page, first), 'false');
    assert.equal(await pressed(page, second), 'false');

    const years = new Set(expected.years.ids);
    await setYears(page, expected.years.from, expected.years.to);
    await waitForText(page, '#match-count', countText(years.size));
    await assertDimmed(page, cells, baseline, years, `years ${expected.years.from}-${expected.years.to}`);
    // Both ends are inclusive: years that lie exactly on from and to stay in.
    const inclusive = expected.yearsInclusive;
    await setYears(page, inclusive.from, inclusive.to);
    await waitForText(page, '#match-count', countText(inclusive.ids.length));
    await assertDimmed(page, cells, baseline, new Set(inclusive.ids), `years ${inclusive.from}-${inclusive.to} inclusive`);
    await page.locator('#reset-dates').click();
    await waitForText(page, '#match-count', countText(N));
    assert.equal(await page.locator('#year-from').inputValue(), '', 'reset-dates empties #year-from');
    assert.equal(await page.locator('#year-to').inputValue(), '', 'reset-dates empties #year-to');

    // subjects AND years, then reset all
    await subjectButton(page, first).click();
    await setYears(page, expected.years.from, expected.years.to);
    const both = new Set([...a].filter((id) => years.has(id)));
    await waitForText(page, '#match-count', countText(both.size));
    await page.locator('#reset-all').click();
    await waitForText(page, '#match-count', countText(N));
    assert.equal(await pressed(page, first), 'false');
    assert.equal(await page.locator('#year-from').inputValue(), '');
    await assertDimmed(page, cells, baseline, new Set(items.id), 'after reset all');
    await finish(s);
  });

  test('the treemap has a tile for every subject items.json offers; small tiles are named when focused', async () => {
    const s = await open();
    const { page } = s;
    const offered = items.subjectNames.filter((_, k) => items.subjectCounts[k] > 0);
    assert.equal(offered.length, expected.subjectTiles, 'fixture: items.json offers subjects_top subjects and "Other"');
    assert.ok(offered.length > 24, 'fixture: more subjects than the viewer once showed');
    const tiles = page.locator('#treemap button.tile');
    await eventually(async () => (await tiles.count()) === offered.length);
    const shown = await tiles.evaluateAll((els) => els.map((e) => {
      const r = e.getBoundingClientRect();
      return { name: e.dataset.subject, label: e.getAttribute('aria-label'), title: e.title, bare: e.classList.contains('bare'),
        x0: r.left, y0: r.top, x1: r.right, y1: r.bottom };
    }));
    assert.deepEqual(shown.map((t) => t.name).sort(), [...offered].sort(), 'one tile per subject, none left out');
    const box = await page.locator('#treemap').boundingBox();
    for (const t of shown) {
      const k = items.subjectNames.indexOf(t.name);
      const count = items.subjectCounts[k];
      assert.equal(t.label, `${t.name}, ${count} item${count === 1 ? '' : 's'}`, `aria-label of ${t.name}`);
      assert.equal(t.title, `${t.name} (${count})`, `title of ${t.name}`);
      assert.ok(t.x0 >= box.x - 0.5 && t.y0 >= box.y - 0.5 && t.x1 <= box.x + box.width + 0.5 && t.y1 <= box.y + box.height + 0.5,
        `${t.name} lies inside the treemap`);
      assert.ok(t.x1 - t.x0 >= 8 && t.y1 - t.y0 >= 8, `${t.name} is big enough to point at: ${t.x1 - t.x0}x${t.y1 - t.y0}`);
    }
    for (let a = 0; a < shown.length; a++) {
      for (let b = a + 1; b < shown.length; b++) {
        const p = shown[a], q = shown[b];
        const overlap = Math.min(p.x1, q.x1) - Math.max(p.x0, q.x0) > 0.5 && Math.min(p.y1, q.y1) - Math.max(p.y0, q.y0) > 0.5;
        assert.ok(!overlap, `tiles ${p.name} and ${q.name} overlap`);
      }
    }
    // A tile too small for its name: focus (keyboard) names it in the caption; Enter selects it.
    const rare = shown.find((t) => t.bare);
    assert.ok(rare, 'fixture: some tiles are too small for a name');
    const tile = subjectButton(page, rare.name);
    await tile.focus();
    const k = items.subjectNames.indexOf(rare.name);
    const n = items.subjectCounts[k];
    await waitForText(page, '#treemap-caption', `${rare.name}: ${n} item${n === 1 ? '' : 's'}`);
    await page.keyboard.press('Enter');
    await waitForText(page, '#match-count', countText(n));
    assert.equal(await pressed(page, rare.name), 'true');
    if (ARTIFACTS) {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.locator('#filters').screenshot({ path: join(ARTIFACTS, 'treemap.png') });
    }
    await page.keyboard.press('Enter');
    await waitForText(page, '#match-count', countText(N));
    await tile.blur();
    await waitForText(page, '#treemap-caption', `${offered.length} subjects: point at a tile for its name`);
    await finish(s);
  });

  test('search finds titles, lists them, and next/prev step through them, opening and centring each', async () => {
    const s = await open();
    const { page } = s;
    const one = expected.search.one;
    await page.locator('#search').fill(one.text);
    await waitForText(page, '#search-count', `${one.ids.length} found`);
    const buttons = page.locator('#search-results li > button[data-item]');
    await eventually(async () => (await buttons.count()) === one.ids.length); // titles come from the worker
    assert.equal(await buttons.count(), one.ids.length);
    assert.ok(s.requests.some((u) => /\/assets\/search-worker\.js/.test(u)), 'the search runs in its Web Worker');
    assert.ok(s.requests.some((u) => u.endsWith('/data/titles.txt')), 'which reads titles.txt');
    const only = itemOfButton(await buttons.first().getAttribute('data-item'));
    assert.equal(items.id[only], one.ids[0]);
    assert.ok((await buttons.first().textContent()).includes(titleOf(only)), 'the result shows its title');
    await buttons.first().click();
    await waitForText(page, '#panel .panel-title', titleOf(only));

    const many = expected.search.many;
    await page.locator('#search').fill(many.text);
    await waitForText(page, '#search-count', `${many.ids.length} found`);
    assert.equal(await matchCount(page), countText(many.ids.length), 'a search counts as a filter in #match-count');
    await eventually(async () => (await buttons.count()) === many.ids.length);
    const listed = [];
    for (const value of await buttons.evaluateAll((els) => els.map((e) => e.getAttribute('data-item')))) {
      listed.push(itemOfButton(value));
    }
    assert.deepEqual(listed.map((i) => items.id[i]).sort(), [...many.ids].sort(), 'the result list');

    const centre = await viewerCentre(page);
    const openedIndex = async () => {
      const title = await eventually(async () => {
        const t = await text(page, '#panel .panel-title');
        return (await page.locator('#panel').isVisible()) && listed.some((i) => titleOf(i) === t) ? t : null;
      });
      assert.ok(title, `a search result's panel opens (panel title: "${await text(page, '#panel .panel-title')}")`);
      const k = listed.findIndex((i) => titleOf(i) === title);
      const live = await eventually(async () => ((await text(page, '#live')).startsWith(`${title}, `) ? true : null));
      assert.ok(live, `#live announces the stepped-to item (it says "${await text(page, '#live')}")`);
      // centred: the cell under the viewer's centre is the opened item
      const tip = await hoverUntilTitle(page, centre, titleOf(listed[k]), 6000);
      assert.ok(tip, `the view centres on "${titleOf(listed[k])}" (centre shows "${await text(page, '#tooltip')}")`);
      await page.mouse.move(5, 5);
      return k;
    };
    await page.locator('#search-next').click();
    let k = await openedIndex();
    for (let step = 0; step < listed.length; step++) {
      await page.locator('#search-next').click();
      await waitForText(page, '#panel .panel-title', titleOf(listed[(k + 1) % listed.length]));
      const next = await openedIndex();
      assert.equal(next, (k + 1) % listed.length, 'next opens the following result (wrapping at the end)');
      k = next;
    }
    await page.locator('#search-prev').click();
    await waitForText(page, '#panel .panel-title', titleOf(listed[(k - 1 + listed.length) % listed.length]));
    assert.equal(await openedIndex(), (k - 1 + listed.length) % listed.length, 'prev opens the previous result');

    await page.locator('#search').fill('');
    await eventually(async () => (await matchCount(page)) === countText(N));
    assert.equal(await matchCount(page), countText(N), 'clearing the search restores the count');
    await finish(s);
  });

  test('deep links restore filters, search and the open item, also after a reload; the UI writes them', async () => {
    const [first, second, third] = Object.keys(expected.subjects);
    const years = new Set(expected.years.ids);
    const a = new Set(expected.subjects[first]);
    const b = new Set(expected.subjects[second]);
    const anyYears = [...new Set([...a, ...b])].filter((id) => years.has(id));
    const openId = anyYears[0];
    assert.ok(openId, 'fixture: the deep link needs an item in the filtered set');
    const link = `s=${[first, second].map(enc).join(',')}&from=${expected.years.from}&to=${expected.years.to}&item=${enc(openId)}`;
    const s = await open(link);
    const { page } = s;
    const check = async (label) => {
      await waitForText(page, '#match-count', countText(anyYears.length));
      assert.equal(await pressed(page, first), 'true', `${label}: ${first} pressed`);
      assert.equal(await pressed(page, second), 'true', `${label}: ${second} pressed`);
      assert.equal(await pressed(page, third), 'false', `${label}: ${third} not pressed`);
      assert.equal(await page.locator('#subject-mode').inputValue(), 'any');
      assert.equal(await page.locator('#year-from').inputValue(), String(expected.years.from), `${label}: #year-from`);
      assert.equal(await page.locator('#year-to').inputValue(), String(expected.years.to), `${label}: #year-to`);
      await waitForText(page, '#panel .panel-title', titleOf(position.get(openId)));
    };
    await check('deep link');
    await page.reload();
    await waitForViewer(page);
    await check('after reload');

    // mode=all, and search text with an open item and a view
    const all = new Set([...a].filter((id) => b.has(id)));
    await page.goto(`${server.url}#s=${[first, second].map(enc).join(',')}&mode=all`);
    await page.reload();
    await waitForViewer(page);
    await waitForText(page, '#match-count', countText(all.size));
    assert.equal(await page.locator('#subject-mode').inputValue(), 'all');

    const many = expected.search.many;
    const target = position.get(many.ids[0]);
    const c = cellCentre(items.col[target], items.row[target]);
    await page.goto(`${server.url}#q=${enc(many.text)}&item=${enc(many.ids[0])}&x=${c.x}&y=${c.y}&z=${CLOSE_ZOOM}`);
    await page.reload();
    await waitForViewer(page);
    for (const label of ['search link', 'after reload']) {
      if (label === 'after reload') {
        await page.reload();
        await waitForViewer(page);
      }
      await waitForText(page, '#search-count', `${many.ids.length} found`);
      assert.equal(await page.locator('#search').inputValue(), many.text, `${label}: #search`);
      const listed = page.locator('#search-results li > button[data-item]');
      await eventually(async () => (await listed.count()) === many.ids.length);
      assert.equal(await listed.count(), many.ids.length);
      await waitForText(page, '#panel .panel-title', titleOf(target));
      const tip = await hoverUntilTitle(page, await viewerCentre(page), titleOf(target));
      assert.ok(tip, `${label}: the view is centred where x,y say`);
      await page.mouse.move(5, 5);
    }

    // The UI writes its state into the hash, so a reload (or a shared link) keeps it.
    await page.goto(server.url);
    await page.reload();
    await waitForViewer(page);
    await subjectButton(page, second).click();
    await waitForText(page, '#match-count', countText(b.size));
    await page.selectOption('#subject-mode', 'all');
    await eventually(async () => parseHash(page.url()).get('s'));
    const hash = parseHash(page.url());
    assert.deepEqual((hash.get('s') || '').split(',').map(decodeURIComponent), [second], `hash s= after a click: ${page.url()}`);
    assert.ok(!/[ &]/.test(decodeURIComponent(hash.get('s')).replace(second, '')) && hash.get('s') === enc(second),
      `s= holds encodeURIComponent(name): ${hash.get('s')}`);
    assert.equal(hash.get('mode'), 'all');
    await page.reload();
    await waitForViewer(page);
    await waitForText(page, '#match-count', countText(b.size));
    assert.equal(await pressed(page, second), 'true', 'a reload keeps the subject chosen in the UI');
    await finish(s);
  });

  test('keyboard: arrows move a focus cell that #live announces, Enter opens it, Escape closes', async () => {
    const s = await open();
    const { page } = s;
    await page.locator('#viewer .openseadragon-canvas').first().focus();
    const announced = async (previous) => {
      const t = await eventually(async () => {
        const now = await text(page, '#live');
        return now && now !== previous ? now : null;
      });
      assert.ok(t, `#live announces the focus cell (it says "${await text(page, '#live')}")`);
      const m = /^(.*), row (\d+), column (\d+)$/s.exec(t);
      assert.ok(m, `#live says "<title>, <date>, row R, column C": "${t}"`);
      const row = Number(m[2]) - 1, col = Number(m[3]) - 1; // read to people: counted from 1
      assert.ok(row >= 0 && row < rows && col >= 0 && col < cols, `announced cell inside the grid: "${t}"`);
      const item = itemAt(col, row);
      if (item >= 0) {
        const label = items.dateLabel?.[item] || items.date[item];
        assert.ok(m[1].startsWith(titleOf(item)), `announced title at row ${row + 1}, column ${col + 1}: "${t}" (expected "${titleOf(item)}")`);
        if (label) assert.ok(m[1].includes(label), `announced date label "${label}": "${t}"`);
      }
      return { text: t, row, col, item };
    };
    await page.keyboard.press('ArrowRight');
    let at = await announced('');
    // Move away from the edges, checking that each arrow moves one cell the right way.
    const moves = [
      [at.col < cols - 1 ? 'ArrowRight' : 'ArrowLeft', at.col < cols - 1 ? 1 : -1, 0],
      [at.row < rows - 1 ? 'ArrowDown' : 'ArrowUp', 0, at.row < rows - 1 ? 1 : -1],
    ];
    for (const [key, dc, dr] of moves) {
      await page.keyboard.press(key);
      const next = await announced(at.text);
      assert.deepEqual([next.col, next.row], [at.col + dc, at.row + dr], `${key} moves one cell`);
      at = next;
      // the opposite arrow comes back
      const back = { ArrowRight: 'ArrowLeft', ArrowLeft: 'ArrowRight', ArrowDown: 'ArrowUp', ArrowUp: 'ArrowDown' }[key];
      await page.keyboard.press(back);
      const returned = await announced(at.text);
      assert.deepEqual([returned.col, returned.row], [at.col - dc, at.row - dr], `${back} moves back`);
      await page.keyboard.press(key);
      at = await announced(returned.text);
    }
    // Find an occupied cell (the grid may have empty ones), then open it.
    for (let tries = 0; at.item < 0 && tries < cols; tries++) {
      await page.keyboard.press(at.col > 0 ? 'ArrowLeft' : 'ArrowRight');
      at = await announced(at.text);
    }
    assert.ok(at.item >= 0, 'reached an occupied cell');
    await page.keyboard.press('Enter');
    await waitForText(page, '#panel .panel-title', titleOf(at.item));
    await page.keyboard.press('Escape');
    await eventually(() => page.locator('#panel').isHidden());
    assert.equal(await page.locator('#panel').isHidden(), true, 'Escape closes the panel');
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('openseadragon-canvas')), true,
      'after Escape the mosaic has the focus again');
    await finish(s);
  });

  test('keyboard: Tab reaches the zoom buttons, which stay shown while focused; Enter and Space press them', async () => {
    const s = await open();
    const { page } = s;
    await page.locator('#viewer .openseadragon-canvas').first().focus();
    const focusedLabel = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
    for (let presses = 0; presses < 8 && (await focusedLabel()) !== 'Zoom in'; presses++) await page.keyboard.press('Tab');
    assert.equal(await focusedLabel(), 'Zoom in', 'Tab from the mosaic reaches the zoom-in button');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('role')), 'button');
    await page.waitForTimeout(3000); // longer than OSD's delay and fade for unused controls
    const shown = await page.evaluate(() => {
      let opacity = 1;
      for (let e = document.activeElement; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
      return opacity;
    });
    assert.ok(shown > 0.9, `the focused button stays visible (opacity ${shown})`);
    const zoom = () => Number(parseHash(page.url()).get('z'));
    await page.keyboard.press('Enter');
    const first = await eventually(async () => zoom() || null);
    assert.ok(first > 0, `Enter on "Zoom in" zooms and the link says so: ${page.url()}`);
    await page.keyboard.press('Enter');
    const second = await eventually(async () => (zoom() > first ? zoom() : null));
    assert.ok(second > first, `a second Enter zooms in further (${first} -> ${zoom()})`);
    await page.keyboard.press('Tab');
    assert.equal(await focusedLabel(), 'Zoom out', 'the next Tab reaches the zoom-out button');
    await page.keyboard.press(' ');
    const third = await eventually(async () => (zoom() < second ? zoom() : null));
    assert.ok(third < second, `Space on "Zoom out" zooms out (${second} -> ${zoom()})`);
    await finish(s);
  });

  test('a title made of markup stays text: panel, tooltip and results show it literally, no dialog', async () => {
    const id = expected.xssId;
    const i = position.get(id);
    const xss = titleOf(i);
    assert.match(xss, /<img/, 'fixture: the markup title');
    const c = cellCentre(items.col[i], items.row[i]);
    const s = await open(`item=${enc(id)}&x=${c.x}&y=${c.y}&z=${CLOSE_ZOOM}`);
    const { page } = s;
    await waitForText(page, '#panel .panel-title', xss);
    assert.equal(await page.locator('#panel .panel-title img').count(), 0);
    const tip = await hoverUntilTitle(page, await viewerCentre(page), xss);
    assert.ok(tip, 'the tooltip shows the markup as text');
    assert.equal(await page.locator('#tooltip img').count(), 0);
    await page.locator('#search').fill('onerror');
    await waitForText(page, '#search-count', '1 found');
    const result = page.locator('#search-results li > button[data-item]').first();
    assert.ok((await result.textContent()).includes(xss), 'the result list shows the markup as text');
    assert.equal(await page.locator('#search-results img').count(), 0);
    await page.waitForTimeout(300); // give an injected onerror time to fire
    await finish(s);
  });

  test('hostile or malformed links are ignored safely; the about page loads cleanly', async () => {
    const markup = '<img src=x onerror=alert(document.domain)>';
    const s = await open(`q=${enc(markup)}&s=${enc(markup)},Nope&item=${enc(markup)}&mode=${enc(markup)}`);
    const { page } = s;
    assert.equal(await page.locator('#search').inputValue(), markup, 'q= is shown as text in the search box');
    await waitForText(page, '#search-count', /^\d+ found$/);
    assert.equal(await page.locator('#panel').isHidden(), true, 'an unknown item id opens nothing');
    await page.waitForTimeout(300); // give an injected onerror time to fire
    assert.equal(await page.evaluate(() => document.querySelectorAll('img[src="x"]').length), 0, 'no <img> from the link');
    await page.goto(`${server.url}#s=%E0%A4%A,Nope&from=abc&to=&item=zzz&x=NaN&y=1&z=-3&mode=weird&q=`);
    await page.reload();
    await waitForViewer(page);
    await waitForText(page, '#match-count', countText(N));
    assert.equal(await page.locator('#panel').isHidden(), true);
    await page.waitForTimeout(300);
    await page.goto(`${server.url}about.html`);
    await page.waitForLoadState('networkidle');
    assert.ok((await page.locator('body').innerText()).includes(collection.title), 'the about page shows the title');
    await finish(s);
  });

  test('more like this: as many neighbours as the site holds, a chunk loaded when a panel first needs it, each opens its item', async () => {
    assert.ok(neighbours, 'the site has data/neighbours/');
    assert.equal(neighbours.k, expected.neighbours, 'the site has the configured k (neighbours.count)');
    assert.ok(neighbours.neighbours.every((list) => list.length === neighbours.k), 'every list holds k neighbours');
    const s = await open();
    const { page } = s;
    await settle(page);
    const fetched = () => s.requests.filter((u) => u.includes('/data/neighbours/')).length;
    assert.equal(fetched(), 0, 'no neighbours are loaded before a panel opens');
    const i = position.get(expected.ids[0]);
    await page.goto(`${server.url}#item=${enc(items.id[i])}`);
    await waitForText(page, '#panel .panel-title', titleOf(i));
    const buttons = page.locator('#similar button[data-item]');
    const wantedIds = neighbours.neighbours[neighbours.id.indexOf(items.id[i])].map((k) => neighbours.id[k]);
    assert.equal(wantedIds.length, neighbours.k);
    await eventually(async () => (await buttons.count()) === wantedIds.length);
    const shown = (await buttons.evaluateAll((els) => els.map((e) => e.getAttribute('data-item')))).map(itemOfButton);
    assert.deepEqual(shown.map((k) => items.id[k]), wantedIds, 'the neighbours, nearest first');
    assert.equal(fetched(), 1, 'one chunk of neighbours is loaded, once');
    const pick = shown[2];
    await buttons.nth(2).click();
    await waitForText(page, '#panel .panel-title', titleOf(pick));
    await eventually(async () => (await buttons.count()) === wantedIds.length);
    const again = (await buttons.evaluateAll((els) => els.map((e) => e.getAttribute('data-item')))).map(itemOfButton);
    const pickIds = neighbours.neighbours[neighbours.id.indexOf(items.id[pick])].map((k) => neighbours.id[k]);
    assert.deepEqual(again.map((k) => items.id[k]), pickIds, 'the opened item shows its own neighbours');
    const chunkOf = (k) => Math.floor(k / collection.items.chunkSize);
    assert.equal(fetched(), new Set([chunkOf(i), chunkOf(pick)]).size, 'each chunk of neighbours is loaded once');
    await finish(s);
  });

  test('export CSV downloads the selection: header id,title,date,url and one row per match', async () => {
    const s = await open();
    const { page } = s;
    const download = async () => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
      assert.equal(file.suggestedFilename(), 'selection.csv');
      return parseCsv(readFileSync(await file.path(), 'utf8'));
    };
    let table = await download();
    assert.deepEqual(table[0], ['id', 'title', 'date', 'url'], 'header');
    assert.equal(table.length - 1, N, 'unfiltered: every item');
    const name = Object.keys(expected.subjects)[0];
    await subjectButton(page, name).click();
    const wanted = expected.subjects[name];
    await waitForText(page, '#match-count', countText(wanted.length));
    table = await download();
    assert.deepEqual(table[0], ['id', 'title', 'date', 'url']);
    assert.deepEqual(table.slice(1).map((r) => r[0]).sort(), [...wanted].sort(), 'the filtered items');
    assert.ok(table.slice(1).some((r) => r[1].startsWith("'=")), 'fixture: a formula-like title is in the export');
    for (const r of table.slice(1)) {
      const k = position.get(r[0]);
      assert.equal(r.length, 4, `row of ${r[0]} has 4 fields`);
      const guarded = (v) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v); // no formulas for spreadsheets
      assert.equal(r[1], guarded(items.title[k]), `title of ${r[0]} survives CSV quoting`);
      assert.equal(r[2], guarded(items.date[k]), `date of ${r[0]}: the catalogue's text`);
      assert.equal(r[3], guarded(items.url[k]), `url of ${r[0]}`);
    }
    await finish(s);
  });
});

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF) into rows of fields. */
export function parseCsv(source) {
  const rowsOut = [];
  let row = [], field = '', quoted = false;
  const s = source.replace(/^\uFEFF/, '');
  for (let k = 0; k < s.length; k++) {
    const ch = s[k];
    if (quoted) {
      if (ch === '"' && s[k + 1] === '"') { field += '"'; k++; }
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && s[k + 1] === '\n') k++;
      row.push(field); rowsOut.push(row); row = []; field = '';
    } else field += ch;
  }
  if (field || row.length) { row.push(field); rowsOut.push(row); }
  return rowsOut;
}
