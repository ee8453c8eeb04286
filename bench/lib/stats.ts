/** Small statistics and formatting helpers for the benchmark. */

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Linear-interpolated quantile (q in [0, 1]) of a non-empty sample. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** A ns figure with a sensible number of digits: 12.3, 123, 1 234. */
export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return '–';
  if (ns < 100) return ns.toFixed(1);
  return Math.round(ns).toLocaleString('en-US').replaceAll(',', ' ');
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '–';
}

export function fmtBytes(b: number): string {
  const a = Math.abs(b);
  if (a >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MiB`;
  if (a >= 2 ** 10) return `${(b / 2 ** 10).toFixed(1)} KiB`;
  return `${Math.round(b)} B`;
}

/** Left-pads or right-pads every cell so the columns line up; the first row is the header. */
export function textTable(rows: string[][], rightAlign: boolean[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (rightAlign[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

export function markdownTable(rows: string[][], rightAlign: boolean[]): string {
  const head = `| ${rows[0].join(' | ')} |`;
  const sep = `|${rightAlign.map((r) => (r ? '---:' : ':---')).join('|')}|`;
  return [head, sep, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The interquartile range over the median: how much the rounds of one figure disagree. */
export function relativeIqr(xs: readonly number[]): number {
  return (quantile(xs, 0.75) - quantile(xs, 0.25)) / median(xs);
}

/** A figure whose rounds spread by more than this (relative IQR) is flagged as noisy. */
export const NOISY_IQR = 0.1;

export function noisy(xs: readonly number[]): boolean {
  return xs.length >= 3 && relativeIqr(xs) > NOISY_IQR;
}
