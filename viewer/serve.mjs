#!/usr/bin/env node
/**
 * Dependency-free static server for a built site:  node serve.mjs [site dir]
 *
 * Site dir: first argument, else $SITE_DIR, else the most recently built ../results/*\/site
 * (newest index.html). PORT (default 8080) and HOST (default 127.0.0.1) from the environment.
 * Only serves files inside the site dir, with explicit MIME types and the viewer's CSP.
 */
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.dzi': 'application/xml; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

// Used only when the site's index.html carries no CSP <meta> (e.g. an old build).
const FALLBACK_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' https: data: blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'";

/**
 * The header CSP: the policy build.mjs wrote into index.html's <meta> (so both agree), plus
 * frame-ancestors, which only works as a header.
 */
export function cspForSite(indexHtml) {
  const m = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/i.exec(indexHtml || '');
  const base = m ? m[1].replaceAll('&#39;', "'").replaceAll('&quot;', '"') : FALLBACK_CSP;
  return `${base}; frame-ancestors 'self'`;
}

/** Newest ../results/<name>/site (by its index.html mtime), or null. */
export function defaultSiteDir(resultsDir = resolve(here, '..', 'results')) {
  if (!existsSync(resultsDir)) return null;
  let best = null, bestTime = -Infinity;
  for (const name of readdirSync(resultsDir)) {
    const index = join(resultsDir, name, 'site', 'index.html');
    try {
      const t = statSync(index).mtimeMs;
      if (t > bestTime) { best = dirname(index); bestTime = t; }
    } catch { /* no built site in this collection */ }
  }
  return best;
}

/**
 * Map a request path to a file under root, or null if it escapes root or is malformed.
 * Decoding happens before normalising so %2e%2e / %2f cannot smuggle "..".
 */
export function resolveRequestPath(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath.split('?')[0].split('#')[0]);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const rel = normalize(decoded).replace(/^([/\\])+/, '');
  const full = resolve(root, rel);
  if (full !== root && !full.startsWith(root + sep)) return null;
  return full;
}

/** The IIIF manifest and image service, which viewers hosted elsewhere (Mirador, UV) must be able to read. */
export function isIiifPath(pathname) {
  return pathname.startsWith('/iiif/') || pathname.startsWith('/tiles/iiif/');
}

export function createSiteServer(root) {
  root = resolve(root);
  let csp;
  try {
    csp = cspForSite(readFileSync(join(root, 'index.html'), 'utf8'));
  } catch {
    csp = cspForSite('');
  }
  return createServer(async (req, res) => {
    const headers = {
      'Content-Security-Policy': csp,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    };
    if (isIiifPath(new URL(req.url, 'http://x').pathname)) {
      headers['Access-Control-Allow-Origin'] = '*'; // IIIF viewers on other sites read these files
    }
    const send = (status, text) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : `${text}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(405, 'Method not allowed');
    }
    let file = resolveRequestPath(root, new URL(req.url, 'http://x').pathname);
    if (!file) return send(400, 'Bad request');
    try {
      let info = await stat(file);
      if (info.isDirectory()) {
        const pathname = new URL(req.url, 'http://x').pathname;
        if (!pathname.endsWith('/')) { // so relative URLs in index.html resolve inside the folder
          res.writeHead(301, { ...headers, Location: `${pathname}/` });
          return res.end();
        }
        file = join(file, 'index.html');
        info = await stat(file);
      }
      if (!info.isFile()) return send(404, 'Not found');
      const type = MIME[extname(file).toLowerCase()] || 'application/octet-stream';
      res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': info.size });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).on('error', () => res.destroy()).pipe(res);
    } catch {
      send(404, 'Not found');
    }
  });
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const arg = process.argv[2] || process.env.SITE_DIR;
  const site = arg ? resolve(arg) : defaultSiteDir();
  if (!site) {
    console.error('serve.mjs: no built site found under ../results/*/site: run the workflow first: snakemake --cores 2');
    process.exit(1);
  }
  if (!existsSync(join(site, 'index.html'))) {
    console.error(`serve.mjs: ${site} has no index.html: run the workflow first: snakemake --cores 2` +
      ' (or node build.mjs --out <dir>)');
    process.exit(1);
  }
  const port = Number(process.env.PORT || 8080);
  const host = process.env.HOST || '127.0.0.1';
  const server = createSiteServer(site);
  server.on('error', (err) => {
    console.error(`serve.mjs: cannot listen on ${host}:${port}: ${err.message}` +
      (err.code === 'EADDRINUSE' ? ' (set PORT to use another port)' : ''));
    process.exit(1);
  });
  server.listen(port, host, () => {
    const shown = host.includes(':') ? `[${host}]` : host;
    console.log(`Serving ${site} at http://${shown}:${server.address().port}/`);
  });
}
