/**
 * A forked worker (run with --expose-gc) that measures the host memory eager mappings cost: boot a
 * kernel, map `pages` pages and write one byte into each, then a second mapping of as many pages the
 * same way, then unmap both, taking process.memoryUsage() after a forced full GC at every step.
 * The first mapping gives the cost per page from boot (fixed one-time costs included), the second
 * the marginal cost per page. Sends one MemoryReport over IPC and exits.
 *
 *   node --expose-gc memory-worker.mjs <arch> <model entry file URL> <pages>
 *
 * Run by plain node after esbuild strips the types (load-model.ts): it imports only types.
 */
import type { MemoryReport, MemSample, ModelArch } from './protocol.js';

type Lib = typeof import('../../src/index.js');
const PAGE = 4096;
const arch = process.argv[2] as ModelArch;
const pages = Number(process.argv[4]);
const { Kernel, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS } = (await import(process.argv[3])) as Lib;

/** 1 GiB: two mappings of 65 536 pages and their tables. */
const MEMORY_RAM_BYTES = 2 ** 30;

const gc = (globalThis as { gc?: (opts?: unknown) => void }).gc;
if (gc === undefined) throw new Error('memory-worker needs node --expose-gc');

function sample(): MemSample {
  // Several full collections: the first may only schedule finalization of what it found dead.
  for (let i = 0; i < 4; i++) gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

const PROT = PROT_READ | PROT_WRITE;
const FLAGS = MAP_PRIVATE | MAP_ANONYMOUS;

// Warm the code paths (and the heap's shape) on a scratch kernel, so the first real mapping does
// not also pay for compiled code, inline caches and the like.
{
  const scratch = new Kernel({ arch, ramBytes: 16 * 2 ** 20, pageSize: PAGE, paging: 'eager' });
  const t = scratch.spawn();
  for (let i = 0; i < 50; i++) {
    const a = scratch.sys.mmap(0, 64 * PAGE, PROT, FLAGS, -1, 0);
    t.write(a, [1]);
    scratch.sys.munmap(a, 64 * PAGE);
  }
}

const beforeBoot = sample();
// Room for two mappings of `pages` pages and their tables; committed only as touched.
const kernel = new Kernel({ arch, ramBytes: MEMORY_RAM_BYTES, pageSize: PAGE, paging: 'eager' });
const task = kernel.spawn();
const booted = sample();

const len = pages * PAGE;
const one = new Uint8Array([0xa5]);
function mapAndWrite(): { addr: number; mapped: MemSample; committedMapped: number } {
  const addr = kernel.sys.mmap(0, len, PROT, FLAGS, -1, 0);
  if (addr < 0) throw new Error(`mmap(${pages} pages) = ${addr}`);
  const mapped = sample();
  const committedMapped = kernel.ram.committedBytes;
  for (let i = 0; i < pages; i++) task.write(addr + i * PAGE + (i % PAGE), one);
  return { addr, mapped, committedMapped };
}

const first = mapAndWrite();
const written = sample();
const committedWritten = kernel.ram.committedBytes;
const second = mapAndWrite();
const secondWritten = sample();
const committedSecond = kernel.ram.committedBytes;

for (const { addr } of [second, first]) {
  const r = kernel.sys.munmap(addr, len);
  if (r !== 0) throw new Error(`munmap = ${r}`);
}
const unmapped = sample();

const report: MemoryReport = {
  arch,
  pages,
  ramBytes: MEMORY_RAM_BYTES,
  totalFrames: kernel.frames.totalPages,
  beforeBoot,
  booted,
  mapped: first.mapped,
  written,
  secondWritten,
  unmapped,
  committed: {
    mapped: first.committedMapped,
    written: committedWritten,
    secondWritten: committedSecond,
    unmapped: kernel.ram.committedBytes,
  },
};
// Keep the kernel reachable until every sample has been taken.
if (kernel.tasks.size !== 1) throw new Error('unexpected task count');
process.send?.(report, () => process.exit(0));
