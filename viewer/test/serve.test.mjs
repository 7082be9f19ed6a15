import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSiteServer, cspForSite, defaultSiteDir, resolveRequestPath } from '../serve.mjs';

function makeSite(parent) {
  const root = join(parent, 'site');
  mkdirSync(join(root, 'tiles'), { recursive: true });
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'index.html'),
    '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'; script-src \'self\'">hi');
  writeFileSync(join(root, 'tiles', 'mosaic.dzi'), '<Image/>');
  writeFileSync(join(root, 'data', 'items.json'), '{}');
  return root;
}

test('request paths cannot leave the site folder', () => {
  const root = '/srv/site';
  assert.equal(resolveRequestPath(root, '/tiles/mosaic.dzi'), '/srv/site/tiles/mosaic.dzi');
  assert.equal(resolveRequestPath(root, '/'), '/srv/site');
  assert.equal(resolveRequestPath(root, '/../etc/passwd'), '/srv/site/etc/passwd');
  assert.equal(resolveRequestPath(root, '/%2e%2e/%2e%2e/etc/passwd'), '/srv/site/etc/passwd');
  assert.equal(resolveRequestPath(root, '/a%00b'), null);
  assert.equal(resolveRequestPath(root, '/..%5c..%5cetc'), null);
  assert.equal(resolveRequestPath(root, '/%E0%A4%A'), null);
});

test('header CSP is the built page\'s policy plus frame-ancestors', () => {
  const html = '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'; img-src \'self\' https:">';
  assert.equal(cspForSite(html), "default-src 'self'; img-src 'self' https:; frame-ancestors 'self'");
  assert.match(cspForSite(''), /script-src 'self'/);
});

test('defaultSiteDir picks the collection whose index.html is newest', (t) => {
  const results = mkdtempSync(join(tmpdir(), 'viewer-results-'));
  t.after(() => rmSync(results, { recursive: true, force: true }));
  for (const [name, age] of [['old', 1000], ['new', 10], ['none', 0]]) {
    mkdirSync(join(results, name, 'site'), { recursive: true });
    if (name === 'none') continue;
    const index = join(results, name, 'site', 'index.html');
    writeFileSync(index, 'x');
    const t = Date.now() / 1000 - age;
    utimesSync(index, t, t);
  }
  assert.equal(defaultSiteDir(results), join(results, 'new', 'site'));
  assert.equal(defaultSiteDir(join(results, 'missing')), null);
});

test('server sends files with MIME types and CSP, and refuses traversal', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'viewer-serve-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  writeFileSync(join(parent, 'viewer-secret.txt'), 'secret'); // beside the site: must stay unreachable
  const root = makeSite(parent);
  const server = createSiteServer(root);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;

  const index = await fetch(`${base}/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  assert.equal(index.headers.get('content-security-policy'), "default-src 'self'; script-src 'self'; frame-ancestors 'self'");

  const dzi = await fetch(`${base}/tiles/mosaic.dzi`);
  assert.match(dzi.headers.get('content-type'), /^application\/xml/);
  assert.equal(await dzi.text(), '<Image/>');
  const json = await fetch(`${base}/data/items.json`);
  assert.match(json.headers.get('content-type'), /^application\/json/);

  const redirect = await fetch(`${base}/tiles`, { redirect: 'manual' });
  assert.equal(redirect.status, 301);
  assert.equal((await fetch(`${base}/nope.js`)).status, 404);
  for (const evil of ['/..%2fviewer-secret.txt', '/%2e%2e/viewer-secret.txt', '/..%5cviewer-secret.txt']) {
    const res = await fetch(base + evil);
    assert.notEqual(res.status, 200, evil);
    assert.notEqual(await res.text(), 'secret');
  }
  assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 405);
});

test('IIIF files are readable from other sites (CORS), the viewer\'s own files are not', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'viewer-serve-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const root = makeSite(parent);
  mkdirSync(join(root, 'tiles', 'iiif', '0,0,128,128', '128,', '0'), { recursive: true });
  writeFileSync(join(root, 'tiles', 'iiif', '0,0,128,128', '128,', '0', 'default.jpg'), 'jpeg');
  mkdirSync(join(root, 'iiif'));
  writeFileSync(join(root, 'iiif', 'manifest.json'), '{}');
  const server = createSiteServer(root);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;
  for (const path of ['/iiif/manifest.json', '/tiles/iiif/0,0,128,128/128,/0/default.jpg']) {
    const res = await fetch(base + path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('access-control-allow-origin'), '*', path);
  }
  assert.equal((await fetch(`${base}/data/items.json`)).headers.get('access-control-allow-origin'), null);
});
