// arbor's lineage browser: pick a hierarchy, expand its trees level by
// level, open an artifact to see its data, tags, ancestors, children and
// content, and watch new artifacts arrive through the live feed. It is a
// client of the public REST API and nothing else: every read below is a
// request any other client could make, with the API key the user gave.
import { render } from 'preact';
import { html } from 'htm/preact';

import { Feed } from './sse.js';

// Relative, so that the browser also works behind a proxy that serves
// arbor under a path prefix.
const API = 'api/v1/artifacts';
const DATAFRAME = 'application/vnd.chapkit.dataframe+json';
const KEY = 'arbor.apiKey';
const HIERARCHY = 'arbor.hierarchy';
// How many rows of a DataFrame the page shows.
const PREVIEW_ROWS = 20;
// The page size of the list the roots are read from. Loading roots walks
// the list on until it has found ROOTS roots, read LIST_PAGES pages, or
// reached the end; More roots walks on.
const LIST_SIZE = 1000;
const ROOTS = 100;
const LIST_PAGES = 10;
// The most bytes of JSON the data view shows.
const MAX_JSON = 64 << 10;

const state = {
  stats: null,
  hierarchy: null,
  roots: [], // ids of the chosen hierarchy's roots, in creation order
  rootsPage: 0, // the last page of the list read for roots
  rootsDone: false,
  rootsLoading: false,
  nodes: new Map(), // id -> the artifact as lists and trees show it
  kids: new Map(), // id -> its children's ids, once loaded
  open: new Set(), // ids expanded in the tree
  labels: new Map(), // "hierarchy/level" -> level label
  page: null, // the artifact shown: {id, artifact, ancestors, content, error, deleted}
  fresh: new Set(), // ids that came through the feed
  recent: [], // the last events, newest first
  feed: 'off',
  needKey: false,
  keyError: '',
  error: '',
};

// update re-renders the page once, after the current task's changes.
let queued = false;
function update() {
  if (queued) return;
  queued = true;
  queueMicrotask(() => {
    queued = false;
    render(html`<${App} />`, document.getElementById('app'));
  });
}

// ---- the API ----

class Unauthorized extends Error {}

// Problem is an API error: its problem document's detail and status.
class Problem extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function apiKey() {
  return localStorage.getItem(KEY) || '';
}

function headers() {
  const h = new Headers();
  const k = apiKey();
  if (k) h.set('X-API-Key', k);
  return h;
}

async function request(path) {
  const h = headers();
  h.set('Accept', 'application/json');
  const res = await fetch(path, { headers: h });
  if (res.status === 401) {
    askKey(await detail(res));
    throw new Unauthorized('unauthorized');
  }
  if (!res.ok) throw new Problem(res.status, await detail(res));
  return res;
}

async function getJSON(path) {
  return (await request(path)).json();
}

async function detail(res) {
  try {
    const p = await res.json();
    return p.detail || p.title || `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

// fail shows err unless it is a 401, which the key form answers.
function fail(err) {
  if (err instanceof Unauthorized) return;
  state.error = err.message || String(err);
  update();
}

// askKey shows the key form. A key that was sent and refused is
// forgotten, and the form says why.
function askKey(why) {
  if (state.needKey) return;
  if (apiKey()) {
    localStorage.removeItem(KEY);
    state.keyError = why;
  }
  state.needKey = true;
  stopFeed();
  update();
}

// ---- what the page knows of the artifacts ----

function labelKey(h, level) {
  return `${h}/${level}`;
}

function labelOf(n) {
  return n.level_label || state.labels.get(labelKey(n.hierarchy, n.level)) || `level_${n.level}`;
}

// remember keeps a tree node and, when they are loaded, its children.
function remember(t) {
  const { children, ...n } = t;
  const old = state.nodes.get(n.id);
  state.nodes.set(n.id, { ...old, ...n });
  if (n.level_label) state.labels.set(labelKey(n.hierarchy, n.level), n.level_label);
  if (Array.isArray(children)) {
    children.forEach(remember);
    const ids = children.map((c) => c.id);
    // Children the feed brought meanwhile stay.
    for (const id of state.kids.get(n.id) || []) if (!ids.includes(id) && state.nodes.has(id)) ids.push(id);
    state.kids.set(n.id, ids);
  }
}

async function loadKids(id) {
  remember(await getJSON(`${API}/${id}/$tree?max_depth=1`));
  update();
}

function toggle(id) {
  if (state.open.has(id)) {
    state.open.delete(id);
  } else {
    state.open.add(id);
    if (!state.kids.has(id)) loadKids(id).catch(fail);
  }
  update();
}

// ---- hierarchies and their roots ----

async function loadStats() {
  state.stats = await getJSON(`${API}/$stats`);
  update();
}

function hierarchies() {
  return Object.keys(state.stats?.hierarchies || {}).sort();
}

function selectHierarchy(h) {
  if (state.hierarchy === h) return;
  state.hierarchy = h;
  localStorage.setItem(HIERARCHY, h);
  state.roots = [];
  state.rootsPage = 0;
  state.rootsDone = false;
  state.rootsLoading = false;
  rootsGen++;
  loadRoots().catch(fail);
  update();
}

// loadRoots reads the list on from where it stopped until it has found
// ROOTS more roots of the chosen hierarchy. It asks the server to filter
// by level and hierarchy, and filters itself too, so that it works with
// a server that filters and with one that ignores the filters; one that
// refuses them (400) is asked again without.
let filtersRefused = false;
// rootsGen counts the choices of a hierarchy: a walk of the list for an
// earlier choice stops.
let rootsGen = 0;
async function loadRoots() {
  if (state.rootsLoading || state.rootsDone) return;
  const h = state.hierarchy;
  const gen = rootsGen;
  const current = () => gen === rootsGen;
  state.rootsLoading = true;
  update();
  try {
    let found = 0;
    for (let read = 0; found < ROOTS && read < LIST_PAGES && !state.rootsDone && current(); read++) {
      const page = state.rootsPage + 1;
      const url = `${API}?page=${page}&size=${LIST_SIZE}`;
      let res;
      try {
        res = await getJSON(filtersRefused ? url : `${url}&level=0&hierarchy=${encodeURIComponent(h)}`);
      } catch (err) {
        if (!(err instanceof Problem) || err.status !== 400 || filtersRefused) throw err;
        filtersRefused = true;
        res = await getJSON(url);
      }
      if (!current()) return;
      for (const a of res.items) {
        if (a.level !== 0 || a.hierarchy !== h) continue;
        remember({ ...a, children: undefined });
        if (!state.roots.includes(a.id)) state.roots.push(a.id);
        found++;
      }
      state.rootsPage = page;
      state.rootsDone = page >= res.pages;
    }
    if (current()) await learnRootLabel(h);
  } finally {
    if (current()) state.rootsLoading = false;
    update();
  }
}

// learnRootLabel finds the label of level 0: the list does not carry
// level labels, an expanded artifact does.
async function learnRootLabel(h) {
  if (state.roots.length === 0 || state.labels.has(labelKey(h, 0))) return;
  const n = await getJSON(`${API}/${state.roots[0]}/$expand`);
  state.labels.set(labelKey(h, 0), n.level_label);
}

// ---- one artifact ----

let pageToken = 0;

async function openArtifact(id) {
  const token = ++pageToken;
  const current = () => token === pageToken;
  state.page = { id, loading: true };
  update();
  try {
    const [a, t] = await Promise.all([getJSON(`${API}/${id}`), getJSON(`${API}/${id}/$tree?max_depth=1`)]);
    if (!current()) return;
    remember(t);
    if (a.hierarchy !== state.hierarchy) selectHierarchy(a.hierarchy);
    state.page = { id: a.id, artifact: a, label: t.level_label, ancestors: null, content: contentOf(a) };
    update();
    const ancestors = await loadAncestors(a);
    if (!current()) return;
    state.page = { ...state.page, ancestors };
    update();
    await reveal(ancestors, a);
    if (state.page.content.kind === 'dataframe' && !state.page.content.columns) {
      const content = await loadDataFrame(a.id);
      if (!current()) return;
      state.page = { ...state.page, content };
      update();
    }
  } catch (err) {
    if (!current() || err instanceof Unauthorized) return;
    state.page = { ...state.page, loading: false, error: err.message };
    update();
  }
}

// refreshArtifact reads the artifact shown again after an update.
async function refreshArtifact(id) {
  const token = pageToken;
  const a = await getJSON(`${API}/${id}`);
  if (token !== pageToken) return;
  let content = contentOf(a);
  if (content.kind === 'dataframe' && !content.columns) content = await loadDataFrame(id);
  if (token !== pageToken) return;
  state.page = { ...state.page, artifact: a, content };
  update();
}

// loadAncestors returns the artifact's ancestors, root first: with
// $ancestors where the server has it, else by walking parent_id up.
async function loadAncestors(a) {
  if (!a.parent_id) return [];
  try {
    return (await getJSON(`${API}/${a.id}/$ancestors`)).items;
  } catch (err) {
    if (!(err instanceof Problem) || (err.status !== 404 && err.status !== 405)) throw err;
  }
  const out = [];
  for (let p = a.parent_id; p; ) {
    const n = await getJSON(`${API}/${p}/$expand`);
    out.unshift(n);
    p = n.parent_id;
  }
  return out;
}

// reveal opens the tree down to the artifact shown.
async function reveal(ancestors, a) {
  if (ancestors.length === 0) {
    if (!state.roots.includes(a.id)) state.roots.push(a.id);
    return;
  }
  const root = ancestors[0];
  if (!state.roots.includes(root.id)) {
    remember({ ...root, children: undefined });
    state.roots.push(root.id);
  }
  for (const n of ancestors) {
    state.open.add(n.id);
    if (!state.kids.has(n.id)) await loadKids(n.id);
  }
  update();
}

// contentOf says what the artifact's content is: none, a DataFrame (its
// first rows when the data carries them), or anything else, to download.
function contentOf(a) {
  const d = a.data || {};
  if (!('content' in d) && !d.content_type && !d.content_sha256) return { kind: 'none' };
  if (d.content_type === DATAFRAME) {
    const c = d.content;
    if (c && Array.isArray(c.columns) && Array.isArray(c.data)) {
      return { kind: 'dataframe', columns: c.columns, rows: c.data.slice(0, PREVIEW_ROWS), total: c.data.length };
    }
    return { kind: 'dataframe', size: d.content_size };
  }
  return { kind: 'file', type: d.content_type || 'application/json', size: d.content_size };
}

// loadDataFrame reads a DataFrame that the data does not carry: $download
// answers its rows as JSON objects, columns in order; a DataFrame uploaded
// as a file comes back as stored, {columns, data}.
async function loadDataFrame(id) {
  const body = await getJSON(`${API}/${id}/$download`);
  if (Array.isArray(body?.columns) && Array.isArray(body?.data)) {
    return { kind: 'dataframe', columns: body.columns, rows: body.data.slice(0, PREVIEW_ROWS), total: body.data.length };
  }
  const rows = Array.isArray(body) ? body : [];
  const columns = rows.length > 0 ? Object.keys(rows[0]) : [];
  return {
    kind: 'dataframe', columns, total: rows.length,
    rows: rows.slice(0, PREVIEW_ROWS).map((r) => columns.map((c) => r[c])),
  };
}

// download saves the content with the key: a plain link cannot send it.
async function download(e, id, query) {
  e.preventDefault();
  try {
    const res = await request(`${API}/${id}/$download${query}`);
    const name = /filename="?([^";]+)"?/.exec(res.headers.get('Content-Disposition') || '')?.[1] || `artifact_${id}`;
    const url = URL.createObjectURL(await res.blob());
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    fail(err);
  }
}

// ---- the live feed ----

let feed = null;

function startFeed() {
  stopFeed();
  feed = new Feed(`${API}/$events`, headers);
  state.feed = 'connecting';
  feed.addEventListener('open', () => { state.feed = 'live'; update(); });
  feed.addEventListener('error', () => { state.feed = 'connecting'; update(); });
  feed.addEventListener('unauthorized', () => askKey('The live feed needs an API key'));
  feed.addEventListener('artifact.created', (e) => created(JSON.parse(e.data)));
  feed.addEventListener('artifact.updated', (e) => updated(JSON.parse(e.data)));
  feed.addEventListener('artifact.deleted', (e) => deleted(JSON.parse(e.data)));
}

function stopFeed() {
  feed?.close();
  feed = null;
  state.feed = 'off';
}

function note(ce, id) {
  state.recent = [{ seq: ce.sequence, type: ce.type, id, label: ce.levellabel, hierarchy: ce.hierarchy }, ...state.recent].slice(0, 8);
}

function count(h, label, by) {
  const hs = state.stats?.hierarchies?.[h];
  if (!hs) return;
  hs.total += by;
  hs.levels[label] = (hs.levels[label] || 0) + by;
  state.stats.total += by;
}

function created(ce) {
  const d = ce.data;
  if (!d?.id) return;
  const { content, ...data } = d.data || {};
  const n = {
    id: d.id, parent_id: d.parent_id || null, level: d.level, hierarchy: d.hierarchy,
    level_label: ce.levellabel, tags: d.tags || [], data, version: 1,
    created_at: ce.time, updated_at: ce.time,
  };
  remember({ ...n, children: undefined });
  state.kids.set(n.id, []);
  state.fresh.add(n.id);
  if (n.parent_id === null) {
    if (n.hierarchy === state.hierarchy && !state.roots.includes(n.id)) state.roots.push(n.id);
  } else if (state.kids.has(n.parent_id)) {
    const kids = state.kids.get(n.parent_id);
    if (!kids.includes(n.id)) kids.push(n.id);
  }
  count(n.hierarchy, n.level_label, 1);
  note(ce, n.id);
  update();
}

function updated(ce) {
  const d = ce.data;
  if (!d?.id) return;
  const old = state.nodes.get(d.id);
  if (old) {
    const { content, ...data } = d.data || {};
    state.nodes.set(d.id, { ...old, data, tags: d.tags || [], version: old.version + 1, updated_at: ce.time });
  }
  note(ce, d.id);
  if (state.page?.id === d.id && state.page.artifact) refreshArtifact(d.id).catch(fail);
  update();
}

function deleted(ce) {
  const id = ce.data?.id;
  if (!id) return;
  const n = state.nodes.get(id);
  state.roots = state.roots.filter((r) => r !== id);
  if (n?.parent_id && state.kids.has(n.parent_id)) {
    state.kids.set(n.parent_id, state.kids.get(n.parent_id).filter((k) => k !== id));
  }
  if (n) count(n.hierarchy, labelOf(n), -1);
  state.nodes.delete(id);
  state.kids.delete(id);
  state.open.delete(id);
  note(ce, id);
  if (state.page?.id === id) state.page = { ...state.page, deleted: true };
  update();
}

// ---- routes: #/artifacts/{id}, #/hierarchies/{name}, #/ ----

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [kind, arg] = hash.split('/').map(decodeURIComponent);
  if (kind === 'artifacts' && arg) {
    if (state.page?.id !== arg.toUpperCase() || state.page.error) openArtifact(arg);
    return;
  }
  pageToken++;
  state.page = null;
  if (kind === 'hierarchies' && hierarchies().includes(arg)) selectHierarchy(arg);
  update();
}

// start loads what the page needs, with the key if there is one.
async function start() {
  state.error = '';
  state.needKey = false;
  try {
    await loadStats();
  } catch (err) {
    fail(err);
    return;
  }
  startFeed();
  const names = hierarchies();
  const total = (h) => state.stats.hierarchies[h].total;
  let h = localStorage.getItem(HIERARCHY);
  if (!names.includes(h)) h = [...names].sort((x, y) => total(y) - total(x))[0];
  const wanted = /^#\/hierarchies\/([^/]+)/.exec(location.hash);
  if (wanted && names.includes(decodeURIComponent(wanted[1]))) h = decodeURIComponent(wanted[1]);
  state.hierarchy = null;
  if (h) selectHierarchy(h);
  route();
}

function useKey(e) {
  e.preventDefault();
  const key = e.currentTarget.elements.key.value.trim();
  e.currentTarget.reset();
  if (!key) return;
  localStorage.setItem(KEY, key);
  state.keyError = '';
  start();
}

function forgetKey() {
  localStorage.removeItem(KEY);
  stopFeed();
  start();
}

// ---- views ----

function shortID(id) {
  return id.slice(-8);
}

// summary is the first plain value of the data, to tell siblings apart.
function summary(data) {
  for (const [k, v] of Object.entries(data || {})) {
    if (k === 'content' || k === 'type' || v === null || typeof v === 'object') continue;
    const s = `${k}: ${v}`;
    return s.length > 60 ? `${s.slice(0, 59)}…` : s;
  }
  return '';
}

function bytes(n) {
  if (n === undefined || n === null) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function json(v) {
  const s = JSON.stringify(v, null, 2);
  return s.length > MAX_JSON ? `${s.slice(0, MAX_JSON)}\n… ${s.length - MAX_JSON} more characters` : s;
}

function cell(v) {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function App() {
  return html`
    <header class="top">
      <a class="brand" href="#/">arbor</a>
      <nav id="hierarchies" aria-label="Hierarchies">
        ${hierarchies().map((h) => html`
          <a href="#/hierarchies/${encodeURIComponent(h)}" data-hierarchy=${h}
             class=${h === state.hierarchy ? 'chosen' : ''} aria-current=${h === state.hierarchy ? 'true' : undefined}>
            ${h} <span class="count">${state.stats.hierarchies[h].total}</span>
          </a>`)}
      </nav>
      <span id="feed" class=${state.feed} data-state=${state.feed} title="The live feed of events">
        ${{ live: 'live', connecting: 'connecting…', off: 'off' }[state.feed] || state.feed}
      </span>
      ${apiKey() && html`<button id="forget-key" onClick=${forgetKey}>Forget key</button>`}
    </header>
    ${state.error && html`<p id="error" class="error" role="alert">${state.error}</p>`}
    ${state.needKey ? html`<${KeyForm} />` : html`
      <main>
        <aside id="tree">
          <${Roots} />
          <${Recent} />
        </aside>
        <section id="main">${state.page ? html`<${Artifact} />` : html`<${Overview} />`}</section>
      </main>`}
  `;
}

function KeyForm() {
  return html`
    <form id="key-form" class="card" onSubmit=${useKey}>
      <h2>An API key is needed</h2>
      <p>This arbor serves its API to clients with a key. The key is kept in this
        browser (localStorage) and sent as <code>X-API-Key</code>.</p>
      ${state.keyError && html`<p class="error">${state.keyError}</p>`}
      <label>API key <input id="api-key" name="key" type="password" autocomplete="off" required /></label>
      <button type="submit">Use this key</button>
    </form>`;
}

function Roots() {
  const h = state.hierarchy;
  if (!h) return html`<p class="muted">No hierarchy.</p>`;
  return html`
    <h2>${h} <span class="muted">${state.labels.get(labelKey(h, 0)) || 'roots'}</span></h2>
    ${state.roots.length === 0 && !state.rootsLoading && html`<p class="muted">No roots yet.</p>`}
    <ul class="tree" role="tree">${state.roots.map((id) => html`<${TreeNode} key=${id} id=${id} />`)}</ul>
    ${state.rootsLoading && html`<p class="muted">loading…</p>`}
    ${!state.rootsDone && !state.rootsLoading && html`
      <button id="more-roots" onClick=${() => loadRoots().catch(fail)}>More roots</button>`}`;
}

function TreeNode({ id }) {
  const n = state.nodes.get(id);
  if (!n) return null;
  const kids = state.kids.get(id);
  const open = state.open.has(id);
  const leaf = kids && kids.length === 0;
  const cls = ['node', state.fresh.has(id) && 'fresh', state.page?.id === id && 'selected'].filter(Boolean).join(' ');
  return html`
    <li class=${cls} data-id=${id} role="treeitem" aria-expanded=${leaf ? undefined : String(open)}>
      <div class="row">
        <button class="toggle" onClick=${() => toggle(id)} disabled=${leaf}
          aria-label=${open ? 'Collapse' : 'Expand'}>${leaf ? '·' : open ? '▾' : '▸'}</button>
        <span class="label">${labelOf(n)}</span>
        <a class="name" href="#/artifacts/${id}">${summary(n.data) || shortID(id)}</a>
        <code class="id" title=${id}>${shortID(id)}</code>
      </div>
      ${open && !leaf && (kids
        ? html`<ul role="group">${kids.map((k) => html`<${TreeNode} key=${k} id=${k} />`)}</ul>`
        : html`<p class="muted indent">loading…</p>`)}
    </li>`;
}

function Recent() {
  if (state.recent.length === 0) return null;
  return html`
    <section id="recent">
      <h3>Live</h3>
      <ol>${state.recent.map((e) => html`
        <li key=${e.seq}><span class="seq">#${e.seq}</span> ${e.type.replace('artifact.', '')}
          ${' '}${e.type === 'artifact.deleted' ? html`<code>${shortID(e.id)}</code>`
            : html`<a href="#/artifacts/${e.id}">${e.label} ${shortID(e.id)}</a>`}</li>`)}
      </ol>
    </section>`;
}

function Overview() {
  const h = state.hierarchy;
  const hs = state.stats?.hierarchies?.[h];
  if (!hs) return html`<p class="muted">Loading…</p>`;
  return html`
    <article id="overview">
      <h1>${h}</h1>
      <p>${hs.total} artifacts. Open a root in the tree to follow its lineage; new
        artifacts appear as they are created.</p>
      <table class="levels">
        <thead><tr><th>level label</th><th>artifacts</th></tr></thead>
        <tbody>${Object.entries(hs.levels).map(([label, n]) => html`<tr><td>${label}</td><td>${n}</td></tr>`)}</tbody>
      </table>
    </article>`;
}

function Artifact() {
  const p = state.page;
  if (p.error) return html`<p id="page-error" class="error">${p.error}</p>`;
  if (!p.artifact) return html`<p class="muted">Loading ${p.id}…</p>`;
  const a = p.artifact;
  const { content, ...data } = a.data || {};
  const kids = state.kids.get(a.id) || [];
  return html`
    <article id="artifact" data-id=${a.id}>
      <${Breadcrumb} />
      ${p.deleted && html`<p class="error">This artifact has been deleted.</p>`}
      <h1><span class="label">${p.label}</span> <code>${a.id}</code></h1>
      <dl class="meta">
        <dt>hierarchy</dt><dd>${a.hierarchy}</dd>
        <dt>level</dt><dd>${a.level}</dd>
        <dt>version</dt><dd>${a.version}</dd>
        <dt>created</dt><dd>${a.created_at}</dd>
        <dt>updated</dt><dd>${a.updated_at}</dd>
      </dl>
      <section id="tags">
        <h2>Tags</h2>
        ${a.tags.length === 0 ? html`<p class="muted">No tags.</p>`
          : html`<ul class="tags">${a.tags.map((t) => html`<li class="tag">${t}</li>`)}</ul>`}
      </section>
      <section id="data">
        <h2>Data</h2>
        <pre class="json">${json(data)}</pre>
        ${p.content.kind !== 'none' && html`<p class="muted">Its content is under Content.</p>`}
      </section>
      <section id="content">
        <h2>Content</h2>
        <${Content} id=${a.id} c=${p.content} />
      </section>
      <section id="children">
        <h2>Children <span class="count">${kids.length}</span></h2>
        ${kids.length === 0 ? html`<p class="muted">No children.</p>` : html`
          <ul>${kids.map((k) => {
            const n = state.nodes.get(k);
            return n && html`<li key=${k} data-id=${k} class=${state.fresh.has(k) ? 'fresh' : ''}>
              <span class="label">${labelOf(n)}</span> <a href="#/artifacts/${k}">${summary(n.data) || k}</a>
              <code class="id">${shortID(k)}</code></li>`;
          })}</ul>`}
      </section>
    </article>`;
}

function Breadcrumb() {
  const p = state.page;
  const a = p.artifact;
  return html`
    <nav id="breadcrumb" aria-label="Ancestors">
      <a href="#/hierarchies/${encodeURIComponent(a.hierarchy)}">${a.hierarchy}</a>
      ${p.ancestors === null ? html`<span class="sep">›</span><span class="muted">…</span>`
        : p.ancestors.map((n) => html`<span class="sep">›</span>
          <a href="#/artifacts/${n.id}" data-id=${n.id}><span class="label">${n.level_label}</span> ${summary(n.data) || shortID(n.id)}</a>`)}
      <span class="sep">›</span><span aria-current="page"><span class="label">${p.label}</span> ${summary(a.data) || shortID(a.id)}</span>
    </nav>`;
}

function DownloadLink({ id, query = '', children }) {
  const href = `${API}/${id}/$download${query}`;
  // Without a key a plain link streams the file, however large; with one
  // the page fetches it, as a link cannot send the key.
  return apiKey()
    ? html`<a class="download" href=${href} onClick=${(e) => download(e, id, query)}>${children}</a>`
    : html`<a class="download" href=${href} download>${children}</a>`;
}

function Content({ id, c }) {
  switch (c.kind) {
    case 'none':
      return html`<p class="muted">No content.</p>`;
    case 'dataframe':
      if (!c.columns) return html`<p class="muted">Loading the DataFrame…</p>`;
      return html`
        <p>DataFrame, ${c.columns.length} columns, ${c.total} rows${c.total > c.rows.length ? `, the first ${c.rows.length} shown` : ''}.${' '}
          <${DownloadLink} id=${id}>JSON<//> <${DownloadLink} id=${id} query="?format=csv">CSV<//></p>
        <div class="scroll">
          <table class="dataframe">
            <thead><tr>${c.columns.map((col) => html`<th>${col}</th>`)}</tr></thead>
            <tbody>${c.rows.map((r) => html`<tr>${r.map((v) => html`<td>${cell(v)}</td>`)}</tr>`)}</tbody>
          </table>
        </div>`;
    default:
      return html`<p><code>${c.type}</code>${c.size !== undefined ? `, ${bytes(c.size)}` : ''}.${' '}
        <${DownloadLink} id=${id}>Download<//></p>`;
  }
}

window.addEventListener('hashchange', route);
start();
