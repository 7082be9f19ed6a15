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
 * `id,title,date,url` of each record (the selection's, in item order; see data.js loadRecords).
 * `date` is the catalogue's own date text.
 */
export function selectionCsv(records) {
  return toCsv(['id', 'title', 'date', 'url'], records.map((r) => [r.id, r.title, r.date, r.url]));
}
