/**
 * Seeded generator of sequences in which processes fork, for the fork build of the harness
 * (`harness-fork`, see README.md, "Sequences with fork").
 *
 * `generateForkSequence(seed, opts)` is pure, like `generateSequence`. Each process has a generator
 * of its own (`ProcGen`, the single-process `Gen` writing into the shared op list with its process
 * tag); a fork copies the forking process's idea of its mappings, heap and arena into the child's,
 * which is what the child inherits. On top of the single-process mix it emits:
 * - `fork` (one to three per sequence, up to four processes alive) and `exit` of a child;
 * - after each fork, writes and reads of the inherited memory on both sides (copy-on-write);
 * - MADV_DONTFORK/DOFORK/WIPEONFORK/KEEPONFORK before forks;
 * - mappings placed right next to existing ones (MAP_FIXED_NOREPLACE at a region's end or just
 *   below it), where fork changes which neighbours merge.
 *
 * `npx tsx tools/linux-harness/record-fork.ts --print 7` prints the sequence of seed 7.
 */
import {
  MADV_DOFORK,
  MADV_DONTFORK,
  MADV_KEEPONFORK,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED_NOREPLACE,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_STACK,
} from '../../src/abi/mman.js';
import { Gen, type GenerateOptions, literal, type Op, type OpName, Rng, SENTINEL_LEN } from './generate.js';

export const FORK_GENERATOR_VERSION = 1;

const P = 0x1000;
const MAX_ALIVE = 4;
const MAX_FORKS = 3;

const ref = (idx: number, off: number): string =>
  off === 0 ? `$${idx}` : off > 0 ? `$${idx}+${literal(off)}` : `$${idx}-${literal(-off)}`;

/** One process's generator: the single-process mix, writing into the shared list with its tag. */
class ProcGen extends Gen {
  alive = true;

  constructor(
    rng: Rng,
    readonly proc: number,
    private readonly sink: Op[],
  ) {
    super(rng);
  }

  override emit(op: OpName, args: (string | number)[], kind: string): number {
    super.emit(op, args, kind);
    const o = this.ops.pop()!;
    this.sink.push(this.proc > 0 ? { ...o, proc: this.proc } : o);
    return this.sink.length - 1;
  }

  /** The child's generator: what this process knows of its memory, as the child inherits it. */
  forkInto(proc: number): ProcGen {
    const child = new ProcGen(this.rng, proc, this.sink);
    for (const r of this.regions) child.regions.push({ ...r });
    child.brkOff = this.brkOff;
    child.blockerOff = this.blockerOff;
    child.arenaUsed = [...this.arenaUsed];
    return child;
  }

  /** A live region, preferring recent ones, or undefined. */
  liveRegion(): ReturnType<Gen['region']> {
    const r = this.region(1);
    return r?.alive ? r : undefined;
  }

  /** Writes or reads a page of a region (copy-on-write after a fork). */
  access(): void {
    this.touchOrPeek(this.rng.chance(0.6));
  }

  /** MADV_DONTFORK / DOFORK / WIPEONFORK / KEEPONFORK on part of a region. */
  forkAdvice(): void {
    const r = this.liveRegion();
    if (!r) {
      this.mmapNew();
      return;
    }
    const advice = this.rng.weighted<number>([
      [4, MADV_DONTFORK],
      [4, MADV_WIPEONFORK],
      [1.5, MADV_DOFORK],
      [1.5, MADV_KEEPONFORK],
    ]);
    const s = this.subRange(r);
    const names: Record<number, string> = {
      [MADV_DONTFORK]: 'DONTFORK',
      [MADV_DOFORK]: 'DOFORK',
      [MADV_WIPEONFORK]: 'WIPEONFORK',
      [MADV_KEEPONFORK]: 'KEEPONFORK',
    };
    this.emit('madvise', [ref(r.idx, s.off), s.len, advice], `fork:madvise-${names[advice]}-${s.shape}`);
  }

  /**
   * A new private mapping right after a region's end or right below its start, with the region's
   * rights and flags: whether it merges depends on the neighbour's anon_vma (a fork child's never
   * merges with a fresh one).
   */
  adjacentMmap(): void {
    const r = this.liveRegion();
    if (!r || r.flags & MAP_SHARED) {
      this.mmapNew();
      return;
    }
    const len = this.rng.int(1, 4) * P;
    const above = this.rng.chance(0.6);
    const prot = this.rng.chance(0.8) ? r.prot & 7 : this.randomProt();
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | (r.flags & (MAP_NORESERVE | MAP_STACK));
    const addr = above ? ref(r.idx, r.len) : ref(r.idx, -len);
    const idx = this.emit('mmap', [addr, len, prot, flags, -1, 0], `fork:mmap-${above ? 'above' : 'below'}`);
    this.addRegion(idx, len, prot, flags & ~MAP_FIXED_NOREPLACE);
  }

  /** One op of the single-process mix, with the generator's usual weights. */
  ordinary(badFraction: number): void {
    if (this.rng.chance(badFraction)) {
      this.bad();
      return;
    }
    this.rng.weighted<() => void>([
      [12, () => this.mmapNew()],
      [5, () => this.mmapFixedOver()],
      [3, () => this.mmapFixedArena()],
      [8, () => this.munmap()],
      [10, () => this.mprotect()],
      [6, () => this.brk()],
      [8, () => this.mremap()],
      [7, () => this.madvise()],
      [12, () => this.touchOrPeek(true)],
      [7, () => this.touchOrPeek(false)],
    ])();
  }
}

const DEFAULTS = { minOps: 50, maxOps: 90, badFraction: 0.1 };

/** The deterministic fork sequence for `seed`. Op 0 is the sentinel reservation, as in `generateSequence`. */
export function generateForkSequence(seed: number, opts: GenerateOptions = {}): Op[] {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const o = { ...DEFAULTS, ...opts };
  if (o.minOps < 20 || o.maxOps < o.minOps) throw new Error('need 20 <= minOps <= maxOps');
  const rng = new Rng(seed ^ 0x5f0f0f0f);
  const ops: Op[] = [];
  const procs = [new ProcGen(rng, 0, ops)];
  const n = rng.int(o.minOps, o.maxOps);
  const first = procs[0];
  first.emit('mmap', ['0', SENTINEL_LEN, 0, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0], 'sentinel');
  const warmup = rng.int(3, 5);
  for (let i = 0; i < warmup; i++) {
    first.mmapNew();
    if (rng.chance(0.7)) first.touchOrPeek(true);
  }
  let forks = 0;
  const firstFork = rng.int(ops.length + 1, ops.length + 8);
  let cur = first;
  /** Planned ops right after a fork: alternating accesses of the inherited memory. */
  const burst: ProcGen[] = [];
  const alive = () => procs.filter((p) => p.alive);

  const fork = (parent: ProcGen): void => {
    const child = parent.forkInto(procs.length);
    parent.emit('fork', [], `fork:${parent.proc}->${child.proc}`);
    procs.push(child);
    forks++;
    const k = rng.int(3, 8);
    for (let i = 0; i < k; i++) burst.push(i % 2 === 0 ? child : parent);
  };

  while (ops.length < n) {
    if (burst.length > 0) {
      const p = burst.shift()!;
      if (p.alive) p.access();
      continue;
    }
    if (forks === 0 && ops.length >= firstFork) {
      fork(cur);
      continue;
    }
    if (rng.chance(0.25)) cur = rng.pick(alive());
    const canFork = forks > 0 && forks < MAX_FORKS && alive().length < MAX_ALIVE;
    const canExit = cur.proc !== 0 && alive().length > 1;
    const action = rng.weighted<string>([
      [canFork ? 2.5 : 0, 'fork'],
      [canExit ? 0.8 : 0, 'exit'],
      [forks < MAX_FORKS ? 3 : 0.5, 'advice'],
      [4, 'adjacent'],
      [5, 'access'],
      [20, 'ordinary'],
    ]);
    switch (action) {
      case 'fork':
        fork(cur);
        break;
      case 'exit':
        cur.emit('exit', [], `fork:exit-${cur.proc}`);
        cur.alive = false;
        cur = procs[0];
        break;
      case 'advice':
        cur.forkAdvice();
        break;
      case 'adjacent':
        cur.adjacentMmap();
        break;
      case 'access':
        cur.access();
        break;
      default:
        cur.ordinary(o.badFraction);
    }
  }
  return ops;
}
