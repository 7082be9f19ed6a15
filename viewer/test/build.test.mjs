import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, makeCsp, osdStyleHash } from '../build.mjs';

test('build writes pages and assets and leaves pipeline folders alone', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'viewer-build-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  for (const dir of ['data', 'tiles', 'thumbs']) {
    mkdirSync(join(out, dir));
    writeFileSync(join(out, dir, 'keep.txt'), dir);
  }
  await build(out);
  for (const dir of ['data', 'tiles', 'thumbs']) assert.equal(readFileSync(join(out, dir, 'keep.txt'), 'utf8'), dir);
  for (const f of ['index.html', 'about.html', 'assets/main.js', 'assets/about.js', 'assets/styles.css',
    'assets/osd-images/home_rest.png', 'assets/osd-images/zoomin_rest.png']) {
    assert.ok(existsSync(join(out, f)), f);
  }
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self';/);
  assert.doesNotMatch(html, /unsafe-inline|unsafe-eval|\{\{/);
  assert.doesNotMatch(html, /<script>|<script(?![^>]*\bsrc=)/); // no inline script
  assert.match(html, /href="about.html"/);
  assert.match(readFileSync(join(out, 'about.html'), 'utf8'), /href="index.html"/);
  assert.match(readFileSync(join(out, 'assets/main.js'), 'utf8'), /osd-images\//);
  await build(out); // rebuilding over an existing site works
});

test('CSP allows exactly the style OpenSeadragon injects', async () => {
  const hash = await osdStyleHash();
  assert.match(hash, /^'sha256-[A-Za-z0-9+/]+=*'$/);
  const fake = "style.textContent =\n  '@media a {' +\n  '}';";
  assert.equal(await osdStyleHash(fake), "'sha256-" +
    (await import('node:crypto')).createHash('sha256').update('@media a {}').digest('base64') + "'");
  const csp = makeCsp([hash]);
  assert.match(csp, /img-src 'self' https: data: blob:/);
  assert.match(csp, /connect-src 'self'/);
  assert.ok(csp.includes(`style-src 'self' ${hash}`));
});
