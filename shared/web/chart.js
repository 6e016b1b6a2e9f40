// The per-day chart of both pages: kg CO2e (bars, left axis) and actions (line, right axis)
// drawn with the vendored uPlot (global `uPlot`), sized to its container.
import { t, lang } from '/assets/i18n.js';
import { fmt } from '/assets/common.js';

// Campaign days are days of UTC+08:00, so the axis is drawn in that zone.
const TZ = 'Asia/Shanghai';
const DAY = 86400;
const GREEN = '#1b6e3c';
const ORANGE = '#a34700';
const INK = '#33413b';
const GRID = '#e1e9e4';

// "2026-11-01" -> Unix seconds of its midnight at UTC+08:00.
export function dayToUnix(day) {
  return Date.parse(`${day}T00:00:00+08:00`) / 1000;
}

function dayLabel(unix) {
  return new Intl.DateTimeFormat(lang(), { month: 'numeric', day: 'numeric', timeZone: TZ }).format(new Date(unix * 1000));
}

function longDayLabel(unix) {
  return new Intl.DateTimeFormat(lang(), { month: 'short', day: 'numeric', weekday: 'short', timeZone: TZ }).format(new Date(unix * 1000));
}

// From 0 to a bit above the maximum, so bars start at the axis.
const fromZero = (u, min, max) => [0, max > 0 ? max * 1.1 : 1];

export class DayChart {
  // container: an empty element the chart fills; emptyNote: shown instead when there are no days.
  constructor(container, emptyNote) {
    this.container = container;
    this.emptyNote = emptyNote;
    this.u = null;
    this.data = null;
    this.noteKey = null;
    this.frame = 0;
    if (typeof ResizeObserver === 'function') {
      // Resize in the next frame, not inside the observer callback (no resize loops).
      this.observer = new ResizeObserver(() => {
        cancelAnimationFrame(this.frame);
        this.frame = requestAnimationFrame(() => this.resize());
      });
      this.observer.observe(container);
    }
  }

  size() {
    const width = Math.max(200, Math.floor(this.container.clientWidth || 0) || 320);
    return { width, height: width < 520 ? 240 : 300 };
  }

  options() {
    const U = globalThis.uPlot;
    return {
      ...this.size(),
      tzDate: (ts) => U.tzDate(new Date(ts * 1000), TZ),
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: (u, min, max) => [min - DAY / 2, max + DAY / 2] },
        kg: { range: fromZero },
        n: { range: fromZero },
      },
      series: [
        { label: t('col.day'), value: (u, v) => (v == null ? t('common.dash') : longDayLabel(v)) },
        {
          label: t('chart.co2e'),
          scale: 'kg',
          stroke: GREEN,
          fill: 'rgba(27, 110, 60, 0.35)',
          width: 1,
          paths: U.paths.bars({ size: [0.6, 48] }),
          points: { show: false },
          value: (u, v) => (v == null ? t('common.dash') : fmt.kg(v * 1000)),
        },
        {
          label: t('chart.actions'),
          scale: 'n',
          stroke: ORANGE,
          width: 2,
          points: { show: true, size: 6, fill: ORANGE },
          value: (u, v) => (v == null ? t('common.dash') : fmt.int(v)),
        },
      ],
      axes: [
        {
          stroke: INK,
          grid: { stroke: GRID },
          ticks: { stroke: GRID },
          incrs: [DAY, 2 * DAY, 3 * DAY, 5 * DAY, 7 * DAY, 14 * DAY, 30 * DAY],
          space: 44,
          values: (u, splits) => splits.map(dayLabel),
        },
        {
          scale: 'kg',
          label: t('unit.kg_co2e'),
          stroke: GREEN,
          grid: { stroke: GRID },
          ticks: { stroke: GRID },
          size: 56,
          values: (u, splits) => splits.map((v) => fmt.compact(v)),
        },
        {
          scale: 'n',
          side: 1,
          label: t('chart.axis_actions'),
          stroke: ORANGE,
          grid: { show: false },
          ticks: { stroke: GRID },
          size: 56,
          values: (u, splits) => splits.map((v) => fmt.compact(v)),
        },
      ],
    };
  }

  // days: [{day, co2e_g, entries}] ascending.
  set(days) {
    const list = Array.isArray(days) ? days.filter((d) => d && d.day) : [];
    if (list.length === 0) {
      this.data = null;
      this.destroy();
      this.note('chart.empty');
      return;
    }
    this.note(null);
    this.data = [
      list.map((d) => dayToUnix(d.day)),
      list.map((d) => (Number(d.co2e_g) || 0) / 1000),
      list.map((d) => Number(d.entries) || 0),
    ];
    if (this.u) this.u.setData(this.data);
    else this.create();
  }

  create() {
    if (!this.data) return;
    if (typeof globalThis.uPlot !== 'function') {
      // The vendored script did not load: the table under the chart still has every number.
      this.note('chart.unavailable');
      return;
    }
    this.container.replaceChildren();
    this.u = new globalThis.uPlot(this.options(), this.data, this.container);
  }

  // Show the note with this text key instead of the chart (null hides it).
  note(key) {
    this.noteKey = key;
    if (!this.emptyNote) return;
    this.emptyNote.textContent = key ? t(key) : '';
    this.emptyNote.hidden = !key;
  }

  // After a language switch: labels and number formats are baked into the options.
  relabel() {
    this.note(this.noteKey);
    if (!this.data) return;
    this.destroy();
    this.create();
  }

  resize() {
    if (!this.u) return;
    const { width, height } = this.size();
    if (width !== this.u.width || height !== this.u.height) this.u.setSize({ width, height });
  }

  destroy() {
    if (this.u) {
      this.u.destroy();
      this.u = null;
    }
    this.container.replaceChildren();
  }
}
