/** Formatting for numbers, times and hashes, shared by the views. */

const NUMBER = new Intl.NumberFormat('en-US');

/** `1234567` → `1,234,567`. */
export const fmtInt = (n: number): string => NUMBER.format(Math.round(n));

/** Times above this are a live node's wall clock (ms since 1970), not a simulation's virtual time. */
const WALL_CLOCK_FROM = 1e12;

/** Feed time (ms) as seconds with 3 decimals and a unit; a live node's wall clock as the time of day. */
export const fmtTime = (ms: number): string => {
  if (ms < WALL_CLOCK_FROM) return `${(ms / 1000).toFixed(3)} s`;
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};

/** A message rate per feed second: one decimal below 10. */
export function fmtRate(r: number | null): string {
  if (r === null) return '–';
  if (r >= 10) return fmtInt(r);
  return r.toFixed(1);
}

/** A string's FNV-1a hash (for stable colours). */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A stable hue for a string, spread around the wheel (golden angle). */
export const hueOf = (s: string): number => Math.round((hash32(s) * 137.508) % 360);

/** A stable colour for a block hash or message type, readable on the dark theme. */
export const colourOf = (s: string, light = 62): string => `hsl(${hueOf(s)} 65% ${light}%)`;

/** The first `n` characters of a hash. */
export const shortHash = (h: string, n = 6): string => (h.length > n ? h.slice(0, n) : h);

/** Truncates text to `max` characters with an ellipsis. */
export function clip(text: string, max: number): string {
  if (max <= 1) return text.length > 0 ? '…' : '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Distinct colours for message types on the dark theme. */
const PALETTE = [
  '#5aa2ff',
  '#f0a040',
  '#4cc38a',
  '#e9638f',
  '#b08cff',
  '#e3d04a',
  '#42c6d8',
  '#ff7a5c',
  '#8fd14f',
  '#d67ae0',
  '#8c9eff',
  '#c9a27a',
];
const typeColours = new Map<string, string>();

/**
 * A colour per message type: from a palette of distinct ones, the hash choosing where to start
 * and a taken colour passed over (so a page's few types never share one); then hashed hues.
 */
export function typeColour(type: string): string {
  let c = typeColours.get(type);
  if (c !== undefined) return c;
  const taken = new Set(typeColours.values());
  const start = hash32(type) % PALETTE.length;
  for (let i = 0; i < PALETTE.length && c === undefined; i++) {
    const candidate = PALETTE[(start + i) % PALETTE.length]!;
    if (!taken.has(candidate)) c = candidate;
  }
  c ??= colourOf(type);
  typeColours.set(type, c);
  return c;
}
