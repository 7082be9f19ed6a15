/** Title tooltip that follows the pointer over the mosaic (text only). */
export function createTooltip(el) {
  const title = document.createElement('span');
  title.className = 'tooltip-title';
  const meta = document.createElement('span');
  meta.className = 'tooltip-meta';
  el.append(title, meta);
  return {
    show(text, detail, clientX, clientY) {
      title.textContent = text;
      meta.textContent = detail;
      meta.hidden = !detail;
      el.hidden = false;
      // Keep it on screen: flip to the left/top of the pointer near the edges.
      const pad = 14;
      const { width, height } = el.getBoundingClientRect();
      let x = clientX + pad, y = clientY + pad;
      if (x + width > window.innerWidth - 4) x = clientX - pad - width;
      if (y + height > window.innerHeight - 4) y = clientY - pad - height;
      el.style.transform = `translate(${Math.max(4, x)}px, ${Math.max(4, y)}px)`;
    },
    hide() {
      el.hidden = true;
    },
  };
}
