/** Entry point of the about page: collection title, description and `about` paragraphs. */
import { fetchJson } from './data.js';
import { renderHeader, showError } from './ui/header.js';

async function start() {
  let collection;
  try {
    collection = await fetchJson('data/collection.json', document.baseURI);
  } catch (err) {
    showError(`Could not load the collection: ${err.message}`);
    return;
  }
  renderHeader(collection);
  document.title = `About · ${document.title}`;
  const body = document.getElementById('about-text');
  const paragraphs = Array.isArray(collection.about) ? collection.about : collection.about ? [collection.about] : [];
  for (const text of paragraphs) {
    const p = document.createElement('p');
    p.textContent = String(text);
    body.append(p);
  }
  const g = collection.grid || {};
  if (g.cols && g.rows) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = `The mosaic is a grid of ${g.cols} × ${g.rows} cells, one per image; similar images sit side by side.`;
    body.append(p);
  }
}

start();
