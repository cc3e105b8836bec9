// Small DOM helpers: elements are built with textContent only (never innerHTML), so data from the
// API can never become markup.

/** h('td', { class: 'num' }, 'text', childElement): an element with attributes and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function replaceChildren(element, ...children) {
  element.replaceChildren(
    ...children.flat(Infinity).filter((child) => child !== undefined && child !== null),
  );
}

const integer = new Intl.NumberFormat('en-US');
const money = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  maximumFractionDigits: 2,
});

export function formatCount(value) {
  return typeof value === 'number' ? integer.format(value) : '–';
}

export function formatMoney(value) {
  return typeof value === 'number' ? money.format(value) : '–';
}

/** 2026-12-02 08:15:03Z: short, sortable, and UTC like every instant of the API. */
export function formatInstant(value) {
  if (value === null || value === undefined) return '–';
  return `${String(value).slice(0, 19).replace('T', ' ')}Z`;
}

/** A table with a caption for screen readers; rows are arrays of cells (strings or elements). */
export function table(caption, headings, rows, { empty = 'Nothing to show.' } = {}) {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    {},
    h('caption', { class: 'visually-hidden' }, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headings.map((heading) => h('th', { scope: 'col' }, heading)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((cells) =>
        h(
          'tr',
          {},
          cells.map((cell) => (cell instanceof Node && cell.tagName === 'TD' ? cell : h('td', {}, cell))),
        ),
      ),
    ),
  );
}

/** A labelled form field: <label for> and the control. */
export function field(label, control, hint) {
  const id = control.id || `field-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('small', {}, hint) : null,
  );
}
