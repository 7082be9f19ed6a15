/**
 * CSV export of a selection (RFC 4180 quoting, '\n' line ends, no byte-order mark).
 * Pure: the page turns the text into a Blob download.
 */

/**
 * One CSV field. Text a spreadsheet would run as a formula (starting with =, +, -, @, or a
 * tab/carriage return) gets a leading apostrophe; fields holding a comma, quote or line
 * break are quoted, with quotes doubled.
 */
export function csvField(value) {
  let s = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  if (/[",\r\n]/.test(s)) s = `"${s.replace(/"/g, '""')}"`;
  return s;
}

/** CSV text: header row, then one row per entry of `rows` (arrays of values). */
export function toCsv(header, rows) {
  const lines = [header.map(csvField).join(',')];
  for (const row of rows) lines.push(row.map(csvField).join(','));
  return `${lines.join('\n')}\n`;
}

/**
 * `id,title,date,url` for every item whose flag is set (all items when `flags` is null),
 * in item order. `date` is the catalogue's own date text.
 */
export function selectionCsv(index, flags) {
  const rows = [];
  for (let i = 0; i < index.count; i++) {
    if (flags && !flags[i]) continue;
    rows.push([index.ids[i], index.title[i], index.date[i], index.url[i]]);
  }
  return toCsv(['id', 'title', 'date', 'url'], rows);
}
