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
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, newContext, openPage, readSite, serveSite, waitForMark, waitForViewer } from './harness.mjs';

const SITE = process.env.E2E_SITE;
const EXPECTED = process.env.E2E_EXPECTED;
const ARTIFACTS = process.env.E2E_ARTIFACTS || '';
if (!SITE || !EXPECTED) throw new Error('run through e2e/run.mjs <site dir> --expected <expected.json>');

const expected = JSON.parse(readFileSync(EXPECTED, 'utf8'));
const { collection, items, neighbours, hotspotOf, arrangements, facets } = readSite(SITE);
const { cols, rows, cellWidth: cw, cellHeight: ch } = collection.grid;
const W = cols * cw;
const H = rows * ch;
const N = items.count;
const position = new Map(items.id.map((id, i) => [id, i])); // id -> item position
const cellItem = new Map(items.id.map((id, i) => [`${items.col[i]},${items.row[i]}`, i]));
const itemAt = (col, row) => cellItem.get(`${col},${row}`) ?? -1;
const titleOf = (i) => items.title[i] || 'Untitled';
/** The item at (col, row) of an arrangement (readSite's), -1 for an empty cell. */
const arrangedItemAt = (arrangement) => {
  const at = new Map(items.id.map((_, i) => [`${arrangement.col[i]},${arrangement.row[i]}`, i]));
  return (col, row) => at.get(`${col},${row}`) ?? -1;
};
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

/**
 * A new page on the whole mosaic, reloaded at its link so that every cell can be measured: the session,
 * its page and the view (wholeMosaicView).
 */
async function openWholeMosaic() {
  const s = await open();
  const view = await wholeMosaicView(s.page);
  await s.page.goto(`${server.url}#${view.hash}`);
  await s.page.reload();
  await waitForViewer(s.page);
  await settle(s.page);
  return { s, page: s.page, view };
}

/**
 * Hash that shows the whole mosaic, and the page-pixel rectangle of each cell under it; `grid`: that of the
 * arrangement on screen (the similarity grid by default).
 */
async function wholeMosaicView(page, grid = collection.grid) {
  const { cellWidth: cw, cellHeight: ch } = grid;
  const W = grid.cols * cw, H = grid.rows * ch;
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
 * see a veil on. Returns [{item, rect}]. `arrangement`: the one on screen (readSite's), similarity by default.
 */
async function measurableCells(page, view, arrangement = null) {
  const obstacles = await viewerObstacles(page);
  const cells = [];
  const grid = arrangement?.grid ?? collection.grid;
  const at = arrangement ? arrangedItemAt(arrangement) : itemAt;
  for (let row = 0; row < grid.rows; row++) {
    for (let col = 0; col < grid.cols; col++) {
      const item = at(col, row);
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

/** Is (x, y) inside the polygon [[x, y], ...]? (even-odd rule) */
function insidePolygon(corners) {
  return (x, y) => {
    let inside = false;
    for (let k = 0, j = corners.length - 1; k < corners.length; j = k++) {
      const [xk, yk] = corners[k], [xj, yj] = corners[j];
      if ((yk > y) !== (yj > y) && x < ((xj - xk) * (y - yk)) / (yj - yk) + xk) inside = !inside;
    }
    return inside;
  };
}

/** The least distance (grid units) from any cell centre of the grid to an edge of the polygon. */
function clearance(corners) {
  let least = Infinity;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [px, py] = [c + 0.5, r + 0.5];
      corners.forEach(([ax, ay], k) => {
        const [bx, by] = corners[(k + 1) % corners.length];
        const t = Math.max(0, Math.min(1, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)));
        least = Math.min(least, Math.hypot(px - ax - t * (bx - ax), py - ay - t * (by - ay)));
      });
    }
  }
  return least;
}

/** Press at the first page point, drag through the others in small steps, release at the last. */
async function drawPath(page, points) {
  await page.mouse.move(points[0].x, points[0].y);
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(p.x, p.y, { steps: 8 });
  await page.mouse.up();
}

/**
 * Wait for the view to come to rest (the hash's x, y, z stop changing), then check that every member's cell
 * (in `arrangement`, readSite's) is in view and that the view is no wider than their box with a cell each side.
 */
async function assertViewFits(page, arrangement, members, label) {
  let last = null;
  const still = await eventually(async () => {
    const h = parseHash(page.url());
    const now = h.get('z') ? `${h.get('x')},${h.get('y')},${h.get('z')}` : null;
    const same = now && now === last;
    last = now;
    return same ? h : null;
  }, 8000, 500);
  assert.ok(still, `${label}: the view comes to rest and the link says where (${page.url()})`);
  const { grid } = arrangement;
  const width = grid.cols * grid.cellWidth;
  const [x, y, z] = ['x', 'y', 'z'].map((k) => Number(still.get(k)));
  const box = await page.locator('#viewer').boundingBox();
  const aspect = box.height / box.width;
  const view = { x0: x - 0.5 / z, x1: x + 0.5 / z, y0: y - aspect / 2 / z, y1: y + aspect / 2 / z };
  const unit = (n, size) => (n * size) / width; // grid cells to viewport units
  const outside = members.filter((i) => {
    const cx = unit(arrangement.col[i] + 0.5, grid.cellWidth), cy = unit(arrangement.row[i] + 0.5, grid.cellHeight);
    return !(cx > view.x0 && cx < view.x1 && cy > view.y0 && cy < view.y1);
  });
  assert.deepEqual(outside.map((i) => items.id[i]), [], `${label}: every member's cell is in view`);
  const spanX = unit(Math.max(...members.map((i) => arrangement.col[i])) - Math.min(...members.map((i) => arrangement.col[i])) + 3, grid.cellWidth);
  const spanY = unit(Math.max(...members.map((i) => arrangement.row[i])) - Math.min(...members.map((i) => arrangement.row[i])) + 3, grid.cellHeight);
  const fits = Math.max(spanX, spanY / aspect);
  assert.ok(view.x1 - view.x0 <= fits * 1.1, `${label}: the view (${(view.x1 - view.x0).toFixed(3)} wide) fits the members' box (${fits.toFixed(3)})`);
}

/** The entries of a ZIP file as Python's zipfile reads them (every CRC tested): [{name, hex}]. */
function readZip(path) {
  const script = `import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, "a CRC does not match"
print(json.dumps([{"name": i.filename, "hex": z.read(i).hex()} for i in z.infolist()]))`;
  return JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8', maxBuffer: 64 << 20 }));
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
    const { s, page, view } = await openWholeMosaic();
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

  test('the treemap has a tile for every named subject items.json offers, none for "Other"; small tiles are named when focused', async () => {
    const s = await open();
    const { page } = s;
    const other = items.subjectNames.at(-1) === 'Other' ? items.subjectNames.length - 1 : -1; // the catch-all: no tile
    const offered = items.subjectNames.filter((_, k) => items.subjectCounts[k] > 0 && k !== other);
    assert.equal(offered.length, expected.subjectTiles, 'fixture: items.json offers subjects_top subjects (and "Other")');
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
    // The link is applied once the unknown item= id has been looked up (a fetch): wait for its search's count.
    await waitForText(page, '#search-count', /^\d+ found$/);
    assert.equal(await page.locator('#search').inputValue(), markup, 'q= is shown as text in the search box');
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

  // --- exploring: hotspots, arrangements, the selection, facets ---

  test('hotspots: the largest listed with picture, label and count; pointing outlines one, a click flies to its region', async () => {
    const spots = collection.hotspots;
    assert.equal(spots.length, expected.hotspots, 'fixture: the site has hotspots.count hotspots');
    const s = await open();
    const { page } = s;
    const buttons = page.locator('#hotspot-list button[data-hotspot]');
    await eventually(async () => (await buttons.count()) === Math.min(12, spots.length));
    const listed = await buttons.evaluateAll((els) => els.map((e) => ({
      label: e.querySelector('.hotspot-label').textContent, count: e.querySelector('.hotspot-count').textContent,
      aria: e.getAttribute('aria-label'), title: e.title,
    })));
    listed.forEach((b, h) => {
      assert.equal(b.label, spots[h].label, `hotspot ${h}: its label`);
      assert.equal(b.count, String(spots[h].size));
      assert.equal(b.aria, `${spots[h].label}, ${spots[h].size} item${spots[h].size === 1 ? '' : 's'}`);
      assert.ok(b.title.includes(`Picture id ${spots[h].key}`), `the tooltip names the picture a curator renames it by: ${b.title}`);
    });
    const thumbs = await eventually(async () => {
      const srcs = await buttons.evaluateAll((els) => els.map((e) => e.querySelector('img').getAttribute('src')));
      return srcs.every(Boolean) ? srcs : null;
    });
    assert.deepEqual(thumbs, spots.slice(0, 12).map((h) => items.thumb[h.representative]), 'each shows its representative\'s thumbnail');
    const fetched = () => s.requests.filter((u) => u.endsWith('/data/hotspots.bin')).length;
    assert.equal(fetched(), 0, 'hotspots.bin is fetched when first needed, not at start');

    // Pointing at one outlines it on the mosaic (the overlay canvas shows); leaving hides the outline again.
    const overlayShown = () => page.evaluate(() => !document.querySelector('.mosaic-overlay')?.hidden);
    await buttons.first().hover();
    assert.ok(await eventually(overlayShown), 'a hotspot pointed at is outlined');
    assert.equal(fetched(), 1);
    await page.mouse.move(5, 5);
    assert.ok(await eventually(async () => !(await overlayShown())), 'the outline goes with the pointer');

    // A hotspot of several cells: Enter on it flies there, the view fitting its members' cells.
    const target = spots.map((h, k) => ({ ...h, k })).filter((h) => h.size >= 2).at(-1);
    assert.ok(target, 'fixture: a hotspot of two cells or more');
    const members = items.id.flatMap((_, i) => (hotspotOf[i] === target.k ? [i] : []));
    assert.equal(members.length, target.size);
    await page.locator(`#hotspot-list button[data-hotspot="${target.k}"]`).focus();
    await page.keyboard.press('Enter');
    await assertViewFits(page, arrangements.get('similarity'), members, 'similarity');
    await waitForText(page, '#live', `${target.label}: ${target.size} items outlined on the mosaic`);
    await finish(s);

    // In another arrangement its members lie elsewhere: the flight goes where they are now.
    const other = [...arrangements.values()].find((a) => a.name !== 'similarity');
    assert.ok(other, 'fixture: the site has another arrangement');
    const s2 = await open(`a=${other.name}`);
    await s2.page.locator(`#hotspot-list button[data-hotspot="${target.k}"]`).click();
    await assertViewFits(s2.page, other, members, other.name);
    assert.equal(parseHash(s2.page.url()).get('a'), other.name);
    await finish(s2);
  });

  test('arrangements: switching shows another mosaic, keeping filters, search and the open item; the link restores it', async () => {
    assert.deepEqual([...arrangements.keys()], ['similarity', 'date', 'subject'], 'fixture: the three arrangements');
    const date = arrangements.get('date');
    const name = Object.keys(expected.subjects)[0];
    const subject = new Set(expected.subjects[name]);
    const openId = [...subject].find((id) => date.col[position.get(id)] < date.grid.cols - 1);
    const open1 = position.get(openId);
    const s = await open(`s=${enc(name)}&q=${enc('picture')}&item=${enc(openId)}`);
    const { page } = s;
    await waitForText(page, '#search-count', /^\d+ found$/);
    const matching = await matchCount(page);
    await waitForText(page, '#panel .panel-title', titleOf(open1));
    assert.equal(s.requests.filter((u) => u.includes('/arrangements/')).length, 0, 'no arrangement is fetched before a switch');
    const radio = (arrangement) => page.locator(`#arrangement input[value="${arrangement}"]`);
    assert.equal(await radio('similarity').isChecked(), true);

    const check = async (label) => {
      assert.equal(await radio('date').isChecked(), true, `${label}: "By date" is chosen`);
      await waitForText(page, '#match-count', matching); // the filters and the search stay (the search answers later)
      assert.equal(await page.locator('#search').inputValue(), 'picture');
      assert.equal(await pressed(page, name), 'true');
      await waitForText(page, '#panel .panel-title', titleOf(open1));
      assert.equal(parseHash(page.url()).get('a'), 'date', `${label}: the link says a=date (${page.url()})`);
      // the view is on the open item's cell in the date arrangement: hovering the centre names it
      const tip = await hoverUntilTitle(page, await viewerCentre(page), titleOf(open1));
      assert.ok(tip, `${label}: the open item is in the middle of the date mosaic`);
      await page.mouse.move(5, 5);
    };
    await page.locator('#arrangement label:has(input[value="date"])').click();
    await eventually(async () => parseHash(page.url()).get('a') === 'date');
    assert.ok(s.requests.some((u) => u.endsWith(`/${date.cells}`)), 'its cell column is fetched');
    const switched = await eventually(() => page.evaluate(() => performance.getEntriesByName('arrangement-switch', 'measure').length));
    assert.equal(switched, 1, 'its first tile drawn ends an arrangement-switch measure');
    assert.ok(s.requests.some((u) => u.includes(date.dzi.replace(/\.dzi$/, ''))), 'of its own pyramid');
    await check('after the switch');
    await page.reload();
    await waitForViewer(page);
    await check('after a reload');
    const early = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name)
      .filter((u) => u.includes('/tiles/') && !u.includes('/arrangements/')));
    assert.deepEqual(early, [], 'a link with a=date opens the date pyramid only, not the similarity one first');

    // Keyboard in the date arrangement: the focus cell moves on its grid and #live names its item.
    await page.locator('#viewer .openseadragon-canvas').first().focus();
    await page.keyboard.press('ArrowRight');
    const at = arrangedItemAt(date);
    const spoken = await eventually(async () => {
      const m = /^(.*), row (\d+), column (\d+)$/s.exec(await text(page, '#live'));
      return m && Number(m[3]) - 1 === date.col[open1] + 1 ? m : null;
    });
    assert.ok(spoken, `ArrowRight moves right of the open item on the date grid (#live: "${await text(page, '#live')}")`);
    const right = at(date.col[open1] + 1, date.row[open1]);
    assert.ok(right < 0 ? spoken[1] === 'Empty cell' : spoken[1].startsWith(titleOf(right)), `announced: ${spoken[0]}`);

    // Back to similarity: the link loses a=, the open item stays.
    await page.locator('#arrangement label:has(input[value="similarity"])').click();
    await eventually(async () => !parseHash(page.url()).has('a'));
    assert.equal(parseHash(page.url()).has('a'), false);
    await waitForText(page, '#panel .panel-title', titleOf(open1));
    await finish(s);
  });

  test('arrangements: the dimming mask and the group labels follow the date arrangement', async () => {
    const date = arrangements.get('date');
    assert.ok(date.groups.length > 1, 'fixture: the date arrangement has groups');
    const s = await open('a=date');
    const { page } = s;
    const view = await wholeMosaicView(page, date.grid);
    await page.goto(`${server.url}#a=date&${view.hash}`);
    await page.reload();
    await waitForViewer(page);
    await settle(page);
    const cells = await measurableCells(page, view, date);
    const baseline = await cellBrightness(page, cells.map((c) => c.rect));
    const name = Object.keys(expected.subjects)[1];
    await subjectButton(page, name).click();
    await waitForText(page, '#match-count', countText(expected.subjects[name].length));
    await assertDimmed(page, cells, baseline, new Set(expected.subjects[name]), `subject ${name} on the date mosaic`);
    // Each group's label is drawn over the top left of its box: hiding the overlay canvas changes those pixels.
    const labels = date.groups.map((g) => ({ ...view.rect(g.box[0], g.box[1]), width: 40, height: 20 }));
    const shown = await cellBrightness(page, labels);
    await page.evaluate(() => { document.querySelector('.mosaic-overlay').style.visibility = 'hidden'; });
    const bare = await cellBrightness(page, labels);
    date.groups.forEach((g, k) => assert.ok(Math.abs(shown[k] - bare[k]) > 10,
      `the label of ${g.label} is drawn (brightness ${bare[k].toFixed(0)} without, ${shown[k].toFixed(0)} with it)`));
    await finish(s);
  });

  test('selection: a lasso selects exactly the cells whose centres are inside; counted, kept bright, combined, cleared with Escape', async () => {
    const { s, page, view } = await openWholeMosaic();
    const cells = await measurableCells(page, view);
    const baseline = await cellBrightness(page, cells.map((c) => c.rect));
    // A triangle over the grid, in grid units (cell (c, r) spans [c, c + 1] x [r, r + 1]), well clear of centres.
    const corners = [[0.3, 4.1], [4, 3.9], [4.2, 0.4]];
    const toPage = ([gx, gy]) => {
      const r = view.rect(0, 0);
      return { x: r.x + gx * r.width, y: r.y + gy * r.height };
    };
    const inside = insidePolygon(corners);
    const selected = new Set(items.id.filter((_, i) => inside(items.col[i] + 0.5, items.row[i] + 0.5)));
    assert.ok(selected.size >= 3 && selected.size < N - 3, `fixture: the lasso takes some cells, not all (${selected.size})`);
    assert.ok(clearance(corners) > 0.15, 'fixture: no cell centre lies near the lasso\'s edge');

    await page.keyboard.press('l');
    assert.equal(await page.locator('#select-mode').getAttribute('aria-pressed'), 'true', 'L turns selection mode on');
    await waitForText(page, '#live', /^Selection mode/);
    await drawPath(page, [...corners, corners[0]].map(toPage));
    await waitForText(page, '#selection-count', `${selected.size} selected`);
    assert.equal(await matchCount(page), countText(selected.size), 'the selection counts as a filter');
    await assertDimmed(page, cells, baseline, selected, 'lasso');
    const measured = await page.evaluate(() => performance.getEntriesByName('filter-update', 'measure').length);
    assert.ok(measured > 0);

    // The selection ANDs with a subject filter.
    const name = Object.keys(expected.subjects)[0];
    await subjectButton(page, name).click();
    const both = [...selected].filter((id) => expected.subjects[name].includes(id));
    await waitForText(page, '#match-count', countText(both.length));
    await subjectButton(page, name).click();

    // A rectangle (Shift) replaces it: the cells with centres between its corners.
    const [a, b] = [[0.6, 0.6], [2.4, 2.7]];
    const rectangle = new Set(items.id.filter((_, i) => {
      const x = items.col[i] + 0.5, y = items.row[i] + 0.5;
      return x > a[0] && x < b[0] && y > a[1] && y < b[1];
    }));
    await page.keyboard.down('Shift');
    await drawPath(page, [a, [b[0], a[1]], b].map(toPage));
    await page.keyboard.up('Shift');
    await waitForText(page, '#selection-count', `${rectangle.size} selected`);
    await assertDimmed(page, cells, baseline, rectangle, 'rectangle');

    // Escape clears it; a second Escape leaves selection mode.
    await page.locator('#viewer .openseadragon-canvas').first().focus();
    await page.keyboard.press('Escape');
    await waitForText(page, '#match-count', countText(N));
    assert.equal(await text(page, '#selection-count'), '');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#select-mode').getAttribute('aria-pressed'), 'false');
    await finish(s);
  });

  test('selection exports: CSV and JSON of the selected records, a ZIP of their thumbnails and the CSV', async () => {
    const s = await open();
    const { page } = s;
    const view = await wholeMosaicView(page);
    await page.goto(`${server.url}#${view.hash}`);
    await page.reload();
    await waitForViewer(page);
    const toPage = ([gx, gy]) => {
      const r = view.rect(0, 0);
      return { x: r.x + gx * r.width, y: r.y + gy * r.height };
    };
    await page.locator('#select-mode').click();
    await page.locator('#select-shape label:has(input[value="rectangle"])').click();
    const [a, b] = [[0.6, 0.6], [3.4, 2.4]];
    const chosen = items.id.flatMap((_, i) => {
      const x = items.col[i] + 0.5, y = items.row[i] + 0.5;
      return x > a[0] && x < b[0] && y > a[1] && y < b[1] ? [i] : [];
    }); // in position order, as the exports list them
    await drawPath(page, [a, b].map(toPage));
    await waitForText(page, '#selection-count', `${chosen.length} selected`);

    const download = async (button, name) => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.locator(button).click()]);
      assert.equal(file.suggestedFilename(), name);
      return file.path();
    };
    const csvText = readFileSync(await download('#export-csv', 'selection.csv'), 'utf8');
    const csv = parseCsv(csvText);
    assert.deepEqual(csv.slice(1).map((r) => r[0]), chosen.map((i) => items.id[i]), 'CSV: the selected items');
    const json = JSON.parse(readFileSync(await download('#export-json', 'selection.json'), 'utf8'));
    assert.deepEqual(json.map((r) => r.id), chosen.map((i) => items.id[i]), 'JSON: the selected records');
    json.forEach((r, k) => {
      const i = chosen[k];
      assert.equal(r.title, items.title[i]);
      assert.equal(r.thumb, items.thumb[i]);
      assert.deepEqual(r.subjects, items.subjects[i].map((x) => items.subjectNames[x]));
    });
    const zip = await download('#export-zip', 'selection.zip');
    const listing = readZip(zip);
    assert.deepEqual(listing.map((e) => e.name), ['selection.csv', ...chosen.map((i) => `thumbs/${items.thumb[i].split('/').pop()}`)],
      'the ZIP holds the CSV and each selected item\'s thumbnail');
    assert.equal(Buffer.from(listing[0].hex, 'hex').toString('utf8'), csvText, 'the CSV in the ZIP is the CSV export');
    chosen.forEach((i, k) => {
      assert.equal(listing[k + 1].hex, readFileSync(join(SITE, items.thumb[i])).toString('hex'), `thumbnail of ${items.id[i]}: the site's bytes`);
    });
    await finish(s);
  });

  test('facets: the place filter lists its values with counts, dims the right cells, ANDs with subjects, and is in the link', async () => {
    const facet = facets.get(expected.facet.name);
    assert.ok(facet, 'fixture: the site has the place facet');
    const { s, page, view } = await openWholeMosaic();
    const block = page.locator(`#facets section[data-facet="${facet.name}"]`);
    assert.equal(await text(page, `#facets section[data-facet="${facet.name}"] h2`), expected.facet.label);
    const rowsShown = await block.locator('label').evaluateAll((els) => els.map((e) => [
      e.querySelector('.facet-name').textContent, Number(e.querySelector('.facet-count').textContent)]));
    assert.deepEqual(rowsShown, facet.values.map((v, k) => [v, facet.counts[k]]), 'every value with its count, most frequent first');
    for (const [value, ids] of Object.entries(expected.facet.values)) {
      assert.equal(facet.counts[facet.values.indexOf(value)], ids.length, `count of ${value}`);
    }
    assert.equal(s.requests.filter((u) => u.includes('/data/facets/')).length, 0, 'the facet\'s files wait until it is used');
    const cells = await measurableCells(page, view);
    const baseline = await cellBrightness(page, cells.map((c) => c.rect));
    const check = (value) => block.locator(`input[data-value="${value}"]`).check();

    await check('Paris');
    const paris = new Set(expected.facet.values.Paris);
    await waitForText(page, '#match-count', countText(paris.size));
    assert.ok(s.requests.some((u) => u.includes('/data/facets/')), 'now they are fetched');
    await assertDimmed(page, cells, baseline, paris, 'place Paris');
    await check('Lyon');
    const either = new Set([...paris, ...expected.facet.values.Lyon]);
    await waitForText(page, '#match-count', countText(either.size));
    await assertDimmed(page, cells, baseline, either, 'place Paris or Lyon');
    await eventually(async () => parseHash(page.url()).get(`f.${facet.name}`));
    assert.equal(parseHash(page.url()).get(`f.${facet.name}`), 'Paris,Lyon', `the link: ${page.url()}`);

    const name = Object.keys(expected.subjects)[0];
    await subjectButton(page, name).click();
    const both = [...either].filter((id) => expected.subjects[name].includes(id));
    await waitForText(page, '#match-count', countText(both.length));
    await page.reload();
    await waitForViewer(page);
    await waitForText(page, '#match-count', countText(both.length));
    assert.equal(await block.locator('input[data-value="Lyon"]').isChecked(), true, 'a reload keeps the checked values');
    await assertDimmed(page, cells, baseline, new Set(both), `place and subject ${name} after a reload`);
    await page.locator('#reset-all').click();
    await waitForText(page, '#match-count', countText(N));
    assert.equal(await block.locator('input:checked').count(), 0, 'reset all unchecks the facet');
    await finish(s);
  });

  test('facets: a number facet draws its histogram when in view; typed ends and the brush filter, both ends included', async () => {
    const wanted = expected.numberFacet;
    const facet = collection.facets.find((f) => f.name === wanted.name);
    assert.ok(facet && facet.kind === 'number', 'fixture: the site has the size facet');
    const { s, page, view } = await openWholeMosaic();
    const cells = await measurableCells(page, view);
    const baseline = await cellBrightness(page, cells.map((c) => c.rect));
    const block = page.locator(`#facets section[data-facet="${facet.name}"]`);
    assert.equal(await text(page, `#facets section[data-facet="${facet.name}"] h2`), wanted.label);
    const fetched = () => s.requests.filter((u) => u.endsWith(`/${facet.file}`)).length;
    const chart = block.locator('.facet-histogram');
    const offScreen = await chart.evaluate((el) => el.getBoundingClientRect().top > document.getElementById('filters').getBoundingClientRect().bottom);
    if (offScreen) assert.equal(fetched(), 0, 'the facet\'s file waits until its histogram is in view');
    await chart.scrollIntoViewIfNeeded();
    await eventually(async () => (await chart.locator('svg rect.selected').count()) > 0);
    assert.equal(fetched(), 1, 'its file is fetched once it shows');
    const bars = await chart.locator('svg rect.selected').count();
    assert.ok(bars >= 2, `a bar per span of sizes (${bars})`);

    const [from, to] = [block.locator('input[type="number"]').first(), block.locator('input[type="number"]').last()];
    await from.fill(String(wanted.from));
    await from.press('Tab');
    await to.fill(String(wanted.to));
    await to.press('Tab');
    const inRange = new Set(wanted.ids);
    await waitForText(page, '#match-count', countText(inRange.size));
    await assertDimmed(page, cells, baseline, inRange, `size ${wanted.from}-${wanted.to}`);
    assert.equal(parseHash(page.url()).get(`f.${facet.name}`), `${wanted.from},${wanted.to}`, `the link: ${page.url()}`);
    await page.reload();
    await waitForViewer(page);
    await waitForText(page, '#match-count', countText(inRange.size));
    assert.equal(await from.inputValue(), String(wanted.from), 'a reload keeps the range');
    assert.equal(await to.inputValue(), String(wanted.to));

    // The brush: a drag over the middle of the chart sets a range of whole bars, shown in the inputs.
    await block.locator('button', { hasText: 'Reset' }).click();
    await waitForText(page, '#match-count', countText(N));
    await chart.scrollIntoViewIfNeeded();
    await eventually(async () => (await chart.locator('svg rect.selected').count()) > 0);
    const box = await chart.locator('svg').boundingBox();
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.5, { steps: 6 });
    await page.mouse.up();
    const low = Number(await eventually(async () => from.inputValue()));
    const high = Number(await to.inputValue());
    assert.ok(low < high, `the brush sets both ends (${low} to ${high})`);
    const size = (id) => wanted.sizes[id];
    const brushed = items.id.filter((id) => size(id) !== null && size(id) >= low && size(id) <= high);
    await waitForText(page, '#match-count', countText(brushed.length));
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
