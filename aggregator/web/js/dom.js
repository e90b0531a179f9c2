// Tiny DOM helpers. Elements are built with the DOM API (never innerHTML with data), and
// styled through classes only: the Content-Security-Policy forbids inline styles.

/** Creates an element: el('td', {class: 'num', title: 'x', dataset: {tag: id}}, child...). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) e.append(c);
  }
  return e;
}

/** Sets text only when it changed (keeps the DOM and selection quiet). */
export function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

/** Shows `message` in the page's banner, or hides it for null. */
export function banner(message) {
  const b = document.getElementById('banner');
  if (!b) return;
  b.hidden = message === null;
  if (message !== null) setText(b, message);
}

/** Sets the connection indicator: state is a CSS hook, text what the user reads. */
export function connection(state, text) {
  const c = document.getElementById('conn');
  if (!c) return;
  c.dataset.state = state;
  setText(c, text);
}
