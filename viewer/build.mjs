#!/usr/bin/env node
/**
 * Build the static viewer into a site folder:  node build.mjs --out <dir> [--dev]
 * (without --out it builds into viewer/dist, handy for a quick check).
 *
 * Writes <dir>/index.html, <dir>/about.html and <dir>/assets/ (bundled JS/CSS and
 * OpenSeadragon's button images). Never touches <dir>/data, <dir>/tiles or <dir>/thumbs,
 * which the pipeline writes. Runs at workflow time, so esbuild is a runtime dependency.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const OSD_JS = join(here, 'node_modules/openseadragon/build/openseadragon/openseadragon.js');

/**
 * CSP hash of the one <style> element OpenSeadragon injects at start-up. Allowing exactly
 * that text keeps style-src free of 'unsafe-inline' (OSD's other styling goes through the
 * CSSOM, which CSP does not restrict). Read from the installed OSD so an upgrade stays right.
 */
export async function osdStyleHash(source) {
  source ??= await readFile(OSD_JS, 'utf8');
  const m = /style\.textContent\s*=\s*((?:\s*(?:'[^'\n]*'|"[^"\n]*")\s*\+?)+);/.exec(source);
  if (!m) return null;
  const text = [...m[1].matchAll(/'([^'\n]*)'|"([^"\n]*)"/g)].map((x) => x[1] ?? x[2]).join('');
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}

/** Content-Security-Policy for static hosting (serve.mjs sends the same one as a header). */
export function makeCsp(styleHashes = []) {
  return [
    "default-src 'self'",
    "script-src 'self'",
    ["style-src 'self'", ...styleHashes].join(' '),
    "img-src 'self' https: data: blob:",
    "connect-src 'self'",
    "worker-src 'self' blob:", // OpenSeadragon may decode tiles in a worker it makes from a blob
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'none'",
  ].join('; ');
}

function parseArgs(argv) {
  const args = { out: null, dev: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out' || a === '-o') args.out = argv[++i];
    else if (a.startsWith('--out=')) args.out = a.slice(6);
    else if (a === '--dev') args.dev = true;
    else if (a === '--help' || a === '-h') args.help = true;
    else throw new Error(`unknown argument: ${a}`);
  }
  return args;
}

async function loadEsbuild() {
  const osdImages = join(here, 'node_modules/openseadragon/build/openseadragon/images');
  if (!existsSync(join(here, 'node_modules')) || !existsSync(osdImages)) {
    throw new Error(`node_modules are missing: run npm install in viewer/ (${here})`);
  }
  try {
    return { esbuild: await import('esbuild'), osdImages };
  } catch (err) {
    throw new Error(`esbuild could not be loaded (${err.message}): run npm install in viewer/ (${here})`);
  }
}

/** Bundle into outDir; `dev` skips minification and adds source maps. */
export async function build(outDir, { dev = false } = {}) {
  const { esbuild, osdImages } = await loadEsbuild();
  const out = resolve(outDir);
  const assets = join(out, 'assets');
  await rm(assets, { recursive: true, force: true }); // only our own folder: data/tiles/thumbs stay
  await mkdir(assets, { recursive: true });

  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: ['src/main.js', 'src/search-worker.js', 'src/about.js', 'src/styles.css'],
    outdir: assets,
    bundle: true,
    format: 'esm',
    target: ['es2020'],
    minify: !dev,
    sourcemap: dev ? 'linked' : false,
    legalComments: 'linked',
    logLevel: 'warning',
    write: false,
  });
  const hash = createHash('sha256');
  for (const file of result.outputFiles) {
    hash.update(file.contents);
    await writeFile(file.path, file.contents);
  }
  const version = hash.digest('hex').slice(0, 10);

  await cp(osdImages, join(assets, 'osd-images'), { recursive: true });

  const styleHash = await osdStyleHash();
  if (!styleHash) console.warn('build.mjs: OpenSeadragon\'s injected <style> not found; CSP may report it');
  const csp = makeCsp(styleHash ? [styleHash] : []);
  for (const page of ['index.html', 'about.html']) {
    const template = await readFile(join(here, 'src', page), 'utf8');
    const html = template.replaceAll('{{CSP}}', csp).replaceAll('{{VERSION}}', version);
    await writeFile(join(out, page), html);
  }
  return { out, files: (await readdir(assets)).length };
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    const args = parseArgs(process.argv.slice(2));
    if (args.help) {
      console.log('usage: node build.mjs [--out <site dir>] [--dev]   (writes index.html, about.html, assets/)');
      process.exit(0);
    }
    args.out ??= join(here, 'dist');
    const started = Date.now();
    const { out } = await build(args.out, { dev: args.dev });
    console.log(`Built viewer into ${out} in ${Date.now() - started} ms`);
  } catch (err) {
    console.error(`build.mjs: ${err.message}`);
    process.exit(1);
  }
}
