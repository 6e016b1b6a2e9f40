// The witness: this browser checks the log's signed checkpoints with the WebAssembly verifier
// and proves, against the checkpoints it kept on the last visit, that the log only grew.
// A failure is shown loudly, with the failing bundle to download for `greenloop proof check`.
import { check } from '/assets/verifier.js';
import { t, onLangChange } from '/assets/i18n.js';
import { getJSON, errorText, fmt, isoTime, el, setRows, numCell } from '/assets/common.js';

const STORE_KEY = 'greenloop.witness.v1';
const LOG_URL = '/v1/log';
const POLL_MS = 60000;

// ---------- Storage of what this browser saw ----------

function readStore() {
  try {
    const stored = JSON.parse(localStorage.getItem(STORE_KEY) || 'null');
    if (!stored || typeof stored !== 'object') return null;
    const checkpoints = stored.checkpoints && typeof stored.checkpoints === 'object' ? stored.checkpoints : {};
    return { public_key: stored.public_key, seen_at: stored.seen_at, checkpoints };
  } catch {
    return null;
  }
}

function writeStore(value) {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(value));
  } catch {
    // storage full or disabled: the next visit is a first visit again
  }
}

// ---------- The check ----------

class Failure {
  constructor(why, params, evidence) {
    this.why = why; // a w.why_* text key
    this.params = params;
    this.evidence = evidence; // [{file, body, kind: 'bundle'|'key'}]
  }
}

function consistencyUrl(chain, first, second) {
  return `/v1/log/chains/${encodeURIComponent(chain)}/consistency?first=${first}&second=${second}`;
}

// Run the verifier; a verifier that cannot run is an error of this page, not of the log.
async function verify(key, bundle) {
  try {
    return await check(key, bundle);
  } catch (e) {
    throw new Error(t('w.verifier_error', { error: errorText(e) }));
  }
}

function bundleFile(chain) {
  return `greenloop-evidence-${String(chain).replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
}

let checkedLogText = null; // the /v1/log answer last checked, to re-check only when it changes

// Check the log once, in the numbered steps below. Returns {state, key, rows, count, since?,
// failure?}; throws only when the check cannot run (log unreachable, verifier not loaded).
async function evaluate() {
  const { data: log, text } = await getJSON(LOG_URL, { cache: 'no-cache' });
  checkedLogText = text;
  if (!log || typeof log !== 'object') throw new Error(t('err.bad_json'));
  const key = typeof log.public_key === 'string' && log.public_key ? log.public_key : null;
  const served = Array.isArray(log.checkpoints) ? log.checkpoints.filter((c) => c && typeof c.chain === 'string') : [];
  const rows = new Map(served.map((c) => [c.chain, { cp: c, status: 'w.st_pending' }]));
  const result = { key, rows, count: served.length };

  // 1. Without a published key nothing can be checked.
  if (!key) {
    for (const row of rows.values()) row.status = 'w.st_unchecked';
    return { ...result, state: 'unkeyed' };
  }

  const stored = readStore();
  const fail = (chain, failure) => {
    for (const row of rows.values()) if (row.status === 'w.st_pending') row.status = 'w.st_unchecked';
    if (chain && rows.has(chain)) rows.get(chain).status = 'w.st_failed';
    return { ...result, state: 'failed', failure };
  };

  // 2. The key must be the one this browser saw before.
  const storedKey = stored && typeof stored.public_key === 'string' ? stored.public_key : null;
  if (storedKey && storedKey.toLowerCase() !== key.toLowerCase()) {
    return fail(null, new Failure('w.why_key_changed', { old: storedKey }, [
      {
        kind: 'key',
        file: 'greenloop-evidence-key.json',
        body: {
          stored_public_key: storedKey,
          stored_seen_at: stored.seen_at ?? null,
          served_public_key: key,
          served_checkpoints: served,
          stored_checkpoints: stored.checkpoints,
        },
      },
    ]));
  }

  // 3. Every served checkpoint must hold under the key.
  for (const cp of served) {
    const bundle = { checkpoint: { checkpoint: cp } };
    const out = await verify(key, bundle);
    if (!out || out.ok !== true) {
      return fail(cp.chain, new Failure('w.why_bad_checkpoint', { chain: cp.chain, error: out?.error ?? '' }, [
        { kind: 'bundle', file: bundleFile(cp.chain), body: bundle },
      ]));
    }
  }

  for (const row of rows.values()) row.status = 'w.st_signed';

  // 4. Every chain seen before must extend what was seen (or be extended by it, for a stale cache).
  const old = stored ? stored.checkpoints : {};
  const keep = { ...old };
  for (const cur of served) {
    const chain = cur.chain;
    const row = rows.get(chain);
    const prev = old[chain];
    if (!prev || typeof prev !== 'object') {
      keep[chain] = cur;
      row.status = 'w.st_new';
      continue;
    }
    const [older, newer] = cur.size >= prev.size ? [prev, cur] : [cur, prev];
    let proof;
    if (older.size === newer.size) {
      // Equal sizes need no fetch: the proof is empty and the roots must be equal.
      proof = { chain, first: older.size, second: newer.size, proof: [] };
    } else if (older.size === 0) {
      // Every tree extends the empty tree; there is nothing to prove (and no proof to ask for).
      proof = null;
    } else {
      try {
        ({ data: proof } = await getJSON(consistencyUrl(chain, older.size, newer.size)));
      } catch (e) {
        return fail(chain, new Failure('w.why_no_proof', { chain, size_old: older.size, size_new: newer.size, error: errorText(e) }, [
          { kind: 'bundle', file: bundleFile(chain), body: { consistency: { older, newer } } },
        ]));
      }
    }
    if (proof) {
      const bundle = { consistency: { older, newer, proof } };
      const out = await verify(key, bundle);
      if (!out || out.ok !== true) {
        return fail(chain, new Failure('w.why_inconsistent', { chain, error: out?.error ?? '' }, [
          { kind: 'bundle', file: bundleFile(chain), body: bundle },
        ]));
      }
    }
    keep[chain] = newer;
    if (cur.size === prev.size) row.status = 'w.st_same';
    else if (cur.size > prev.size) row.status = 'w.st_grew';
    else row.status = 'w.st_stale';
    row.old = prev.size;
    row.shown = newer;
  }

  // Chains kept from before but not served now stay kept.
  for (const [chain, cp] of Object.entries(old)) {
    if (!rows.has(chain) && cp && typeof cp === 'object') rows.set(chain, { cp, status: 'w.st_missing' });
  }

  // 5. All good: keep the newest checkpoint of every chain.
  const first = !stored || Object.keys(old).length === 0;
  writeStore({ public_key: key, seen_at: Date.now(), checkpoints: keep });
  return { ...result, state: first ? 'first' : 'consistent', since: first ? null : stored.seen_at };
}

// ---------- Rendering ----------

let lastResult = null;
let evidenceUrls = [];

function render(result) {
  lastResult = result;
  const box = document.getElementById('witness');
  if (!box) return;

  const keyNode = document.getElementById('log-key');
  if (keyNode && result.state !== 'checking') {
    keyNode.textContent = result.key || t('w.no_key');
    keyNode.classList.toggle('missing', !result.key);
  }

  // A failure is an alert; the other states are polite updates.
  if (result.state === 'failed') {
    box.setAttribute('role', 'alert');
    box.setAttribute('aria-live', 'assertive');
  } else {
    box.removeAttribute('role');
    box.setAttribute('aria-live', 'polite');
  }
  box.dataset.state = result.state;

  const title = el('p', { className: 'witness-title' });
  const detail = el('p', { className: 'witness-detail' });
  switch (result.state) {
    case 'checking':
      title.textContent = t('w.checking');
      break;
    case 'first':
      title.textContent = t('w.first_title');
      detail.textContent = result.count ? t('w.first', { n: fmt.int(result.count) }) : t('w.no_checkpoints');
      break;
    case 'consistent':
      title.textContent = t('w.consistent_title');
      detail.textContent = result.count
        ? t('w.consistent', { time: fmt.time((Number(result.since) || 0) / 1000), n: fmt.int(result.count) })
        : t('w.no_checkpoints');
      break;
    case 'unkeyed':
      title.textContent = t('w.unkeyed_title');
      detail.textContent = t('w.unkeyed');
      break;
    case 'failed':
      title.textContent = t('w.failed_title');
      detail.textContent = t(result.failure.why, result.failure.params);
      break;
    default:
      title.textContent = t('w.error_title');
      detail.textContent = t('w.error', { error: result.message || '' });
  }
  box.replaceChildren(title, ...(detail.textContent ? [detail] : []));

  renderEvidence(result);
  renderChains(result);
}

function renderEvidence(result) {
  const holder = document.getElementById('witness-evidence');
  if (!holder) return;
  for (const url of evidenceUrls) URL.revokeObjectURL(url);
  evidenceUrls = [];
  if (result.state !== 'failed') {
    holder.replaceChildren();
    holder.hidden = true;
    return;
  }
  const evidence = result.failure.evidence;
  const isKey = evidence.some((e) => e.kind === 'key');
  const parts = [el('p', {}, t(isKey ? 'w.evidence_key' : 'w.evidence_bundle'))];
  if (!isKey) {
    parts.push(el('pre', { className: 'command' }, el('code', {}, `greenloop proof check --log-key ${result.key} ${evidence[0].file}`)));
  }
  const list = el('ul', { className: 'evidence-links' });
  for (const item of evidence) {
    // Exactly the failing bundle, as the CLI saves it (two-space indents).
    const json = `${JSON.stringify(item.body, null, 2)}\n`;
    const url = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
    evidenceUrls.push(url);
    list.append(
      el(
        'li',
        {},
        el('a', { href: url, download: item.file }, t('w.evidence_link', { file: item.file })),
        // The same text on the page, for copying (and for reading without a download).
        el('details', {}, el('summary', {}, t('w.evidence_show')), el('pre', { className: 'evidence-json', dataset: { file: item.file } }, json)),
      ),
    );
  }
  parts.push(list, el('p', { className: 'note' }, t('w.kept_note')));
  holder.replaceChildren(...parts);
  holder.hidden = false;
}

function renderChains(result) {
  const table = document.getElementById('witness-chains');
  if (!table) return;
  const rows = result.rows ? [...result.rows.values()] : [];
  (table.closest('.table-wrap') || table).hidden = rows.length === 0;
  setRows(
    table.tBodies[0],
    rows.map((row) => {
      const cp = row.shown || row.cp;
      const status = t(row.status, { old: fmt.int(row.old ?? 0) });
      return el(
        'tr',
        { dataset: { chain: String(cp.chain), status: row.status.replace('w.st_', '') } },
        el('td', { className: 'row-head' }, el('code', {}, String(cp.chain))),
        numCell(fmt.int(cp.size), cp.size),
        el('td', {}, el('time', { dateTime: isoTime(cp.time) }, fmt.time(cp.time))),
        el('td', { className: row.status === 'w.st_failed' ? 'bad' : '' }, status),
      );
    }),
  );
}

onLangChange(() => {
  if (lastResult) render(lastResult);
});

// ---------- Running ----------

let inFlight = null;
let failed = null; // the first failure of this page: it stays shown
let ran = false;

async function runOnce() {
  if (failed) {
    render(failed);
    return 'failed';
  }
  if (!ran) render({ state: 'checking' });
  ran = true;
  let result;
  try {
    result = await evaluate();
  } catch (e) {
    result = { state: 'error', message: errorText(e), key: lastResult?.key ?? null };
  }
  if (result.state === 'failed') failed = result;
  render(result);
  return result.state;
}

// Run the witness check once and return the final state: 'first', 'consistent', 'failed',
// 'unkeyed' or 'error' (the log or the verifier unreachable). A call while a check runs
// shares that check rather than racing it over the same storage.
export function witness() {
  if (!inFlight) {
    inFlight = runOnce().finally(() => {
      inFlight = null;
    });
  }
  return inFlight;
}

// On the public page: check now, then again whenever the log's answer changes.
function start() {
  if (!document.getElementById('witness')) return;
  let timer = null;
  const schedule = () => {
    clearTimeout(timer);
    if (!failed) timer = setTimeout(pollLog, POLL_MS);
  };
  async function pollLog() {
    try {
      if (lastResult?.state === 'error') {
        await witness();
      } else {
        const r = await getJSON(LOG_URL, { cache: 'no-cache' });
        if (!r.notModified && r.text !== checkedLogText) await witness();
      }
    } catch {
      // the log is unreachable now; the shown state stays and the next poll retries
    }
    schedule();
  }
  witness().then(schedule, schedule);
}

start();
