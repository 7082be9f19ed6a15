/**
 * A ZIP archive written in the browser, without compression (method 0, "stored"): the selection's
 * thumbnails are JPEGs already, so deflating them would cost time for nothing, and a stored archive is only
 * headers around the files (APPNOTE.TXT 6.3: local file headers, the central directory and its end record).
 * Names are UTF-8 (flag bit 11). No ZIP64: at most 65,535 entries and 4 GB, far beyond a selection of
 * thumbnails. Pure: bytes in, bytes out.
 */

const MAX_ENTRIES = 0xffff;
const MAX_BYTES = 0xffffffff;
const UTF8_NAMES = 0x0800;
const VERSION = 20; // 2.0: what a reader needs for folders in names; stored entries need no more

let table = null;

/** CRC-32 (IEEE 802.3, as ZIP and PNG use it) of `bytes`, continuing from `crc` for data in pieces. */
export function crc32(bytes, crc = 0) {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let k = 0; k < bytes.length; k++) c = table[(c ^ bytes[k]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** MS-DOS time and date words of a Date (local time, 2-second steps, 1980 at the earliest). */
export function dosDateTime(date) {
  const year = Math.max(1980, date.getFullYear());
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

/**
 * A file name fit for an archive: forward slashes, no leading slash, no empty, '.' or '..' parts (so
 * unpacking can never write outside its folder), no control characters.
 */
export function safeEntryName(name) {
  const parts = String(name).replace(/\\/g, '/').split('/')
    .map((part) => part.replace(/[\u0000-\u001f\u007f]/g, '_'))
    .filter((part) => part && part !== '.' && part !== '..');
  return parts.join('/') || 'file';
}

/**
 * The bytes of a stored ZIP archive holding `entries` ([{name, bytes: Uint8Array}], in that order), every
 * entry dated `date`. Names are made safe (safeEntryName); a name given twice throws, as too many entries or
 * bytes for a ZIP without ZIP64 do.
 */
export function zipStore(entries, date = new Date()) {
  if (entries.length > MAX_ENTRIES) throw new Error(`a ZIP holds at most ${MAX_ENTRIES} files, not ${entries.length}`);
  const encoder = new TextEncoder();
  const stamp = dosDateTime(date);
  const seen = new Set();
  const files = entries.map(({ name, bytes }) => {
    const safe = safeEntryName(name);
    if (seen.has(safe)) throw new Error(`the ZIP would hold ${safe} twice`);
    seen.add(safe);
    return { name: encoder.encode(safe), bytes, crc: crc32(bytes) };
  });
  const localSize = files.reduce((sum, f) => sum + 30 + f.name.length + f.bytes.length, 0);
  const centralSize = files.reduce((sum, f) => sum + 46 + f.name.length, 0);
  if (localSize + centralSize + 22 > MAX_BYTES) throw new Error('the ZIP would be larger than 4 GB');
  const out = new Uint8Array(localSize + centralSize + 22);
  const view = new DataView(out.buffer);
  let at = 0;
  const u16 = (v) => { view.setUint16(at, v, true); at += 2; };
  const u32 = (v) => { view.setUint32(at, v, true); at += 4; };
  const offsets = [];
  for (const f of files) {
    offsets.push(at);
    u32(0x04034b50); // local file header
    u16(VERSION); u16(UTF8_NAMES); u16(0); // method 0: stored
    u16(stamp.time); u16(stamp.date);
    u32(f.crc); u32(f.bytes.length); u32(f.bytes.length);
    u16(f.name.length); u16(0);
    out.set(f.name, at); at += f.name.length;
    out.set(f.bytes, at); at += f.bytes.length;
  }
  const central = at;
  files.forEach((f, k) => {
    u32(0x02014b50); // central directory header
    u16(VERSION); u16(VERSION); u16(UTF8_NAMES); u16(0);
    u16(stamp.time); u16(stamp.date);
    u32(f.crc); u32(f.bytes.length); u32(f.bytes.length);
    u16(f.name.length); u16(0); u16(0); // extra field, comment
    u16(0); u16(0); u32(0); // disk number, internal and external attributes
    u32(offsets[k]);
    out.set(f.name, at); at += f.name.length;
  });
  const centralBytes = at - central;
  u32(0x06054b50); // end of central directory
  u16(0); u16(0); u16(files.length); u16(files.length);
  u32(centralBytes); u32(central);
  u16(0); // comment length
  return out;
}
