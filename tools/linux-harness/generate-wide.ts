/**
 * The generator's file mappings and wide shapes (`GenerateOptions.files` / `wide`, see
 * generate.ts): mappings of the files the harness has open, and anonymous mappings of the shapes
 * the classic sequences never make. Each function draws from the sequence's generator `g`.
 */
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_SYNC,
  PROT_WRITE,
} from '../../src/abi/mman.js';
import { FREE_HINTS, type Gen, type GenFile, literal, ref } from './generate.js';

const P = 0x1000;
const MiB = 0x100000;
const GiB = 0x40000000;
const ANON_PRIVATE = MAP_PRIVATE | MAP_ANONYMOUS;

/** A length for a mapping of `f` at file offset `off`: the file's rest, a few pages, 2 MiB multiples, or past the end. */
function fileLen(g: Gen, f: GenFile, off: number): number {
  const rest = Math.max(P, Math.ceil((f.size - off) / P) * P);
  return g.rng.weighted<number>([
    [f.device ? 0 : 4, rest],
    [4, g.rng.int(1, 8) * P],
    [3, g.rng.int(1, 2) * 2 * MiB],
    [f.device ? 0 : 2, rest + g.rng.int(1, 4) * P],
    [1, 2 * MiB + g.rng.int(1, 16) * P],
  ]);
}

export function mmapFile(g: Gen): void {
  const rng = g.rng;
  const f = rng.pick(g.files);
  const type = rng.weighted([
    [6, MAP_PRIVATE],
    [4, MAP_SHARED],
    [1, MAP_SHARED_VALIDATE],
  ] as const);
  const filePages = Math.ceil(f.size / P);
  const offKind = rng.weighted([
    [6, 'zero'],
    [3, 'inside'],
    [1, 'past-end'],
    [f.size >= 2 * MiB ? 2 : 0.5, 'thp'],
  ] as const);
  const off =
    offKind === 'zero'
      ? 0
      : offKind === 'inside'
        ? rng.int(0, Math.max(0, filePages - 1)) * P
        : offKind === 'past-end'
          ? (filePages + rng.int(0, 4)) * P
          : rng.int(1, 2) * 2 * MiB;
  const len = fileLen(g, f, off);
  // A shared writable mapping needs an O_RDWR descriptor (else EACCES): mostly keep to what works.
  let prot = g.randomProt();
  if (type !== MAP_PRIVATE && !f.writable && prot & PROT_WRITE && rng.chance(0.7)) prot &= ~PROT_WRITE;
  let flags: number = type;
  let kind = `mmap:file-${type === MAP_PRIVATE ? 'private' : type === MAP_SHARED ? 'shared' : 'validate'}-${offKind}`;
  const extra = rng.float();
  if (extra < 0.06 && len <= 4 * MiB) {
    flags |= MAP_POPULATE;
    kind += '-populate';
  } else if (extra < 0.12) {
    flags |= MAP_NORESERVE;
    kind += '-noreserve';
  } else if (extra < 0.14 && type === MAP_SHARED_VALIDATE) {
    flags |= MAP_SYNC; // only DAX files take it: EOPNOTSUPP
    kind += '-sync';
  }
  let addr = '0';
  const where = rng.float();
  if (where < 0.12) {
    addr = literal(rng.pick(FREE_HINTS) + rng.int(0, 7) * P);
    kind += ':hint-free';
  } else if (where < 0.22) {
    flags |= MAP_FIXED;
    addr = literal(g.arenaAddr());
    kind += ':fixed-arena';
  } else if (where < 0.3 && g.regions.length > 0) {
    const r = g.region()!;
    if (!r.low) {
      flags |= MAP_FIXED;
      const s = g.subRange(r);
      addr = ref(r.idx, s.off);
      kind += `:fixed-over-${s.shape}`;
    }
  }
  const idx = g.emit('mmap', [addr, len, prot, flags, f.fd, off], kind);
  g.addRegion(idx, len, prot, flags, addr === '0');
}

/** Anonymous mappings of the shapes the classic generator never makes. */
export function mmapWide(g: Gen): void {
  const rng = g.rng;
  const what = rng.weighted([
    [4, 'thp-offset'],
    [3, 'thp-len'],
    [2, 'huge-noreserve'],
    [1, 'huge-none'],
    [1, 'shared-thp'],
  ] as const);
  let len: number;
  let prot = g.randomProt();
  let flags = ANON_PRIVATE;
  let off = 0;
  switch (what) {
    case 'thp-offset':
      // The offset of anonymous memory is ignored, also when aligning to 2 MiB.
      len = rng.int(1, 3) * 2 * MiB;
      off = rng.pick([P, 0x10000, MiB, 2 * MiB + P, 0x7ff000]);
      break;
    case 'thp-len':
      len = rng.pick([2 * MiB, 4 * MiB, 6 * MiB, 8 * MiB]);
      if (rng.chance(0.3)) flags |= MAP_NORESERVE;
      break;
    case 'huge-noreserve':
      len = rng.pick([GiB, 4 * GiB, 2 * GiB + 2 * MiB]);
      flags |= MAP_NORESERVE;
      break;
    case 'huge-none':
      len = rng.pick([GiB, 16 * GiB, 64 * GiB]);
      prot = 0;
      break;
    default:
      len = rng.int(1, 2) * 2 * MiB;
      flags = MAP_SHARED | MAP_ANONYMOUS;
      off = rng.chance(0.5) ? 0 : 2 * MiB;
  }
  const idx = g.emit('mmap', ['0', len, prot, flags, -1, off], `mmap:wide-${what}`);
  g.addRegion(idx, len, prot, flags, true);
}

/** Bad input that needs a file. */
export function badFile(g: Gen): void {
  const rng = g.rng;
  const f = rng.pick(g.files);
  const ro = g.files.find((x) => !x.writable && !x.device);
  const cases: Array<[number, () => void]> = [
    [1, () => g.emit('mmap', ['0', P, 3, MAP_PRIVATE, f.fd, 0x800], 'bad:mmap-file-off-unaligned')],
    [1, () => g.emit('mmap', ['0', 0, 1, MAP_PRIVATE, f.fd, 0], 'bad:mmap-file-len0')],
    [
      ro ? 1 : 0,
      () => g.emit('mmap', ['0', P, 3, MAP_SHARED, ro!.fd, 0], 'bad:mmap-file-shared-write-rdonly'),
    ],
    [
      1,
      () =>
        g.emit(
          'mmap',
          ['0', P, 1, MAP_SHARED_VALIDATE | rng.pick([0x200000, MAP_SYNC]), f.fd, 0],
          'bad:mmap-file-validate-flag',
        ),
    ],
    [
      1,
      () =>
        g.emit(
          'mmap',
          ['0', 2 * P, 1, MAP_PRIVATE, f.fd, literal(rng.pick([0x7ffffffffffff000n, 0xfffffffffffff000n]))],
          'bad:mmap-file-off-overflow',
        ),
    ],
    [1, () => g.emit('mmap', ['0', P, 3, MAP_PRIVATE | MAP_GROWSDOWN, f.fd, 0], 'bad:mmap-file-growsdown')],
    [0.5, () => g.emit('mmap', ['0', P, 3, 0x0f, f.fd, 0], 'bad:mmap-file-type')],
    [
      0.5,
      () => g.emit('mmap', ['0', 2 * MiB, 3, MAP_PRIVATE | MAP_HUGETLB, f.fd, 0], 'bad:mmap-file-hugetlb'),
    ],
  ];
  rng.weighted(cases)();
}
