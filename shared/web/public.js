// The public transparency page: universities' totals, the per-day chart, the campus and brand
// rankings and packaging's second life, polled live (the witness runs from witness.js).
import { initLang, onLangChange, t } from '/assets/i18n.js';
import { getJSON, errorText, fmt, isoTime, el, setFigure, setRows, numCell, dayRow, sum, poll } from '/assets/common.js';
import { DayChart } from '/assets/chart.js';

const $ = (id) => document.getElementById(id);

initLang();

const chart = new DayChart($('days-chart'), $('days-chart-note'));

// The last data of each source, re-rendered on a language switch.
const data = { campuses: null, brands: null, packaging: null };
const errors = new Map();

// ---------- Renderers ----------

function renderCampuses(d) {
  const campuses = Array.isArray(d.campuses) ? d.campuses : [];
  const days = Array.isArray(d.days) ? d.days : [];

  const points = sum(campuses, 'bonus');
  const co2e = sum(campuses, 'co2e_g');
  const actions = sum(campuses, 'entries');
  setFigure('total-points', fmt.int(points), points);
  setFigure('total-co2e', fmt.kg(co2e), co2e);
  setFigure('total-actions', fmt.int(actions), actions);

  const asOf = $('as-of');
  if (d.as_of == null) {
    asOf.textContent = t('public.as_of_none');
    asOf.removeAttribute('datetime');
    delete asOf.dataset.value;
  } else {
    asOf.textContent = t('public.as_of', { time: fmt.time(d.as_of) });
    asOf.dateTime = isoTime(d.as_of);
    asOf.dataset.value = String(d.as_of);
  }

  chart.set(days);
  setRows($('days-table').tBodies[0], days.map(dayRow));

  setRows(
    $('campus-ranking').tBodies[0],
    campuses.map((c) =>
      el(
        'tr',
        { dataset: { campus: String(c.campus) } },
        numCell(fmt.int(c.rank), c.rank),
        el('td', { className: 'row-head' }, String(c.name ?? c.campus)),
        el('td', {}, String(c.city ?? '')),
        numCell(fmt.kg(c.co2e_g), c.co2e_g),
        numCell(fmt.int(c.bonus), c.bonus),
        numCell(fmt.int(c.entries), c.entries),
      ),
    ),
  );
  $('campus-empty').hidden = campuses.length > 0;
}

function renderBrands(d) {
  const brands = Array.isArray(d.brands) ? d.brands : [];
  setRows(
    $('brand-ranking').tBodies[0],
    brands.map((b) => {
      const f = b.figures || {};
      return el(
        'tr',
        { dataset: { brand: String(b.brand) } },
        numCell(fmt.int(b.rank), b.rank),
        el('td', { className: 'row-head' }, String(b.brand)),
        numCell(fmt.int(f.boxes), f.boxes),
        numCell(fmt.int(f.points), f.points),
        numCell(fmt.kg(f.co2e_g), f.co2e_g),
        numCell(fmt.int(b.members), b.members),
      );
    }),
  );
  $('brand-empty').hidden = brands.length > 0;
}

function renderPackaging(d) {
  const totals = d.totals || {};
  const figure = (id, field) => setFigure(id, fmt.int(totals[field]), totals[field] ?? 0);
  figure('pack-collected', 'collected');
  figure('pack-reused', 'reused');
  setFigure('pack-baled', fmt.kg(totals.baled_g), totals.baled_g ?? 0);
  // "Workbooks donated": the donated count (workbooks made is a separate, larger-or-equal figure).
  figure('pack-workbooks', 'donated');
  figure('pack-schools', 'schools');
  setFigure('pack-stock', fmt.int(d.stock), d.stock ?? 0);
  const rate = d.reuse_rate_bp;
  if (rate == null) {
    setFigure('pack-rate', '', null);
    $('pack-rate-note').hidden = false;
  } else {
    setFigure('pack-rate', fmt.pct(rate), rate);
    $('pack-rate-note').hidden = true;
  }
}

const sources = {
  campuses: { url: '/v1/campuses', every: 15000, render: renderCampuses },
  brands: { url: '/v1/brands', every: 60000, render: renderBrands },
  packaging: { url: '/v1/packaging', every: 60000, render: renderPackaging },
};

// ---------- Errors and readiness ----------

function showErrors() {
  const box = $('load-error');
  const lines = [...errors.entries()].map(([name, e]) => t('public.load_error', { what: t(`public.what_${name}`), error: errorText(e) }));
  box.replaceChildren(...lines.map((line) => el('p', {}, line)));
  box.hidden = lines.length === 0;
}

function markReady() {
  if (Object.values(data).every((d) => d !== null)) document.body.dataset.ready = '1';
}

// ---------- Polling ----------

const lastText = {};

for (const [name, source] of Object.entries(sources)) {
  poll(async () => {
    try {
      // no-cache: the browser revalidates with If-None-Match and a 304 costs nothing.
      const r = await getJSON(source.url, { cache: 'no-cache' });
      if (!r.notModified && r.text !== lastText[name]) {
        lastText[name] = r.text;
        data[name] = r.data && typeof r.data === 'object' ? r.data : {};
        source.render(data[name]);
        markReady();
      }
      if (errors.delete(name)) showErrors();
      return true;
    } catch (e) {
      errors.set(name, e);
      showErrors();
      return false;
    }
  }, source.every);
}

onLangChange(() => {
  for (const [name, source] of Object.entries(sources)) {
    if (data[name]) source.render(data[name]);
  }
  chart.relabel();
  showErrors();
});
