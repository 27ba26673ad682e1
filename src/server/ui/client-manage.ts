/**
 * Dashboard pages that change the cluster: providers and virtual keys over
 * the admin API. The API's 400 field errors ("path: what is wrong (got X)")
 * are shown next to the field they name; entities owned by the config file
 * are shown read-only.
 */
export const UI_MANAGE_JS = String.raw`
// ---------- forms ----------
/** One labelled input bound to a config path (data-path), with room for its error. */
function fieldOf(path, label, input, hint) {
  input.dataset.path = path;
  if (!input.id) input.id = 'f-' + path.replace(/[^A-Za-z0-9]+/g, '-');
  return h('label', { class: 'field', dataset: { for: path } }, h('span', { text: label }), input, hint ? h('small', { text: hint }) : null, h('div', { class: 'ferr', dataset: { errfor: path } }));
}
function textInput(value, attrs) { return h('input', Object.assign({ type: 'text', value: value ?? '' }, attrs || {})); }
function numInput(value, attrs) { return h('input', Object.assign({ type: 'text', inputmode: 'decimal', value: value ?? '' }, attrs || {})); }
function numberOrRaw(v) { const t = v.trim(); if (t === '') return undefined; const n = Number(t); return isFinite(n) ? n : t; }
function listOf(v) { return v.split(/[\n,]/).map((x) => x.trim()).filter(Boolean); }
function clearErrors(form) {
  for (const e of form.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
  for (const e of form.querySelectorAll('.ferr')) e.textContent = '';
  const box = form.querySelector('.formerr'); if (box) box.replaceChildren();
}
/** Splits the admin API's message into field errors and puts each next to its field (longest matching path). */
function showErrors(form, res) {
  clearErrors(form);
  const msg = res.message || ('HTTP ' + res.status);
  const lines = res.status === 400 ? msg.split(/; (?=[A-Za-z0-9_.()\[\]-]+: )/) : [msg];
  const inputs = Array.from(form.querySelectorAll('[data-path]')).filter((e) => e.tagName !== 'LABEL');
  const general = [];
  for (const line of lines) {
    const m = /^([A-Za-z0-9_.()\[\]-]+): ([\s\S]*)$/.exec(line);
    const path = m ? m[1] : '';
    let best;
    for (const inp of inputs) {
      const p = inp.dataset.path;
      if ((path === p || path.startsWith(p + '.')) && (!best || p.length > best.dataset.path.length)) best = inp;
    }
    if (!best) { general.push(line); continue; }
    best.setAttribute('aria-invalid', 'true');
    const slot = form.querySelector('[data-errfor="' + best.dataset.path + '"]');
    if (slot) slot.textContent = (slot.textContent ? slot.textContent + ' · ' : '') + (path === best.dataset.path ? m[2] : line);
  }
  const box = form.querySelector('.formerr');
  if (general.length && box) box.replaceChildren(h('div', { class: 'banner bad', id: 'form-error' }, general.map((g) => h('div', { text: g }))));
  const first = form.querySelector('[aria-invalid=true]');
  if (first) first.focus();
}
function localError(form, path, text) {
  const inp = form.querySelector('[data-path="' + path + '"]:not(label)');
  if (inp) inp.setAttribute('aria-invalid', 'true');
  const slot = form.querySelector('[data-errfor="' + path + '"]');
  if (slot) slot.textContent = text;
}
function readOnlyBanner(what) {
  return h('div', { class: 'banner warn', id: 'readonly-note', text: 'This ' + what + ' is declared in the config file, which owns it: change it there. The admin API refuses edits to it (409).' });
}
function sourceCell(entity) { return h('td', null, isFileOwned(entity) ? h('span', { class: 'tag', title: 'declared in the config file: read-only here', text: 'config file' }) : h('span', { class: 'tag', text: 'admin API' })); }
function confirmDelete(what, name, path, done) {
  if (!window.confirm('Delete ' + what + ' "' + name + '"? Every node stops using it within a second.')) return;
  api('DELETE', path).then((res) => {
    if (res.ok || res.status === 404) done();
    else window.alert('Could not delete ' + what + ' "' + name + '": ' + res.message);
  });
}
let providerTypes = ['openai', 'anthropic', 'mock'];
let typesLoaded = false;
async function loadProviderTypes() {
  if (typesLoaded) return;
  typesLoaded = true;
  const r = await api('GET', '/api/openapi.json');
  const schema = r.ok && r.data && r.data.components && r.data.components.schemas && r.data.components.schemas.Provider;
  const e = schema && schema.properties && schema.properties.type && schema.properties.type.enum;
  if (Array.isArray(e) && e.length) providerTypes = e;
}

// ---------- providers ----------
const PROVIDER_FORM_FIELDS = ['name', 'type', 'keys', 'network_config'];
const NETWORK_FORM_FIELDS = ['base_url', 'default_request_timeout_in_seconds', 'max_retries'];
function keyRow(k, i, editing) {
  const row = h('div', { class: 'row3 keyrow', dataset: { index: i } },
    fieldOf('keys.' + i + '.name', 'Name', textInput(k.name, { placeholder: 'primary' })),
    fieldOf('keys.' + i + '.value', 'Value', h('input', { type: 'password', autocomplete: 'new-password', placeholder: editing && k.value ? 're-enter (never shown)' : 'sk-… or env.OPENAI_API_KEY' })),
    fieldOf('keys.' + i + '.models', 'Models', textInput((k.models || []).join(', '), { placeholder: 'all models' })),
    fieldOf('keys.' + i + '.weight', 'Weight', numInput(k.weight ?? 1)),
    h('button', { type: 'button', class: 'small danger', style: 'margin-top:22px', text: '✕', title: 'remove this key', onclick: () => row.remove() }));
  return row;
}
async function providerForm(existing, onSaved) {
  await loadProviderTypes();
  const editing = !!existing;
  const p = existing || { keys: [{ name: 'primary', models: [], weight: 1 }], network_config: {} };
  const ro = isFileOwned(p);
  const nc = p.network_config || {};
  const advanced = {};
  for (const k in p) if (!PROVIDER_FORM_FIELDS.includes(k) && !['source', 'owner', 'managed_by', 'read_only', 'readonly'].includes(k)) advanced[k] = p[k];
  const extraNc = {};
  for (const k in nc) if (!NETWORK_FORM_FIELDS.includes(k)) extraNc[k] = nc[k];
  if (Object.keys(extraNc).length) advanced.network_config = extraNc;
  const keys = h('div', { id: 'key-rows' }, (p.keys || []).map((k, i) => keyRow(k, i, editing)));
  let nextIndex = (p.keys || []).length;
  const typeSel = h('select', null, h('option', { value: '', text: '(same as the name)' }), providerTypes.map((t) => h('option', { value: t, text: t })));
  typeSel.value = p.type || '';
  const adv = h('textarea', { spellcheck: 'false', placeholder: '{ "mock_config": { "latency_ms": 20 } }' });
  adv.value = Object.keys(advanced).length ? JSON.stringify(advanced, null, 2) : '';
  const form = h('form', { id: 'provider-form', novalidate: true },
    ro ? readOnlyBanner('provider') : null,
    h('div', { class: 'formerr' }),
    h('div', { class: 'row' },
      fieldOf('name', 'Name', textInput(p.name, { placeholder: 'openai', disabled: editing, autocomplete: 'off' }), 'what clients write before the slash: name/model'),
      fieldOf('type', 'Type', typeSel, 'the API it speaks')),
    fieldOf('network_config.base_url', 'Base URL', textInput(nc.base_url, { placeholder: 'default for the type, e.g. https://api.openai.com/v1' })),
    h('div', { class: 'row' },
      fieldOf('network_config.default_request_timeout_in_seconds', 'Request timeout (s)', numInput(nc.default_request_timeout_in_seconds, { placeholder: '60' })),
      fieldOf('network_config.max_retries', 'Retries', numInput(nc.max_retries, { placeholder: '2' }))),
    h('fieldset', { dataset: { path: 'keys' } }, h('legend', { text: 'Keys' }), keys,
      h('div', { class: 'ferr', dataset: { errfor: 'keys' } }),
      h('p', null, h('button', { type: 'button', class: 'small', id: 'add-key', text: '+ Add key', onclick: () => keys.appendChild(keyRow({ weight: 1 }, nextIndex++, false)) }))),
    fieldOf('(advanced)', 'More settings (JSON, merged into the provider)', adv, 'e.g. mock_config, network_config.extra_headers'),
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: closePanel, text: ro ? 'Close' : 'Cancel' }), ro ? null : h('button', { type: 'submit', class: 'primary', id: 'provider-save', text: editing ? 'Save' : 'Create provider' })));
  if (ro) for (const e of form.querySelectorAll('input,select,textarea,#add-key,.keyrow button')) e.disabled = true;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    let extra = {};
    if (adv.value.trim()) {
      try { extra = JSON.parse(adv.value); } catch (e) { localError(form, '(advanced)', 'not valid JSON: ' + e.message); return; }
      if (!extra || typeof extra !== 'object' || Array.isArray(extra)) { localError(form, '(advanced)', 'must be a JSON object'); return; }
    }
    const name = editing ? p.name : $('[data-path="name"]', form).value.trim();
    const body = Object.assign({}, extra, { name: name });
    if (typeSel.value) body.type = typeSel.value;
    const network = Object.assign({}, extra.network_config || {});
    const base = $('[data-path="network_config.base_url"]', form).value.trim();
    if (base) network.base_url = base;
    const timeout = numberOrRaw($('[data-path="network_config.default_request_timeout_in_seconds"]', form).value);
    if (timeout !== undefined) network.default_request_timeout_in_seconds = timeout;
    const retries = numberOrRaw($('[data-path="network_config.max_retries"]', form).value);
    if (retries !== undefined) network.max_retries = retries;
    body.network_config = network;
    body.keys = [];
    let missing = false;
    // rows keep their original index in data-path, so errors from the API still land on the right row
    const rows = Array.from(keys.querySelectorAll('.keyrow'));
    rows.forEach((row, j) => {
      const old = row.dataset.index;
      for (const inp of row.querySelectorAll('[data-path]')) {
        const suffix = inp.dataset.path.split('.').slice(2).join('.');
        inp.dataset.path = 'keys.' + j + '.' + suffix;
        const slot = row.querySelector('[data-errfor="keys.' + old + '.' + suffix + '"]');
        if (slot) slot.dataset.errfor = inp.dataset.path;
      }
      row.dataset.index = j;
      const get = (f) => $('[data-path="keys.' + j + '.' + f + '"]', row).value;
      const k = { value: get('value') };
      if (get('name').trim()) k.name = get('name').trim();
      k.models = listOf(get('models'));
      const w = numberOrRaw(get('weight'));
      if (w !== undefined) k.weight = w;
      if (editing && k.value === '') { localError(form, 'keys.' + j + '.value', 'enter the key again: the API never sends secrets back, so it cannot be kept blank'); missing = true; }
      body.keys.push(k);
    });
    if (missing) return;
    const res = editing ? await api('PUT', '/api/providers/' + encodeURIComponent(p.name), body) : await api('POST', '/api/providers', body);
    if (res.ok) { closePanel(); onSaved(res.data); } else showErrors(form, res);
  });
  openPanel(editing ? (ro ? 'Provider ' + p.name : 'Edit provider ' + p.name) : 'New provider', form, ro ? h('span', { class: 'tag', text: 'config file' }) : null);
  const first = form.querySelector('input:not([disabled])');
  if (first) first.focus();
}
pages.providers = {
  title: 'Providers',
  render(root) {
    const box = h('section', { id: 'providers-box' }, h('p', { class: 'mut', text: 'loading…' }));
    const note = h('div', { id: 'providers-note' });
    const load = async () => {
      const res = await api('GET', '/api/providers');
      if (!res.ok) { box.replaceChildren(refusal(res, 'providers')); return; }
      const list = res.data.providers || [];
      box.replaceChildren(list.length ? h('table', { id: 'providers' },
        h('thead', null, h('tr', null, ['Name', 'Type', 'Keys', 'Models', 'Base URL', 'Retries', 'Source', ''].map((t) => h('th', { text: t })))),
        h('tbody', null, list.map((p) => {
          const ro = isFileOwned(p);
          const models = [].concat(...(p.keys || []).map((k) => k.models || []));
          return h('tr', { dataset: { provider: p.name, readonly: ro ? 'true' : 'false' } },
            h('td', null, h('b', { text: p.name })), h('td', { text: p.type || p.name }),
            h('td', { text: (p.keys || []).length + ((p.keys || []).length ? ' (' + p.keys.map((k) => k.name || '?').join(', ') + ')' : '') }),
            h('td', { class: 'wrap', text: models.length ? models.join(', ') : 'all' }),
            h('td', { class: 'wrap', text: (p.network_config && p.network_config.base_url) || 'default' }),
            h('td', { class: 'num', text: p.network_config ? p.network_config.max_retries ?? '–' : '–' }),
            sourceCell(p),
            h('td', { style: 'text-align:right' }, ro ? h('button', { class: 'small', text: 'View', onclick: () => providerForm(p, load) })
              : [h('button', { class: 'small', text: 'Edit', onclick: () => providerForm(p, load) }), ' ',
                h('button', { class: 'small danger', text: 'Delete', onclick: () => confirmDelete('provider', p.name, '/api/providers/' + encodeURIComponent(p.name), load) })]));
        }))) : h('div', { class: 'empty' }, h('b', { text: 'No providers' }), 'Add one to route requests to it.'));
    };
    root.append(h('div', { class: 'pagehead' }, h('h2', { text: 'Providers' }), h('span', { class: 'spacer' }),
      h('button', { class: 'primary', id: 'new-provider', text: '+ New provider', onclick: () => providerForm(undefined, (p) => { note.replaceChildren(h('div', { class: 'banner ok', text: 'Provider ' + p.name + ' created: every node routes to it within a second.' })); load(); }) }),
      h('p', { text: 'Upstream APIs and their keys. Changes apply to every node of the cluster; key values are never shown.' })), note, box);
    every(10000, load);
  },
};

// ---------- virtual keys ----------
function randomKey() {
  const b = new Uint8Array(24); crypto.getRandomValues(b);
  return 'sk-dis-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
function vkForm(existing, onSaved) {
  const editing = !!existing;
  const vk = existing || { allowed_models: [] };
  const ro = isFileOwned(vk);
  const rl = vk.rate_limit || {};
  const bu = vk.budget || {};
  const value = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: editing ? 're-enter the value (never shown)' : 'at least 8 characters' });
  const form = h('form', { id: 'vk-form', novalidate: true },
    ro ? readOnlyBanner('virtual key') : null,
    h('div', { class: 'formerr' }),
    fieldOf('id', 'Id', textInput(vk.id, { placeholder: 'team-a', disabled: editing, autocomplete: 'off' }), 'letters, digits, "_", "." or "-"; shown in logs and metrics'),
    h('div', { class: 'field' }, h('span', { text: 'Value' }), h('div', { style: 'display:flex;gap:6px' }, value,
      h('button', { type: 'button', id: 'vk-generate', text: 'Generate', onclick: () => { value.value = randomKey(); } })),
      h('small', { text: 'what clients send as x-deepintshield-vk or Authorization: Bearer' }), h('div', { class: 'ferr', dataset: { errfor: 'value' } })),
    fieldOf('description', 'Description', textInput(vk.description, { placeholder: 'optional' })),
    fieldOf('allowed_models', 'Allowed models', textInput((vk.allowed_models || []).join(', '), { placeholder: 'all models, or e.g. openai/gpt-4o-mini, mock/*' }), 'comma-separated provider/model names'),
    h('fieldset', null, h('legend', { text: 'Rate limit' }),
      h('div', { class: 'row' }, fieldOf('rate_limit.request_max_limit', 'Requests', numInput(rl.request_max_limit, { placeholder: 'no limit' })),
        fieldOf('rate_limit.request_reset_duration', 'per', textInput(rl.request_reset_duration, { placeholder: '1m' }))),
      h('div', { class: 'row' }, fieldOf('rate_limit.token_max_limit', 'Tokens', numInput(rl.token_max_limit, { placeholder: 'no limit' })),
        fieldOf('rate_limit.token_reset_duration', 'per', textInput(rl.token_reset_duration, { placeholder: '1h' })))),
    h('fieldset', null, h('legend', { text: 'Budget' }),
      h('div', { class: 'row' }, fieldOf('budget.max_limit', 'USD', numInput(bu.max_limit, { placeholder: 'no budget' })),
        fieldOf('budget.reset_duration', 'per', textInput(bu.reset_duration, { placeholder: '1M' })))),
    h('label', { class: 'field', style: 'flex-direction:row;align-items:center;gap:8px' }, h('input', { type: 'checkbox', id: 'vk-disabled', checked: vk.disabled, dataset: { path: 'disabled' } }), h('span', { text: 'Disabled (requests with this key are refused)' })),
    h('div', { class: 'ferr', dataset: { errfor: 'disabled' } }),
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: closePanel, text: ro ? 'Close' : 'Cancel' }), ro ? null : h('button', { type: 'submit', class: 'primary', id: 'vk-save', text: editing ? 'Save' : 'Create virtual key' })));
  value.dataset.path = 'value';
  value.id = 'f-value';
  value.style.flex = '1';
  if (ro) for (const e of form.querySelectorAll('input,select,textarea,button[type=button]:not(.actions button)')) e.disabled = true;
  if (ro) for (const b of form.querySelectorAll('.actions button')) b.disabled = false;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const get = (p) => $('[data-path="' + p + '"]', form).value;
    const body = { id: editing ? vk.id : get('id').trim(), value: value.value };
    if (get('description').trim()) body.description = get('description').trim();
    body.allowed_models = listOf(get('allowed_models'));
    const rate = {};
    const rq = numberOrRaw(get('rate_limit.request_max_limit')); if (rq !== undefined) rate.request_max_limit = rq;
    const rqd = get('rate_limit.request_reset_duration').trim(); if (rqd) rate.request_reset_duration = numberOrRaw(rqd);
    const tk = numberOrRaw(get('rate_limit.token_max_limit')); if (tk !== undefined) rate.token_max_limit = tk;
    const tkd = get('rate_limit.token_reset_duration').trim(); if (tkd) rate.token_reset_duration = numberOrRaw(tkd);
    if (Object.keys(rate).length) body.rate_limit = rate;
    const bm = numberOrRaw(get('budget.max_limit'));
    const bd = get('budget.reset_duration').trim();
    if (bm !== undefined || bd) { body.budget = {}; if (bm !== undefined) body.budget.max_limit = bm; if (bd) body.budget.reset_duration = numberOrRaw(bd); }
    body.disabled = $('#vk-disabled', form).checked;
    if (editing && !body.value) { localError(form, 'value', 'enter the value again: the API never sends it back, so it cannot be kept blank'); return; }
    const res = editing ? await api('PUT', '/api/governance/virtual-keys/' + encodeURIComponent(vk.id), body) : await api('POST', '/api/governance/virtual-keys', body);
    if (res.ok) { closePanel(); onSaved(res.data, body.value); } else showErrors(form, res);
  });
  openPanel(editing ? (ro ? 'Virtual key ' + vk.id : 'Edit virtual key ' + vk.id) : 'New virtual key', form, ro ? h('span', { class: 'tag', text: 'config file' }) : null);
  const first = form.querySelector('input:not([disabled])');
  if (first) first.focus();
}
pages.keys = {
  title: 'Virtual keys',
  render(root) {
    const box = h('section', { id: 'keys-box' }, h('p', { class: 'mut', text: 'loading…' }));
    const note = h('div', { id: 'keys-note' });
    const load = async () => {
      const [res, usage] = await Promise.all([api('GET', '/api/governance/virtual-keys'), api('GET', '/api/governance/usage')]);
      if (!res.ok) { box.replaceChildren(refusal(res, 'virtual keys')); return; }
      const byId = {};
      for (const u of (usage.ok && usage.data && usage.data.virtual_keys) || []) byId[u.id] = u;
      const list = res.data.virtual_keys || [];
      const limitText = (n, d) => (n ? fmt(n) + ' / ' + (d || '?') : 'none');
      box.replaceChildren(list.length ? h('table', { id: 'keys' },
        h('thead', null, h('tr', null, ['Id', 'Status', 'Allowed models', 'Requests', 'Tokens', 'Budget (USD)', 'Source', ''].map((t) => h('th', { text: t })))),
        h('tbody', null, list.map((vk) => {
          const ro = isFileOwned(vk);
          const rl = vk.rate_limit || {}; const b = vk.budget || {}; const u = byId[vk.id] || {};
          return h('tr', { dataset: { vk: vk.id, readonly: ro ? 'true' : 'false' } },
            h('td', null, h('b', { text: vk.id }), vk.description ? h('div', { class: 'mut', text: vk.description }) : null),
            h('td', null, vk.disabled ? badge('disabled', 'no') : badge('active', 'yes')),
            h('td', { class: 'wrap', text: (vk.allowed_models || []).join(', ') || 'all models' }),
            rl.request_max_limit ? usageCell(u.requests, rl.request_max_limit) : h('td', { class: 'mut', text: limitText(rl.request_max_limit, rl.request_reset_duration) }),
            rl.token_max_limit ? usageCell(u.tokens, rl.token_max_limit) : h('td', { class: 'mut', text: limitText(rl.token_max_limit, rl.token_reset_duration) }),
            b.max_limit ? usageCell(u.spend_usd, b.max_limit) : h('td', { class: 'mut', text: 'none' }),
            sourceCell(vk),
            h('td', { style: 'text-align:right' }, ro ? h('button', { class: 'small', text: 'View', onclick: () => vkForm(vk, load) })
              : [h('button', { class: 'small', text: 'Edit', onclick: () => vkForm(vk, load) }), ' ',
                h('button', { class: 'small danger', text: 'Delete', onclick: () => confirmDelete('virtual key', vk.id, '/api/governance/virtual-keys/' + encodeURIComponent(vk.id), load) })]));
        }))) : h('div', { class: 'empty' }, h('b', { text: 'No virtual keys' }), 'Create one to give a team its own limits and budget.'));
    };
    const created = (vk, secret) => {
      note.replaceChildren(h('div', { class: 'banner ok', id: 'vk-created' }, 'Virtual key ' + vk.id + ' created; it works on every node within a second. Its value, shown only now: ',
        h('code', { class: 'secret', id: 'vk-created-value', text: secret })));
      load();
    };
    root.append(h('div', { class: 'pagehead' }, h('h2', { text: 'Virtual keys' }), h('span', { class: 'spacer' }),
      h('button', { class: 'primary', id: 'new-vk', text: '+ New virtual key', onclick: () => vkForm(undefined, created) }),
      h('p', { text: 'Keys your clients use instead of provider keys, with allowed models, rate limits and budgets enforced cluster-wide.' })), note, box);
    every(5000, load);
  },
};
`;
