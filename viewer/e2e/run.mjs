#!/usr/bin/env node
/**
 * Browser tests of a built site in headless Chromium (playwright-core; Debian's /usr/bin/chromium):
 *
 *   node e2e/run.mjs <site dir> --expected <expected.json> [--artifacts <dir>] [--grep <test name part>]
 *   npm run e2e -- <site dir> --expected <expected.json>
 *
 * tests/test_viewer_e2e.py builds the site and expected.json (the collection's known titles, subjects,
 * years and searches) and runs this; run it by hand on a kept site the same way. Exit status 1 when a
 * check fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findChromium } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const options = { site: null, expected: null, artifacts: '', grep: null };
for (let k = 0; k < args.length; k++) {
  const a = args[k];
  if (a === '--expected') options.expected = args[++k];
  else if (a === '--artifacts') options.artifacts = args[++k];
  else if (a === '--grep') options.grep = args[++k];
  else if (a === '-h' || a === '--help') {
    console.log('usage: node e2e/run.mjs <site dir> --expected <expected.json> [--artifacts <dir>] [--grep <name part>]');
    process.exit(0);
  } else if (!options.site) options.site = a;
  else {
    console.error(`run.mjs: unknown argument ${a}`);
    process.exit(2);
  }
}
if (!options.site || !existsSync(join(options.site, 'index.html'))) {
  console.error(`run.mjs: give a built site folder (with index.html), not ${options.site}`);
  process.exit(2);
}
if (!options.expected || !existsSync(options.expected)) {
  console.error('run.mjs: --expected <expected.json> is needed (tests/test_viewer_e2e.py writes it)');
  process.exit(2);
}
try {
  findChromium();
} catch (err) {
  console.error(`run.mjs: ${err.message}`);
  process.exit(2);
}

const testArgs = ['--test', '--test-concurrency=1', '--test-reporter=spec'];
if (options.grep) testArgs.push(`--test-name-pattern=${options.grep}`);
const result = spawnSync(process.execPath, [...testArgs, join(here, 'viewer.test.mjs')], {
  stdio: 'inherit',
  env: {
    ...process.env,
    E2E_SITE: resolve(options.site),
    E2E_EXPECTED: resolve(options.expected),
    E2E_ARTIFACTS: options.artifacts ? resolve(options.artifacts) : '',
  },
});
process.exit(result.status ?? 1);
