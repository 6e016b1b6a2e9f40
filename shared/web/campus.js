// The campus dashboard for portal staff: with the campus's portal key (kept for this tab
// only) it shows the campus's totals, per-day chart, member leaderboard and member lookup.
import { initLang, onLangChange, t } from '/assets/i18n.js';
import { getJSON, errorText, fmt, isoTime, el, setFigure, setRows, numCell, dayRow, showMessage } from '/assets/common.js';
import { DayChart } from '/assets/chart.js';

const $ = (id) => document.getElementById(id);
const SESSION_KEY = 'greenloop.portal';
const REFRESH_MS = 30000;
const PAGE = 20;

initLang();

const chart = new DayChart($('c-days-chart'), $('c-days-chart-note'));

// ---------- The key, kept for this tab only ----------

function readSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    return s && typeof s.campus === 'string' && typeof s.key === 'string' && s.key ? s : null;
  } catch {
    return null;
  }
}

function writeSession(value) {
  try {
    if (value) sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
    else sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // storage disabled: the key lasts as long as the page
  }
}

// ---------- State ----------

let campuses = []; // from /v1/campuses, for the select
let current = null; // {campus, key} of the dashboard shown
let generation = 0; // bumped on every open/forget, so late answers of an older key are dropped
let summary = null;
let summaryText = null;
let leaders = [];
let leadersNext = null;
let member = null; // {data} or {missing: true} or {error}
let refreshTimer = null;

const base = (campus) => `/v1/campuses/${encodeURIComponent(campus)}`;
const auth = (key) => ({ headers: { Authorization: `Bearer ${key}` }, cache: 'no-store' });
const isKeyError = (e) => e && (e.status === 401 || e.status === 403);

function campusName(id) {
  const c = campuses.find((x) => x.campus === id);
  return c ? c.name : id;
}

// ---------- The campus select ----------

const params = new URLSearchParams(location.search);
const wanted = params.get('campus');
const session = readSession();

function fillSelect() {
  const select = $('campus');
  const chosen = select.value || wanted || session?.campus || '';
  const sorted = [...campuses].sort((a, b) => String(a.name).localeCompare(String(b.name), 'zh-CN'));
  const options = [el('option', { value: '' }, t('campus.choose'))];
  for (const c of sorted) options.push(el('option', { value: String(c.campus) }, `${c.name} (${c.campus})`));
  // A campus named in the URL but not listed (the list failed to load) can still be chosen.
  if (chosen && !campuses.some((c) => c.campus === chosen)) options.push(el('option', { value: chosen }, chosen));
  select.replaceChildren(...options);
  select.value = chosen;
}

async function loadCampuses() {
  try {
    const { data } = await getJSON('/v1/campuses', { cache: 'no-cache' });
    campuses = Array.isArray(data?.campuses) ? data.campuses.filter((c) => c && c.campus) : [];
    showMessage($('campus-list-error'), '');
  } catch (e) {
    showMessage($('campus-list-error'), t('campus.campuses_error', { error: errorText(e) }));
  }
  fillSelect();
}

// ---------- Rendering ----------

function renderSummary() {
  if (!summary) return;
  $('c-name').textContent = summary.name || summary.campus || current?.campus || '';
  const c = summary.campaign || {};
  setFigure('c-points', fmt.int(c.bonus), c.bonus ?? 0);
  setFigure('c-co2e', fmt.kg(c.co2e_g), c.co2e_g ?? 0);
  setFigure('c-actions', fmt.int(c.entries), c.entries ?? 0);
  const today = summary.today || {};
  $('t-day').textContent = today.day ? t('campus.today_h', { day: fmt.day(today.day) }) : t('campus.today_h_plain');
  setFigure('t-points', fmt.int(today.bonus), today.bonus ?? 0);
  setFigure('t-co2e', fmt.kg(today.co2e_g), today.co2e_g ?? 0);
  setFigure('t-actions', fmt.int(today.entries), today.entries ?? 0);
  const days = Array.isArray(summary.days) ? summary.days : [];
  chart.set(days);
  setRows($('c-days-table').tBodies[0], days.map(dayRow));
}

function shortMember(hex) {
  const s = String(hex ?? '');
  return s.length > 12 ? `${s.slice(0, 12)}…` : s;
}

// The first 12 hex digits; the cell holding it carries the full pseudonym as its title.
function pseudonym(hex) {
  return el('code', { className: 'hex-short' }, shortMember(hex));
}

function renderLeaders() {
  setRows(
    $('leaderboard').tBodies[0],
    leaders.map((m) =>
      el(
        'tr',
        { dataset: { member: String(m.member) } },
        numCell(fmt.int(m.rank), m.rank),
        el('td', { className: 'member', title: String(m.member ?? '') }, pseudonym(m.member)),
        numCell(fmt.kg(m.co2e_g), m.co2e_g),
        numCell(fmt.int(m.balance), m.balance),
        numCell(fmt.int(m.entries), m.entries),
      ),
    ),
  );
  $('leaders-empty').hidden = leaders.length > 0;
  $('more').hidden = !leadersNext;
}

function kindText(kind) {
  const key = `kind.${kind}`;
  const text = t(key);
  return text === key ? String(kind ?? '') : text;
}

function renderMember() {
  const box = $('member-result');
  if (!member) {
    box.replaceChildren();
    return;
  }
  if (member.missing) {
    box.replaceChildren(el('p', { className: 'notice notice-warn' }, t('campus.member_not_found')));
    return;
  }
  if (member.error) {
    box.replaceChildren(el('p', { className: 'notice notice-error', role: 'alert' }, t('campus.member_error', { error: errorText(member.error) })));
    return;
  }
  const m = member.data;
  const figure = (id, label, text, value, unit) =>
    el('div', { className: 'card' }, el('dt', {}, label), el('dd', {}, el('span', { id, className: 'figure', dataset: { value: String(value ?? 0) } }, text), ' ', el('span', { className: 'unit' }, unit)));
  const recent = Array.isArray(m.recent) ? m.recent : [];
  const pledges = Array.isArray(m.open_pledges) ? m.open_pledges.length : 0;

  const table = el(
    'table',
    { id: 'member-recent' },
    el('caption', {}, t('campus.recent_caption')),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', { scope: 'col' }, t('campus.col_time')),
        el('th', { scope: 'col' }, t('campus.col_kind')),
        el('th', { scope: 'col', className: 'num' }, t('col.points')),
        el('th', { scope: 'col', className: 'num' }, t('campus.col_g_co2e')),
        el('th', { scope: 'col' }, t('campus.col_station')),
      ),
    ),
    el(
      'tbody',
      {},
      ...recent.map((e) => {
        // A correction (format 2.2) shows the entry it corrects, its signed delta in grams and
        // no points: points are never requantified.
        const c = e.type === 'correction' ? e.corrects || {} : null;
        const of = c || e;
        const grams = c && e.co2e_g > 0 ? `+${fmt.int(e.co2e_g)}` : fmt.int(e.co2e_g);
        return el(
          'tr',
          { dataset: { action: String(of.action ?? ''), type: c ? 'correction' : 'credit' } },
          el('td', {}, el('time', { dateTime: isoTime(e.at) }, fmt.time(e.at))),
          el('td', {}, c ? t('kind.correction', { kind: kindText(c.kind) }) : kindText(e.kind)),
          c ? numCell(fmt.int(0), 0) : numCell(fmt.int(e.bonus), e.bonus),
          numCell(grams, e.co2e_g),
          el('td', {}, String(of.station ?? '')),
        );
      }),
    ),
  );

  box.replaceChildren(
    el('p', {}, `${t('campus.member_pseudonym')}: `, el('code', { className: 'hex' }, String(m.member ?? ''))),
    el(
      'dl',
      { className: 'cards' },
      figure('m-balance', t('campus.member_balance'), fmt.int(m.balance), m.balance, t('unit.points')),
      figure('m-co2e', t('fig.co2e'), fmt.kg(m.co2e_g), m.co2e_g, t('unit.kg_co2e')),
      // Its entries, corrections included (an account counts both).
      figure('m-actions', t('campus.member_entries'), fmt.int(m.entries), m.entries, t('unit.entries')),
    ),
    el('p', { className: 'note' }, t('campus.member_pledges', { n: fmt.int(pledges) })),
    el('div', { className: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': t('campus.recent_caption') }, table),
    ...(recent.length ? [] : [el('p', { className: 'note' }, t('campus.recent_empty'))]),
  );
}

// ---------- Loading ----------

// Hide and forget everything shown for a key.
function clearDashboard() {
  generation += 1;
  clearTimeout(refreshTimer);
  current = null;
  summary = null;
  summaryText = null;
  leaders = [];
  leadersNext = null;
  member = null;
  $('dashboard').hidden = true;
  chart.set([]);
  setRows($('c-days-table').tBodies[0], []);
  setRows($('leaderboard').tBodies[0], []);
  renderMember();
  showMessage($('leaders-error'), '');
  $('member-user').value = '';
  $('c-name').textContent = '';
}

// A key refused (401/403) or a failed load: say why, show nothing.
function fail(e, campus) {
  clearDashboard();
  const box = $('dash-error');
  if (isKeyError(e)) {
    writeSession(null);
    showMessage(box, t('campus.key_invalid', { campus: campusName(campus), message: errorText(e) }));
  } else {
    showMessage(box, t('campus.load_error', { error: errorText(e) }));
  }
  document.body.dataset.ready = 'error';
}

async function loadLeaders(reset, gen) {
  const { campus, key } = current;
  let url = `${base(campus)}/leaderboard?limit=${PAGE}`;
  if (!reset && leadersNext) url += `&after=${encodeURIComponent(leadersNext)}`;
  try {
    const { data } = await getJSON(url, auth(key));
    if (gen !== generation) return;
    const rows = Array.isArray(data?.leaders) ? data.leaders : [];
    leaders = reset ? rows : leaders.concat(rows);
    leadersNext = data?.next || null;
    showMessage($('leaders-error'), '');
    renderLeaders();
  } catch (e) {
    if (gen !== generation) return;
    if (isKeyError(e)) {
      fail(e, campus);
      return;
    }
    showMessage($('leaders-error'), t('campus.load_error', { error: errorText(e) }));
  }
}

async function openDashboard(campus, key) {
  clearDashboard();
  const gen = generation;
  showMessage($('dash-error'), '');
  delete document.body.dataset.ready;
  let r;
  try {
    r = await getJSON(`${base(campus)}/summary`, auth(key));
  } catch (e) {
    if (gen === generation) fail(e, campus);
    return;
  }
  if (gen !== generation) return;
  current = { campus, key };
  writeSession(current);
  summary = r.data || {};
  summaryText = r.text;
  $('dashboard').hidden = false; // before drawing, so the chart gets its width
  renderSummary();
  await loadLeaders(true, gen);
  if (gen !== generation) return;
  document.body.dataset.ready = '1';
  scheduleRefresh(gen);
}

function scheduleRefresh(gen) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh(gen), REFRESH_MS);
}

async function refresh(gen) {
  if (gen !== generation || !current) return;
  const { campus, key } = current;
  try {
    const r = await getJSON(`${base(campus)}/summary`, auth(key));
    if (gen !== generation) return;
    if (r.text !== summaryText) {
      summary = r.data || {};
      summaryText = r.text;
      renderSummary();
    }
  } catch (e) {
    if (gen !== generation) return;
    if (isKeyError(e)) {
      fail(e, campus); // the key was revoked meanwhile
      return;
    }
    // a passing network problem: keep the figures shown and try again later
  }
  scheduleRefresh(gen);
}

async function lookUpMember(user) {
  if (!current) return;
  const gen = generation;
  const { campus, key } = current;
  try {
    const { data } = await getJSON(`${base(campus)}/members/${encodeURIComponent(user)}?limit=${PAGE}`, auth(key));
    if (gen !== generation) return;
    member = { data: data || {} };
  } catch (e) {
    if (gen !== generation) return;
    if (isKeyError(e)) {
      fail(e, campus);
      return;
    }
    member = e.status === 404 ? { missing: true } : { error: e };
  }
  renderMember();
}

// ---------- Wiring ----------

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const campus = $('campus').value;
  const key = $('key').value.trim();
  if (!campus) {
    showMessage($('dash-error'), t('campus.need_campus'));
    $('campus').focus();
    return;
  }
  if (!key) {
    showMessage($('dash-error'), t('campus.need_key'));
    $('key').focus();
    return;
  }
  $('key').value = ''; // the key now lives in sessionStorage only
  openDashboard(campus, key);
});

$('forget').addEventListener('click', () => {
  clearDashboard();
  writeSession(null);
  $('key').value = '';
  showMessage($('dash-error'), '');
  delete document.body.dataset.ready;
  $('key').focus();
});

$('more').addEventListener('click', async () => {
  if (!current || !leadersNext) return;
  const button = $('more');
  button.disabled = true;
  await loadLeaders(false, generation);
  button.disabled = false;
  // When the last page is in, the button hides: keep the focus in the table.
  if (button.hidden) button.closest('section')?.querySelector('.table-wrap')?.focus();
});

$('member-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const user = $('member-user').value.trim();
  if (!user) {
    $('member-user').focus();
    return;
  }
  lookUpMember(user);
});

onLangChange(() => {
  fillSelect();
  renderSummary();
  renderLeaders();
  renderMember();
  chart.relabel();
  // A shown error keeps its language until the next attempt.
});

fillSelect();
loadCampuses();
// A key kept in this tab reopens the dashboard (unless the page asks for another campus).
if (session && (!wanted || wanted === session.campus)) openDashboard(session.campus, session.key);
