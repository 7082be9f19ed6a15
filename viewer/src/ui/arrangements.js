/**
 * The arrangement switcher: one radio button per arrangement the site offers (similarity, date,
 * subject...), styled as segmented buttons; arrow keys move between them as in any radio group. Hidden when
 * the site has only the similarity arrangement. Reports a choice through onChange(arrangement); main.js
 * does the switching and calls set() when a link or the hash chose one.
 */

/**
 * @param {HTMLFieldSetElement} root  the <fieldset> from index.html (its <legend> names the group)
 * @param {{arrangements: object[]}} index
 * @param {{onChange(arrangement:object):void}} handlers
 */
export function createArrangementSwitch(root, index, { onChange }) {
  root.hidden = index.arrangements.length < 2;
  const options = root.querySelector('.segments');
  for (const arrangement of index.arrangements) {
    const label = document.createElement('label');
    label.className = 'segment';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'arrangement';
    input.value = arrangement.name;
    input.checked = arrangement === index.arrangement;
    const text = document.createElement('span');
    text.textContent = arrangement.label;
    label.append(input, text);
    options.append(label);
  }
  root.addEventListener('change', (e) => {
    const chosen = index.arrangements.find((a) => a.name === e.target.value);
    if (chosen) onChange(chosen);
  });
  return {
    /** Show `name` as the chosen arrangement (without reporting it). */
    set(name) {
      for (const input of root.querySelectorAll('input[name="arrangement"]')) input.checked = input.value === name;
    },
    /** Mark the group busy while an arrangement's cells load. */
    busy(on) {
      if (on) root.setAttribute('aria-busy', 'true');
      else root.removeAttribute('aria-busy');
    },
  };
}
