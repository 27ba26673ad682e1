/**
 * Dashboard runtime shared by every page: DOM helpers, the admin API client
 * (bearer token kept in sessionStorage), sign-in, hash routing and polling.
 * Everything from the server is inserted as text, never as HTML.
 */
export const UI_CORE_JS = String.raw`
"use strict";
const $ = (sel, root) => (root || document).querySelector(sel);
function h(tag, attrs) {
  const e = document.createElement(tag);
  if (attrs) for (const k in attrs) {
    const v = attrs[k];
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'value') e.value = v;
    else if (k === 'checked') e.checked = !!v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (let i = 2; i < arguments.length; i++) append(e, arguments[i]);
  return e;
}
function append(parent, c) {
  if (c === undefined || c === null || c === false) return;
  if (Array.isArray(c)) { for (const x of c) append(parent, x); return; }
  parent.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
}
function badge(text, cls) { return h('span', { class: 'badge ' + cls, text: text }); }
function fmt(v, digits) {
  if (typeof v !== 'number' || !isFinite(v)) return '–';
  if (digits !== undefined) return v.toFixed(digits);
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(Math.round(v * 1000) / 1000);
}
function money(v) {
  if (typeof v !== 'number' || !isFinite(v)) return '–';
  return '$' + (v !== 0 && Math.abs(v) < 0.01 ? v.toPrecision(2) : v.toFixed(2));
}
function ms(v) { return typeof v === 'number' && isFinite(v) ? (v >= 1000 ? (v / 1000).toFixed(2) + ' s' : Math.round(v) + ' ms') : '–'; }
function timeOf(iso) { const d = new Date(iso); return isNaN(d) ? String(iso || '–') : d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0'); }
function dateTime(iso) { const d = new Date(iso); return isNaN(d) ? String(iso || '–') : d.toLocaleString([], { hour12: false }); }
function statusClass(s) { return typeof s === 'number' ? 's' + Math.floor(s / 100) : 'neutral'; }
function compact(v) { if (v === undefined || v === null) return '–'; if (typeof v === 'object') return JSON.stringify(v); return String(v); }
function isFileOwned(entity) {
  if (!entity || typeof entity !== 'object') return false;
  return entity.source === 'file' || entity.owner === 'file' || entity.managed_by === 'file' || entity.read_only === true || entity.readonly === true;
}

// ---------- admin API client ----------
const TOKEN_KEY = 'deepintshield.admin_token';
const auth = { token: sessionStorage.getItem(TOKEN_KEY) || '', required: false, loopbackOnly: false };
async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (auth.token) headers.authorization = 'Bearer ' + auth.token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'same-origin' });
  } catch (e) {
    return { status: 0, ok: false, data: undefined, message: 'cannot reach this node (' + (e && e.message ? e.message : e) + ')' };
  }
  const text = await r.text();
  let data;
  try { data = text ? JSON.parse(text) : undefined; } catch (e) { data = undefined; }
  if (r.status === 401 && path.startsWith('/api/')) { auth.required = true; renderWho(); }
  if (r.status === 403 && data && data.error && data.error.code === 'admin_loopback_only') auth.loopbackOnly = true;
  const message = data && data.error && data.error.message ? data.error.message : (r.ok ? '' : 'HTTP ' + r.status);
  return { status: r.status, ok: r.ok, data: data, message: message };
}

/** A section's answer when the admin API refused: sign-in prompt, loopback note or the error. */
function refusal(res, what) {
  if (res.status === 401) return h('div', { class: 'empty' }, h('b', { text: 'Sign in to see ' + what }),
    'This node requires the admin token (server.admin_token). ', h('button', { class: 'primary small', onclick: showLogin, text: 'Sign in' }));
  if (res.status === 403) return h('div', { class: 'empty' }, h('b', { text: 'The admin API refused this browser' }), res.message);
  return h('div', { class: 'empty' }, h('b', { text: 'Could not load ' + what }), res.message);
}

// ---------- sign-in ----------
function renderWho() {
  const who = $('#who');
  if (!who) return;
  const items = [];
  if (auth.token) items.push(h('span', { id: 'signed-in', text: 'signed in with admin token' }), h('button', { class: 'small', id: 'logout', onclick: logout, text: 'Sign out' }));
  else if (auth.required) items.push(h('button', { class: 'small primary', id: 'login', onclick: showLogin, text: 'Sign in' }));
  who.replaceChildren(...items);
}
function logout() { auth.token = ''; sessionStorage.removeItem(TOKEN_KEY); auth.required = true; renderWho(); route(); }
function showLogin() {
  if ($('#login-dialog')) return;
  const input = h('input', { type: 'password', id: 'login-token', autocomplete: 'current-password', placeholder: 'server.admin_token', required: true });
  const err = h('div', { class: 'ferr err', id: 'login-error' });
  const close = () => overlay.remove();
  const form = h('form', { class: 'dialog', id: 'login-dialog', onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const previous = auth.token;
    auth.token = input.value.trim();
    const res = await api('GET', '/api/governance/virtual-keys');
    if (res.ok) { sessionStorage.setItem(TOKEN_KEY, auth.token); auth.required = false; close(); renderWho(); route(); return; }
    auth.token = previous;
    renderWho();
    err.textContent = res.status === 401 ? 'This token was not accepted.' : res.message;
    input.setAttribute('aria-invalid', 'true');
  } },
    h('h3', { text: 'Sign in' }),
    h('p', { class: 'mut', text: 'This node protects its admin API with a token. It is kept in this tab only (sessionStorage) and sent as Authorization: Bearer.' }),
    h('label', { class: 'field' }, h('span', { text: 'Admin token' }), input, err),
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: close, text: 'Cancel' }), h('button', { type: 'submit', class: 'primary', text: 'Sign in' })));
  const overlay = h('div', { class: 'overlay center', onclick: (ev) => { if (ev.target === overlay) close(); } }, form);
  document.body.appendChild(overlay);
  input.focus();
}

// ---------- side panel ----------
function openPanel(title, body, extraHead) {
  closePanel();
  const panel = h('div', { class: 'panel', id: 'panel', role: 'dialog', 'aria-label': title },
    h('h3', null, h('span', { text: title }), extraHead, h('span', { class: 'spacer' }), h('button', { class: 'small', id: 'panel-close', onclick: closePanel, text: 'Close' })), body);
  const overlay = h('div', { class: 'overlay', id: 'panel-overlay', onclick: (ev) => { if (ev.target === overlay) closePanel(); } }, panel);
  document.body.appendChild(overlay);
  return panel;
}
function closePanel() { const o = $('#panel-overlay'); if (o) o.remove(); }
document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { closePanel(); const l = $('#login-dialog'); if (l) l.parentNode.remove(); } });

// ---------- generic rendering of unknown shapes ----------
function flatten(obj, prefix, out) {
  for (const k in obj) {
    const v = obj[k];
    const key = prefix ? prefix + '.' + k : k;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length <= 12) flatten(v, key, out);
    else out[key] = v;
  }
  return out;
}
function genericTable(rows, firstCol) {
  const flat = rows.map((r) => (r && typeof r === 'object' ? flatten(r, '', {}) : { value: r }));
  const cols = [];
  if (firstCol) cols.push(firstCol);
  for (const f of flat) for (const k in f) if (!cols.includes(k)) cols.push(k);
  const numeric = cols.map((c) => flat.every((f) => f[c] === undefined || typeof f[c] === 'number'));
  return h('table', { class: 'generic' },
    h('thead', null, h('tr', null, cols.map((c, i) => h('th', { class: numeric[i] ? 'num' : '', text: c.replace(/_/g, ' ') })))),
    h('tbody', null, flat.map((f) => h('tr', null, cols.map((c, i) => {
      const v = f[c];
      if (typeof v === 'boolean') return h('td', null, badge(v ? 'yes' : 'no', v ? 'yes' : 'no'));
      return h('td', { class: numeric[i] ? 'num' : 'wrap', text: typeof v === 'number' ? fmt(v) : compact(v) });
    })))));
}
/** Any JSON value as tables: arrays of objects, maps of objects, or key/value lists. */
function generic(value) {
  if (Array.isArray(value)) return value.length ? genericTable(value) : h('p', { class: 'mut', text: 'none' });
  if (value && typeof value === 'object') {
    const vals = Object.values(value);
    const isMap = (v) => v && typeof v === 'object' && !Array.isArray(v);
    // a map of maps of objects (e.g. traffic.providers.openai): one titled table per inner map
    if (vals.length && vals.every((v) => isMap(v) || Array.isArray(v)) && vals.some((v) => Array.isArray(v) || Object.values(v).every(isMap)))
      return h('div', null, Object.entries(value).map(([k, v]) => [h('h4', { class: 'mut', style: 'margin:10px 0 4px', text: k.replace(/_/g, ' ') }), generic(v)]));
    if (vals.length && vals.every(isMap))
      return genericTable(Object.entries(value).map(([k, v]) => Object.assign({ name: k }, v)), 'name');
    return h('dl', { class: 'kv' }, Object.entries(flatten(value, '', {})).map(([k, v]) => [h('dt', { text: k }), h('dd', { text: compact(v) })]));
  }
  return h('p', { text: compact(value) });
}

// ---------- routing and polling ----------
const pages = {};
let current = { name: '', timer: 0, stop: undefined };
function every(msInterval, fn) {
  const run = async () => {
    const mine = current;
    try { await fn(); } catch (e) { console.error(e); }
    if (mine === current && !mine.stopped) mine.timer = setTimeout(run, msInterval);
  };
  run();
}
function route() {
  const name = (location.hash.replace(/^#\/?/, '').split('?')[0]) || 'cluster';
  const page = pages[name] || pages.cluster;
  clearTimeout(current.timer);
  current.stopped = true;
  closePanel();
  current = { name: name, timer: 0, stopped: false };
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('on', a.dataset.page === (pages[name] ? name : 'cluster'));
  const root = $('#page');
  root.replaceChildren();
  document.title = page.title + ' · DeepIntShield';
  page.render(root);
}
window.addEventListener('hashchange', route);
`;
