/**
 * The vDSO's special mappings ([vvar], [vvar_vclock], [vdso]) are never split: a munmap, MAP_FIXED
 * mmap, mprotect, mremap or madvise that would split one answers EINVAL (`special_mapping_split`,
 * the `may_split` hook), keeping only what Linux keeps (a split already made at the start of the
 * range, the VMAs an mremap moved before, the pieces mprotect changed before); taken whole, they
 * unmap, move and change like other mappings. The cases of tools/fuzz/linux/special-mappings.c run
 * in the model from the layout that program found and must print exactly what it printed on the
 * reference kernels: Linux 6.18 on this machine (x86-64) and in the arm64 guest.
 */
import { readFileSync } from 'node:fs';
import {
  Kernel,
  MADV_DONTFORK,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  type PagingMode,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  procMaps,
  type Task,
  trace,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';

const P = 4096;
const FAR = 0x6000_0000_0000;
const RW = PROT_READ | PROT_WRITE;
const FIX = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;
/** Where the model's [vvar] goes: any free, page-aligned address below both arches' mmap base. */
const VVAR = 0x7fff_f7f0_0000;

function recorded(arch: string): string[] {
  const url = new URL(`../../tools/fuzz/linux/special-mappings-${arch}.txt`, import.meta.url);
  return readFileSync(url, 'utf8').trimEnd().split('\n');
}

/** The "before" block of the recording as a maps text at VVAR. */
function layout(lines: readonly string[]): string {
  const first = lines.indexOf('before');
  const out: string[] = [];
  for (const line of lines.slice(first + 1)) {
    const m = /^ {2}vvar([+-]\d+)\.\.vvar([+-]\d+) (\S{4})(?: (\S+))?$/.exec(line);
    if (m === null) break;
    const start = VVAR + Number(m[1]) * P;
    const end = VVAR + Number(m[2]) * P;
    out.push(`${start.toString(16)}-${end.toString(16)} ${m[3]} 00000000 00:00 0 ${m[4] ?? ''}`);
  }
  return `${out.join('\n')}\n`;
}

interface Ctx {
  k: Kernel;
  vvar: number;
  vvarEnd: number;
  vdso: number;
  vdsoEnd: number;
  report: (what: string, r: number) => void;
}

/** The cases of special-mappings.c, in its order, with its names. */
const CASES: [string, (c: Ctx) => void][] = [
  ['before', () => {}],
  ['munmap first page of [vvar]', (c) => c.report('munmap', c.k.sys.munmap(c.vvar, P))],
  ['munmap second page of [vvar]', (c) => c.report('munmap', c.k.sys.munmap(c.vvar + P, P))],
  ['munmap last page of [vvar]', (c) => c.report('munmap', c.k.sys.munmap(c.vvarEnd - P, P))],
  ['munmap all of [vvar]', (c) => c.report('munmap', c.k.sys.munmap(c.vvar, c.vvarEnd - c.vvar))],
  ['munmap first page of [vdso]', (c) => c.report('munmap', c.k.sys.munmap(c.vdso, P))],
  ['munmap all of [vdso]', (c) => c.report('munmap', c.k.sys.munmap(c.vdso, c.vdsoEnd - c.vdso))],
  ['munmap [vvar-1, vvar+1)', (c) => c.report('munmap', c.k.sys.munmap(c.vvar - P, 2 * P))],
  ['munmap [vvar-2, vvar+1)', (c) => c.report('munmap', c.k.sys.munmap(c.vvar - 2 * P, 3 * P))],
  [
    'munmap [vvar-1, end of [vvar])',
    (c) => c.report('munmap', c.k.sys.munmap(c.vvar - P, c.vvarEnd - c.vvar + P)),
  ],
  [
    'munmap [vvar-1, end of [vdso] - 1)',
    (c) => c.report('munmap', c.k.sys.munmap(c.vvar - P, c.vdsoEnd - P - c.vvar + P)),
  ],
  [
    'mmap FIXED first page of [vvar]',
    (c) => c.report('mmap', c.k.sys.mmap(c.vvar, P, PROT_WRITE, FIX, -1, 0)),
  ],
  [
    'mmap FIXED [vvar-1, vvar+1)',
    (c) => c.report('mmap', c.k.sys.mmap(c.vvar - P, 2 * P, PROT_WRITE, FIX, -1, 0)),
  ],
  [
    'mmap FIXED all of [vvar] PROT_READ',
    (c) => c.report('mmap', c.k.sys.mmap(c.vvar, c.vvarEnd - c.vvar, PROT_READ, FIX, -1, 0)),
  ],
  ['mmap FIXED last page of [vdso]', (c) => c.report('mmap', c.k.sys.mmap(c.vdsoEnd - P, P, RW, FIX, -1, 0))],
  [
    'mprotect first page of [vvar] PROT_NONE',
    (c) => c.report('mprotect', c.k.sys.mprotect(c.vvar, P, PROT_NONE)),
  ],
  [
    'mprotect first page of [vvar] PROT_READ',
    (c) => c.report('mprotect', c.k.sys.mprotect(c.vvar, P, PROT_READ)),
  ],
  [
    'mprotect first page of [vvar] PROT_READ|PROT_WRITE',
    (c) => c.report('mprotect', c.k.sys.mprotect(c.vvar, P, RW)),
  ],
  [
    'mprotect all of [vvar] PROT_NONE',
    (c) => c.report('mprotect', c.k.sys.mprotect(c.vvar, c.vvarEnd - c.vvar, PROT_NONE)),
  ],
  [
    'mprotect first page of [vdso] PROT_READ',
    (c) => c.report('mprotect', c.k.sys.mprotect(c.vdso, P, PROT_READ)),
  ],
  [
    'mprotect all of [vdso] PROT_READ',
    (c) => c.report('mprotect', c.k.sys.mprotect(c.vdso, c.vdsoEnd - c.vdso, PROT_READ)),
  ],
  [
    'mprotect [vvar-1, vvar+1) PROT_NONE',
    (c) => c.report('mprotect', c.k.sys.mprotect(c.vvar - P, 2 * P, PROT_NONE)),
  ],
  ['mremap first page of [vvar] to FAR', (c) => c.report('mremap', c.k.sys.mremap(c.vvar, P, P, MOVE, FAR))],
  [
    'mremap second page of [vvar] to FAR',
    (c) => c.report('mremap', c.k.sys.mremap(c.vvar + P, P, P, MOVE, FAR)),
  ],
  [
    'mremap all of [vvar] to FAR',
    (c) => c.report('mremap', c.k.sys.mremap(c.vvar, c.vvarEnd - c.vvar, c.vvarEnd - c.vvar, MOVE, FAR)),
  ],
  ['mremap first page of [vdso] to FAR', (c) => c.report('mremap', c.k.sys.mremap(c.vdso, P, P, MOVE, FAR))],
  [
    'mremap all of [vdso] to FAR',
    (c) => c.report('mremap', c.k.sys.mremap(c.vdso, c.vdsoEnd - c.vdso, c.vdsoEnd - c.vdso, MOVE, FAR)),
  ],
  [
    'mremap first page of [vvar] to FAR+1 over a mapping of 4 pages at FAR',
    (c) => {
      c.report('mmap', c.k.sys.mmap(FAR, 4 * P, RW, FIX, -1, 0));
      c.report('mremap', c.k.sys.mremap(c.vvar, P, P, MOVE, FAR + P));
    },
  ],
  [
    'mremap [vvar-1, vvar+1) to FAR (two VMAs)',
    (c) => c.report('mremap', c.k.sys.mremap(c.vvar - P, 2 * P, 2 * P, MOVE, FAR)),
  ],
  [
    'mremap first page of [vvar] grown to 2, MAYMOVE',
    (c) => c.report('mremap', c.k.sys.mremap(c.vvar, P, 2 * P, MREMAP_MAYMOVE, 0)),
  ],
  [
    'mremap first page of [vvar], same size, MAYMOVE',
    (c) => c.report('mremap', c.k.sys.mremap(c.vvar, P, P, MREMAP_MAYMOVE, 0)),
  ],
  [
    'mremap first page of [vvar] MAYMOVE|DONTUNMAP',
    (c) => c.report('mremap', c.k.sys.mremap(c.vvar, P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0)),
  ],
  [
    'mremap all of [vvar] shrunk to 1 page in place',
    (c) => c.report('mremap', c.k.sys.mremap(c.vvar, c.vvarEnd - c.vvar, P, 0, 0)),
  ],
  [
    'mremap all of [vvar] shrunk to 1 page, to FAR',
    (c) => c.report('mremap', c.k.sys.mremap(c.vvar, c.vvarEnd - c.vvar, P, MOVE, FAR)),
  ],
  [
    'mremap all of [vdso] shrunk to 1 page in place',
    (c) => c.report('mremap', c.k.sys.mremap(c.vdso, c.vdsoEnd - c.vdso, P, 0, 0)),
  ],
  [
    'mremap 2 pages at FAR onto [vvar-1, vvar+1)',
    (c) => {
      c.report('mmap', c.k.sys.mmap(FAR, 2 * P, RW, FIX, -1, 0));
      c.report('mremap', c.k.sys.mremap(FAR, 2 * P, 2 * P, MOVE, c.vvar - P));
    },
  ],
  [
    'mremap a page at FAR onto the first page of [vvar]',
    (c) => {
      c.report('mmap', c.k.sys.mmap(FAR, P, RW, FIX, -1, 0));
      c.report('mremap', c.k.sys.mremap(FAR, P, P, MOVE, c.vvar));
    },
  ],
  [
    'mremap 4 pages at FAR (PROT_READ) onto all of [vvar]',
    (c) => {
      c.report('mmap', c.k.sys.mmap(FAR, 4 * P, PROT_READ, FIX, -1, 0));
      c.report('mremap', c.k.sys.mremap(FAR, 4 * P, c.vvarEnd - c.vvar, MOVE, c.vvar));
    },
  ],
  [
    'madvise first page of [vvar] MADV_DONTFORK',
    (c) => c.report('madvise', c.k.sys.madvise(c.vvar, P, MADV_DONTFORK)),
  ],
  [
    'madvise all of [vvar] MADV_DONTFORK',
    (c) => c.report('madvise', c.k.sys.madvise(c.vvar, c.vvarEnd - c.vvar, MADV_DONTFORK)),
  ],
  [
    'madvise first page of [vvar] MADV_WIPEONFORK',
    (c) => c.report('madvise', c.k.sys.madvise(c.vvar, P, MADV_WIPEONFORK)),
  ],
  [
    'madvise first page of [vdso] MADV_DONTFORK',
    (c) => c.report('madvise', c.k.sys.madvise(c.vdso, P, MADV_DONTFORK)),
  ],
  [
    'madvise first page of [vdso] MADV_WIPEONFORK',
    (c) => c.report('madvise', c.k.sys.madvise(c.vdso, P, MADV_WIPEONFORK)),
  ],
  [
    'madvise [vvar-1, vvar+1) MADV_DONTFORK',
    (c) => c.report('madvise', c.k.sys.madvise(c.vvar - P, 2 * P, MADV_DONTFORK)),
  ],
];

/** The program's output, from the model: each case on a fresh process with the recorded layout. */
function modelLines(arch: 'x86_64' | 'aarch64', paging: PagingMode, maps: string): string[] {
  const out: string[] = [];
  const where = (a: number) =>
    a >= FAR && a < FAR + 2 ** 30 ? `FAR+${(a - FAR) / P}` : `vvar${sign((a - VVAR) / P)}`;
  const sign = (n: number) => (n < 0 ? `${n}` : `+${n}`);
  const show = (task: Task, lo: number, hi: number) => {
    for (const e of trace.parseMaps(procMaps(task.mm))) {
      const [s, end] = [Number(e.start), Number(e.end)];
      if (end <= lo || s >= hi) continue;
      const p = e.perms;
      const perms = `${p.read ? 'r' : '-'}${p.write ? 'w' : '-'}${p.exec ? 'x' : '-'}${p.shared ? 's' : 'p'}`;
      out.push(`  ${where(s)}..${where(end)} ${perms}${e.name ? ` ${e.name}` : ''}`);
    }
  };
  let sizes = '';
  for (const [name, body] of CASES) {
    const k = new Kernel({ arch, paging });
    const task = k.spawnFromSnapshot({ maps });
    const find = (n: string) => [...task.mm.vmas].find((v) => v.name === n);
    const vvar = find('[vvar]')!;
    const vclock = find('[vvar_vclock]');
    const vdso = find('[vdso]')!;
    sizes = `[vvar] ${(vvar.end - vvar.start) / P} pages, [vvar_vclock] ${vclock ? (vclock.end - vclock.start) / P : 0}, [vdso] ${(vdso.end - vdso.start) / P}`;
    const ctx: Ctx = {
      k,
      vvar: vvar.start,
      vvarEnd: vvar.end,
      vdso: vdso.start,
      vdsoEnd: vdso.end,
      report: (what, r) =>
        out.push(`  ${what}: ${r < 0 ? `-${trace.errnoName(-r)}` : r === 0 ? '0' : where(r)}`),
    };
    const vdsoEnd = vdso.end;
    out.push(name);
    body(ctx);
    expect(k.check(), name).toEqual([]);
    show(task, VVAR - 2 * P, vdsoEnd);
    show(task, FAR, FAR + 64 * P);
  }
  return [sizes, ...out];
}

describe.each(['x86_64', 'aarch64'] as const)('special mappings (%s)', (arch) => {
  const lines = recorded(arch);
  it.each(['demand', 'eager'] as const)('split, moved and changed as on Linux (%s paging)', (paging) => {
    expect(lines[0]).toMatch(/^# Linux 6\.18\./);
    expect(modelLines(arch, paging, layout(lines))).toEqual(lines.slice(1));
  });
});
