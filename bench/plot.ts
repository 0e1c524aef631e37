/**
 * A small SVG line chart of latency against offered load (`npm run bench -- devnet --plot F`):
 * linear x (tx/s), logarithmic y (ms, since p99 near saturation is tens of times p50 at low load),
 * one polyline per series with a dot per point, optional horizontal guides (the goals), a legend.
 */

export interface CurvePoint {
  /** offered load, tx/s */
  readonly x: number;
  /** latency, ms */
  readonly y: number;
}

export interface CurveSeries {
  readonly name: string;
  readonly color: string;
  readonly dashed?: boolean;
  readonly points: readonly CurvePoint[];
}

export interface Guide {
  readonly name: string;
  readonly y: number;
}

export interface CurveChart {
  readonly title: string;
  readonly series: readonly CurveSeries[];
  readonly guides?: readonly Guide[];
}

const WIDTH = 720;
const HEIGHT = 440;
const M = { left: 70, right: 190, top: 40, bottom: 50 };

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number) => (Math.round(v * 10) / 10).toString();

/** Tick values for a log axis over [lo, hi]: 1, 2 and 5 times each power of ten. */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo && t <= hi) ticks.push(t);
    }
  return ticks;
}

/** Five or so round tick values from 0 to at least `hi`. */
export function linearTicks(hi: number): number[] {
  if (!(hi > 0)) return [0];
  const raw = hi / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const ticks: number[] = [];
  for (let t = 0; t < hi + step; t += step) ticks.push(Math.round(t * 1e6) / 1e6);
  return ticks;
}

/** The chart as a standalone SVG document. */
export function latencyCurveSvg(chart: CurveChart): string {
  const points = chart.series.flatMap((s) => s.points).filter((p) => p.y > 0 && Number.isFinite(p.x));
  const ys = [...points.map((p) => p.y), ...(chart.guides ?? []).map((g) => g.y)];
  const yLo = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...ys, 100))));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(...ys, yLo * 10)));
  const xTicks = linearTicks(Math.max(...points.map((p) => p.x), 1));
  const xHi = xTicks.at(-1)!;
  const plotW = WIDTH - M.left - M.right;
  const plotH = HEIGHT - M.top - M.bottom;
  const sx = (x: number) => M.left + (x / xHi) * plotW;
  const sy = (y: number) =>
    M.top + plotH - ((Math.log10(y) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * plotH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2 - M.right / 2}" y="22" text-anchor="middle" font-size="14">${esc(chart.title)}</text>`,
  ];
  for (const t of logTicks(yLo, yHi)) {
    const y = num(sy(t));
    parts.push(
      `<line x1="${M.left}" y1="${y}" x2="${M.left + plotW}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${M.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${t}</text>`,
    );
  }
  for (const t of xTicks) {
    const x = num(sx(t));
    parts.push(
      `<line x1="${x}" y1="${M.top}" x2="${x}" y2="${M.top + plotH}" stroke="#eee"/>`,
      `<text x="${x}" y="${M.top + plotH + 16}" text-anchor="middle">${t}</text>`,
    );
  }
  parts.push(
    `<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${M.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">offered load (tx/s)</text>`,
    `<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">submit-to-execution latency (ms, log)</text>`,
  );
  for (const g of chart.guides ?? []) {
    const y = num(sy(g.y));
    parts.push(
      `<line x1="${M.left}" y1="${y}" x2="${M.left + plotW}" y2="${y}" stroke="#999" stroke-dasharray="2 3"/>`,
      `<text x="${M.left + plotW - 4}" y="${num(sy(g.y) - 4)}" text-anchor="end" fill="#666">${esc(g.name)}</text>`,
    );
  }
  for (const s of chart.series) {
    const pts = s.points.filter((p) => p.y > 0 && Number.isFinite(p.x));
    if (pts.length === 0) continue;
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<polyline fill="none" stroke="${esc(s.color)}" stroke-width="2"${dash} points="${pts
        .map((p) => `${num(sx(p.x))},${num(sy(p.y))}`)
        .join(' ')}"/>`,
    );
    for (const p of pts)
      parts.push(
        `<circle cx="${num(sx(p.x))}" cy="${num(sy(p.y))}" r="3" fill="${esc(s.color)}"><title>${esc(s.name)}: ${num(p.x)} tx/s, ${Math.round(p.y)} ms</title></circle>`,
      );
  }
  chart.series.forEach((s, i) => {
    const y = M.top + 10 + i * 20;
    const x = M.left + plotW + 16;
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<line x1="${x}" y1="${y}" x2="${x + 28}" y2="${y}" stroke="${esc(s.color)}" stroke-width="2"${dash}/>`,
      `<text x="${x + 34}" y="${y}" dominant-baseline="middle">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
