/** A tiny collection per the data contract, shared by the tests. 4x3 grid, 10 items, 2 empty cells. */
export function makeCollection() {
  return {
    name: 'tiny',
    title: 'Tiny',
    description: 'A tiny test collection',
    about: ['One.', 'Two.'],
    grid: { cols: 4, rows: 3, cellWidth: 10, cellHeight: 20 },
    tiles: { dzi: 'tiles/mosaic.dzi', width: 40, height: 60 },
    items: 'data/items.json',
  };
}

export function makeItems() {
  const count = 10;
  return {
    count,
    id: ['0001', 'K9045', '12-Edit', '007', 'a', 'b', 'c', 'd', 'e', 'f'],
    col: [0, 1, 2, 3, 0, 1, 2, 3, 0, 1],
    row: [0, 0, 0, 0, 1, 1, 1, 1, 2, 2],
    title: ['Ship', 'Rock', '<img src=x onerror=alert(1)>', 'x', 'y', 'z', 'w', 'v', 'u', 't'],
    date: ['1897', '[1909, approximate]', 'Unknown', '1950', '1951', '1960', '1899', '1900', '1910-1915', 'n.d.'],
    yearStart: [1897, 1909, null, 1950, 1951, 1960, 1899, 1900, 1910, null],
    url: Array(count).fill('https://example.org/r'),
    imageUrl: Array(count).fill(''),
    thumb: Array.from({ length: count }, (_, i) => `thumbs/${i}.jpg`),
    subjects: [[0, 2], [1], [], [0], [2], [1, 2], [0], [], [3], [1]],
    subjectNames: ['Ships', 'Meteorites', 'Field photographs', 'Whales'],
    subjectCounts: [3, 3, 3, 1],
  };
}
