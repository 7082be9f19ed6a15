/** Collection title and description, shared by the mosaic page and the about page. */
export function renderHeader(collection, doc = document) {
  const title = String(collection.title || collection.name || 'Image collection');
  doc.title = title;
  const h1 = doc.getElementById('collection-title');
  if (h1) h1.textContent = title;
  const desc = doc.getElementById('collection-description');
  if (desc) {
    desc.textContent = String(collection.description || '');
    desc.hidden = !collection.description;
  }
}

/** Show a load failure in the page itself (the status line), not only in the console. */
export function showError(message, doc = document) {
  const status = doc.getElementById('status');
  if (!status) return;
  status.textContent = message;
  status.classList.add('error');
  status.hidden = false;
}
