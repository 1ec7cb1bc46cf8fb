// DOM helpers. Everything the API says reaches the page as text nodes or attribute values set
// here: no HTML string is ever parsed (the page's Trusted Types policy would refuse it anyway).

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Attributes that could load or run something: set only through safeUrl or not at all. */
const GUARDED = new Set(['href', 'src', 'action', 'formaction', 'xlink:href', 'srcdoc', 'style']);

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) {
      if (typeof value !== 'function') throw new TypeError(`${name} must be a function`);
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    } else if (GUARDED.has(name)) {
      if (name !== 'href' || !(value instanceof SafeUrl)) throw new TypeError(`${name} is set only with safeUrl()`);
      el.setAttribute('href', value.url);
    } else if (name === 'value' || name === 'checked' || name === 'disabled' || name === 'hidden') {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, strings and numbers as text, arrays flattened. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An HTML element: h('td', {class: 'x'}, 'text', child…). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

class SafeUrl {
  constructor(url) { this.url = url; }
}

/** An http(s) URL fit for a link, or null (a javascript: or data: URL from anywhere is refused). */
export function safeUrl(text) {
  try {
    const u = new URL(String(text), location.href);
    return u.protocol === 'https:' || u.protocol === 'http:' ? new SafeUrl(u.href) : null;
  } catch {
    return null;
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let toastBox;
/** A short message in the corner; `kind`: 'ok' | 'error'. */
export function toast(message, kind = 'ok') {
  toastBox ??= document.getElementById('toasts');
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  toastBox.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/**
 * A modal dialog with a title, a body and buttons; resolves to the value of the button pressed
 * (null when dismissed with Escape). `onSubmit` (for forms) may throw to keep the dialog open.
 */
export function dialog({ title, body, buttons = [], className = '' }) {
  const footer = h('div', { class: 'dialog-buttons' });
  const d = h('dialog', { class: `dialog ${className}`, 'aria-label': title },
    h('h2', {}, title), body, footer);
  return new Promise((resolve) => {
    const close = (value) => { d.close(); d.remove(); resolve(value); };
    for (const b of buttons) {
      footer.append(h('button', { type: 'button', class: b.class ?? '', onclick: () => close(b.value) }, b.label));
    }
    d.addEventListener('cancel', (e) => { e.preventDefault(); close(null); });
    document.body.append(d);
    d.showModal();
  });
}

/** Asks a yes/no question; resolves to true for yes. */
export async function confirmAction(title, text, yes, danger = false) {
  const answer = await dialog({
    title,
    body: h('p', {}, text),
    buttons: [{ label: 'Cancel', value: false }, { label: yes, value: true, class: danger ? 'danger' : 'primary' }],
  });
  return answer === true;
}

/** A form inside a modal dialog. `submit(form)` returns true to close, or throws an Error whose
 * message is shown in the form. Resolves to what submit returned, or null when cancelled. */
export function formDialog({ title, fields, submitLabel, submit, note }) {
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submitButton = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const form = h('form', { class: 'form', novalidate: true }, fields, note ?? null, error,
    h('div', { class: 'dialog-buttons' }, cancel, submitButton));
  const d = h('dialog', { class: 'dialog', 'aria-label': title }, h('h2', {}, title), form);
  return new Promise((resolve) => {
    const close = (v) => { d.close(); d.remove(); resolve(v); };
    cancel.addEventListener('click', () => close(null));
    d.addEventListener('cancel', (e) => { e.preventDefault(); close(null); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      submitButton.disabled = true;
      error.hidden = true;
      try {
        const result = await submit(form);
        if (result !== false) close(result ?? true);
      } catch (err) {
        replace(error, err.message);
        error.hidden = false;
      } finally {
        submitButton.disabled = false;
      }
    });
    document.body.append(d);
    d.showModal();
  });
}

let fieldCount = 0;
/** A labelled form field: label text, the control, an optional hint (its description). */
export function field(label, control, hint) {
  const id = control.id || `f${++fieldCount}`;
  control.id = id;
  const note = hint ? h('span', { class: 'field-hint', id: `${id}-hint` }, hint) : null;
  if (note) control.setAttribute('aria-describedby', note.id);
  return h('div', { class: 'field' }, h('label', { class: 'field-label', for: id }, label), control, note);
}

/** Copies text to the clipboard; resolves to true when it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
