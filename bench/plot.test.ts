import { describe, expect, it } from 'vitest';
import { latencyCurveSvg, linearTicks, logTicks } from './plot.ts';

/** Checks that every tag is closed in order (a well-formed document for this writer's subset). */
function wellFormed(svg: string): boolean {
  const open: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing === '/') continue;
    if (closing === '/') {
      if (open.pop() !== name) return false;
    } else open.push(name!);
  }
  return open.length === 0;
}

const chart = {
  title: 'latency <&> load',
  series: [
    {
      name: 'plain p50',
      color: '#1f77b4',
      points: [
        { x: 25, y: 300 },
        { x: 50, y: 350 },
        { x: 75, y: 500 },
        { x: 100, y: 4000 },
      ],
    },
    {
      name: 'plain p99',
      color: '#1f77b4',
      dashed: true,
      points: [
        { x: 25, y: 600 },
        { x: 50, y: 800 },
        { x: 75, y: 1500 },
        { x: 100, y: 12_000 },
      ],
    },
  ],
  guides: [{ name: 'block interval', y: 200 }],
};

/** The points of the polyline drawn for series `i`, in SVG coordinates. */
function polyline(svg: string, i: number): { x: number; y: number }[] {
  const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)];
  return lines[i]![1]!.split(' ').map((p) => {
    const [x, y] = p.split(',').map(Number);
    return { x: x!, y: y! };
  });
}

describe('the latency-vs-load SVG', () => {
  it('is one well-formed svg document with its title escaped', () => {
    const svg = latencyCurveSvg(chart);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(wellFormed(svg)).toBe(true);
    expect(svg).toContain('latency &lt;&amp;&gt; load');
    expect(svg).not.toContain('<&>');
  });

  it('draws a polyline per series through every point, inside the view box, and a dot per point', () => {
    const svg = latencyCurveSvg(chart);
    const [, , w, h] = /viewBox="([^"]*)"/.exec(svg)![1]!.split(' ').map(Number);
    for (const [i, s] of chart.series.entries()) {
      const pts = polyline(svg, i);
      expect(pts).toHaveLength(s.points.length);
      for (const p of pts) {
        expect(p.x).toBeGreaterThanOrEqual(0);
        expect(p.x).toBeLessThanOrEqual(w!);
        expect(p.y).toBeGreaterThanOrEqual(0);
        expect(p.y).toBeLessThanOrEqual(h!);
      }
      // more load is further right, more latency is higher up (smaller y)
      for (let k = 1; k < pts.length; k++) {
        expect(pts[k]!.x).toBeGreaterThan(pts[k - 1]!.x);
        expect(pts[k]!.y).toBeLessThan(pts[k - 1]!.y);
      }
    }
    expect(svg.match(/<circle /g)).toHaveLength(8);
    expect(svg).toContain('stroke-dasharray="6 4"'); // p99 dashed
    expect(svg).toContain('>plain p99</text>'); // in the legend
    expect(svg).toContain('>block interval</text>');
  });

  it('p99 lies above p50 at the same load', () => {
    const svg = latencyCurveSvg(chart);
    const p50 = polyline(svg, 0);
    const p99 = polyline(svg, 1);
    for (const [k, p] of p50.entries()) {
      expect(p99[k]!.x).toBe(p.x);
      expect(p99[k]!.y).toBeLessThan(p.y);
    }
  });

  it('leaves out points it cannot place on a log axis, and still draws with none', () => {
    const svg = latencyCurveSvg({
      title: 't',
      series: [{ name: 's', color: 'red', points: [{ x: 1, y: 0 }] }],
    });
    expect(wellFormed(svg)).toBe(true);
    expect(svg).not.toContain('<polyline');
    expect(svg).not.toContain('NaN');
  });

  it('ticks: 1-2-5 per decade on the log axis, round steps on the linear one', () => {
    expect(logTicks(100, 10_000)).toEqual([100, 200, 500, 1000, 2000, 5000, 10_000]);
    expect(linearTicks(87)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(linearTicks(0)).toEqual([0]);
  });
});
