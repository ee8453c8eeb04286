/** The colours of the page: verdicts, region kinds and frame uses (the CSS variables, as numbers for canvases). */
import { FrameCode, type RegionKind, Verdict } from '../protocol.js';

export const VERDICT_COLOR: Record<Verdict, string> = {
  [Verdict.Match]: '#3a9d5d',
  [Verdict.Error]: '#d6a21e',
  [Verdict.Differs]: '#d64541',
  [Verdict.Unchecked]: '#a9adb4',
};

export const VERDICT_NAME: Record<Verdict, string> = {
  [Verdict.Match]: 'match',
  [Verdict.Error]: 'error (same as Linux)',
  [Verdict.Differs]: 'differs from Linux',
  [Verdict.Unchecked]: 'not compared',
};

export const KIND_COLOR: Record<RegionKind, string> = {
  program: '#4a6fd1',
  library: '#8e6bd6',
  heap: '#e07b39',
  stack: '#d9465f',
  anonymous: '#3fa7a0',
  shared: '#c9a227',
  guard: '#9aa0a6',
  vdso: '#5b8c3a',
  file: '#6d8fa8',
};

export const KINDS = Object.keys(KIND_COLOR) as RegionKind[];

/** RGB of each frame code; free blocks get lighter greens as their order grows. */
export function frameRgb(code: number): [number, number, number] {
  switch (code) {
    case FrameCode.Kernel:
      return [70, 74, 82];
    case FrameCode.Table:
      return [142, 107, 214];
    case FrameCode.User:
      return [74, 111, 209];
    case FrameCode.Shared:
      return [224, 123, 57];
    case FrameCode.Zero:
      return [240, 190, 120];
    default: {
      const order = code - FrameCode.FreeBase;
      const t = Math.min(1, order / 12);
      return [Math.round(214 + 30 * t), Math.round(236 + 14 * t), Math.round(220 + 26 * t)];
    }
  }
}

export const FRAME_LEGEND: Array<{ label: string; code: number }> = [
  { label: 'kernel', code: FrameCode.Kernel },
  { label: 'page table', code: FrameCode.Table },
  { label: 'user page', code: FrameCode.User },
  { label: 'shared (refcount > 1)', code: FrameCode.Shared },
  { label: 'zero page', code: FrameCode.Zero },
  { label: 'free, order 0', code: FrameCode.FreeBase },
  { label: 'free, order 10+', code: FrameCode.FreeBase + 10 },
];

export const css = (rgb: [number, number, number]) => `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;

export const hex = (n: number) => `0x${n.toString(16)}`;

export function sizeText(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}
