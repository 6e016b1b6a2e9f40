// Shared helpers of both pages: same-origin JSON fetches that never throw uncaught,
// number and time formatting in the current language, small DOM builders and polling.
import { t, lang } from '/assets/i18n.js';

// ---------- Fetching ----------

// An API failure: status 0 for a network error, code/message from the API's JSON error body.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

// GET a JSON document. Resolves to {text, data} (text = the raw body, to tell whether it
// changed), or {notModified: true} for a bare 304. Rejects only with an ApiError.
export async function getJSON(url, { headers, cache } = {}) {
  let res;
  try {
    res = await fetch(url, { headers, cache, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network', t('err.network'));
  }
  let text = '';
  try {
    text = await res.text();
  } catch {
    throw new ApiError(0, 'network', t('err.network'));
  }
  if (res.status === 304) return { notModified: true };
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = t('err.http', { status: res.status });
    try {
      const body = JSON.parse(text);
      if (body && typeof body.code === 'string') code = body.code;
      if (body && typeof body.message === 'string' && body.message) message = body.message;
    } catch {
      // not JSON: keep the HTTP status
    }
    throw new ApiError(res.status, code, message);
  }
  try {
    return { text, data: JSON.parse(text) };
  } catch {
    throw new ApiError(res.status, 'bad_json', t('err.bad_json'));
  }
}

// A short, human text for any error caught around a fetch.
export function errorText(e) {
  if (e instanceof ApiError) return e.message;
  return (e && e.message) || String(e);
}

// ---------- Polling ----------

// Run task now, then again `intervalMs` after each run ends (never two at once). A task that
// resolves to false (it failed) is retried sooner. Later runs are skipped while the tab is
// hidden, and one runs as soon as it is shown again.
export function poll(task, intervalMs, retryMs = 5000) {
  let timer = null;
  let running = false;
  let stopped = false;
  let ranOnce = false;

  async function tick() {
    if (stopped || running) return;
    clearTimeout(timer);
    let delay = intervalMs;
    if (ranOnce && document.hidden) {
      timer = setTimeout(tick, intervalMs);
      return;
    }
    running = true;
    try {
      const ok = await task();
      if (ok === false) delay = Math.min(intervalMs, retryMs);
    } catch {
      delay = Math.min(intervalMs, retryMs);
    } finally {
      running = false;
      ranOnce = true;
    }
    if (!stopped) timer = setTimeout(tick, delay);
  }

  const onVisible = () => {
    if (!document.hidden) tick();
  };
  document.addEventListener('visibilitychange', onVisible);
  tick();
  return {
    now: tick,
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}

// ---------- Formatting (in the current language) ----------

const formatters = new Map();
function nf(options) {
  const id = lang() + JSON.stringify(options);
  let f = formatters.get(id);
  if (!f) {
    f = new Intl.NumberFormat(lang(), options);
    formatters.set(id, f);
  }
  return f;
}

function num(v) {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

export const fmt = {
  // An integer with grouping: 12,345.
  int: (v) => nf({ maximumFractionDigits: 0 }).format(num(v)),
  // Grams as kilograms with one decimal: 123456 g -> 123.5 (always kg, for consistency).
  kg: (g) => nf({ minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(num(g) / 1000),
  // Basis points as a percentage with one decimal: 4842 -> 48.4%.
  pct: (bp) => nf({ style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(num(bp) / 10000),
  // Short numbers for chart axes: 12,000 -> 1.2万 / 12K.
  compact: (v) => nf({ notation: 'compact', maximumFractionDigits: 1 }).format(num(v)),
  // A Unix time (seconds) in the visitor's time zone.
  time: (unix) =>
    new Intl.DateTimeFormat(lang(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(num(unix) * 1000)),
  // A campaign day "2026-11-01" as a localized date with its weekday.
  day: (day) => {
    const d = parseDay(day);
    if (!d) return String(day ?? '');
    return new Intl.DateTimeFormat(lang(), { month: 'short', day: 'numeric', weekday: 'short', timeZone: 'UTC' }).format(d);
  },
};

function parseDay(day) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(day ?? ''));
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : null;
}

// An ISO timestamp for <time datetime>.
export function isoTime(unix) {
  const d = new Date(num(unix) * 1000);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

// ---------- DOM ----------

// el('td', {className: 'num', dataset: {value: 3}}, 'text', childNode)
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value == null) continue;
    if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name in node && typeof node[name] !== 'function') node[name] = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Set a figure's text and its raw integer in data-value (or "—" and no data-value).
export function setFigure(id, text, value) {
  const node = typeof id === 'string' ? document.getElementById(id) : id;
  if (!node) return;
  if (value == null) {
    node.textContent = t('common.dash');
    delete node.dataset.value;
  } else {
    node.textContent = text;
    node.dataset.value = String(value);
  }
}

// Replace a tbody's rows.
export function setRows(tbody, rows) {
  if (tbody) tbody.replaceChildren(...rows);
}

// A right-aligned numeric cell.
export function numCell(text, value) {
  return el('td', { className: 'num', dataset: value == null ? undefined : { value: String(value) } }, text);
}

// Show a message in an element (hidden when empty).
export function showMessage(node, text) {
  if (!node) return;
  node.textContent = text || '';
  node.hidden = !text;
}

// Sum a field over rows, as integers.
export function sum(rows, field) {
  let total = 0;
  for (const r of rows) total += num(r && r[field]);
  return total;
}

// A row of a per-day table: day, kg CO2e, points, actions.
export function dayRow(d) {
  return el(
    'tr',
    { dataset: { day: String(d.day) } },
    el('td', {}, el('time', { dateTime: String(d.day) }, fmt.day(d.day))),
    numCell(fmt.kg(d.co2e_g), d.co2e_g),
    numCell(fmt.int(d.bonus), d.bonus),
    numCell(fmt.int(d.entries), d.entries),
  );
}
