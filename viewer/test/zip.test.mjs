import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, dosDateTime, safeEntryName, zipStore } from '../src/zip.js';

const bytes = (text) => new TextEncoder().encode(text);

/** Write `data` to a temporary file and run Python's zipfile on it: test every CRC, list names, sizes and texts. */
function readWithPython(data, t) {
  const dir = mkdtempSync(join(tmpdir(), 'zip-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'test.zip');
  writeFileSync(path, data);
  const script = `import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, "a CRC does not match"
print(json.dumps([{"name": i.filename, "size": i.file_size, "method": i.compress_type, "date": list(i.date_time),
                   "hex": z.read(i).hex()} for i in z.infolist()]))`;
  return { path, entries: JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' })) };
}

test('crc32 matches the standard check value and continues across pieces', () => {
  assert.equal(crc32(bytes('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(bytes('6789'), crc32(bytes('12345'))), 0xcbf43926);
});

test('a stored ZIP that Python\'s zipfile and unzip read back: names, sizes, bytes, CRCs and date', (t) => {
  const jpeg = Uint8Array.from({ length: 3000 }, (_, k) => (k * 7919) % 256);
  const entries = [
    { name: 'selection.csv', bytes: bytes('id,title\n007,"Ship, at sea"\n') },
    { name: 'thumbs/007.jpg', bytes: jpeg },
    { name: 'thumbs/Zürich ünd Ørsted.jpg', bytes: bytes('unicode name') },
    { name: 'empty.txt', bytes: new Uint8Array(0) },
  ];
  const when = new Date(2024, 2, 5, 13, 45, 30);
  const { path, entries: read } = readWithPython(zipStore(entries, when), t);
  assert.deepEqual(read.map((e) => e.name), entries.map((e) => e.name));
  read.forEach((e, k) => {
    assert.equal(e.size, entries[k].bytes.length);
    assert.equal(e.method, 0, 'stored');
    assert.equal(e.hex, Buffer.from(entries[k].bytes).toString('hex'));
    assert.deepEqual(e.date, [2024, 3, 5, 13, 45, 30]);
  });
  const listing = execFileSync('unzip', ['-l', path], { encoding: 'utf8' });
  assert.match(listing, /thumbs\/007\.jpg/);
  assert.match(listing, /4 files/);
  execFileSync('unzip', ['-tq', path]); // throws when unzip finds an error
});

test('names are made safe to unpack; a name twice is refused', () => {
  assert.equal(safeEntryName('/thumbs/../../etc/passwd'), 'thumbs/etc/passwd');
  assert.equal(safeEntryName('a\\b\\./c'), 'a/b/c');
  assert.equal(safeEntryName('new\nline'), 'new_line');
  assert.equal(safeEntryName('..'), 'file');
  assert.throws(() => zipStore([{ name: 'a', bytes: new Uint8Array(1) }, { name: '/a', bytes: new Uint8Array(1) }]), /twice/);
});

test('an empty archive is just the end record; DOS dates start in 1980', (t) => {
  const empty = zipStore([]);
  assert.equal(empty.length, 22);
  assert.deepEqual(readWithPython(empty, t).entries, []);
  assert.deepEqual(dosDateTime(new Date(1970, 0, 1, 0, 0, 0)), { time: 0, date: (0 << 9) | (1 << 5) | 1 });
});
