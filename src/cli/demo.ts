import { ENOMEM, errnoName } from '../abi/errno.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../abi/mman.js';
import { hex } from '../hal/addr.js';
import { formatKernelAddr } from '../hal/linear-map.js';
import { PageFaultError } from '../hal/page-fault.js';
import { Kernel, type KernelOptions } from '../kernel/kernel.js';
import { procMaps } from '../kernel/procfs.js';

/**
 * The seed's scenario, end to end: boot, map, use memory, replace a mapping with MAP_FIXED, make
 * an mmap run out of frames half way (injected, then for real) and show that it leaves no trace,
 * unmap everything and show every frame back. It runs in the seed's eager paging, where mmap itself
 * allocates. Returns whether every step behaved (the invariant checker stayed empty and the frame
 * counts came back).
 */
export function runDemo(options: Omit<KernelOptions, 'paging'>, print: (line: string) => void): boolean {
  const kernel = new Kernel({ ...options, paging: 'eager' });
  const P = kernel.pageSize;
  let ok = true;
  const expect = (cond: boolean, what: string) => {
    if (!cond) {
      ok = false;
      print(`  !! ${what}`);
    }
  };
  const frames = () => `${kernel.frames.freePages} free / ${kernel.frames.totalPages} frames`;
  const showMaps = (title: string) => {
    print(`  ${title}:`);
    const maps = procMaps(kernel.current!.mm);
    for (const line of (maps === '' ? '(no mappings)\n' : maps).trimEnd().split('\n')) print(`    ${line}`);
  };
  const checked = () => {
    const v = kernel.check();
    expect(v.length === 0, `invariant checker: ${v.join('; ')}`);
    return v.length === 0 ? 'check() = []' : `check() found ${v.length} problems`;
  };

  print(
    `levitate-mm demo: ${kernel.arch}, ${P}-byte pages, ${kernel.ram.size / 2 ** 20} MiB RAM, ${kernel.paging} paging`,
  );
  const task = kernel.spawn();
  print(`\n1. spawn: pid ${task.pid}, ttbr0 = ${hex(task.ttbr0)} (root table); ${frames()}`);
  const boot = kernel.frames.freePages;

  const len = 16 * P;
  const addr = kernel.sys.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  print(`\n2. mmap(NULL, ${len}, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ${hex(addr)}`);
  print(
    `   every page allocated, zeroed and mapped now; ${frames()} (${boot - kernel.frames.freePages} used: 16 pages + tables)`,
  );
  task.write(addr, 'hello, levitate');
  const kptr = task.mm.pageTable.translate(addr as never);
  print(
    `   wrote "hello, levitate" at ${hex(addr)} -> frame ${hex(kptr)} (kernel ${formatKernelAddr(kernel.linearMap.physToVirt(kptr as never))})`,
  );
  showMaps('/proc/1/maps');

  const before = kernel.frames.freePages;
  const mapsBefore = procMaps(task.mm);
  const big = 600;
  print(`\n3. mmap of ${big} pages with the allocator told to fail half way (failAfter(${big / 2})):`);
  kernel.frames.failAfter(big / 2);
  const r = kernel.sys.mmap(0, big * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  kernel.frames.failAfter(-1);
  print(
    `   = -${errnoName(-r)}; the guard unmapped and freed all it had mapped (${big / 2} frames: pages and tables)`,
  );
  expect(r === -ENOMEM, 'the failing mmap should return -ENOMEM');
  expect(kernel.frames.freePages === before, 'frames should be back');
  expect(procMaps(task.mm) === mapsBefore, 'the address space should be unchanged');
  print(`   ${frames()} (unchanged), maps unchanged, ${checked()}`);

  print('\n4. MAP_FIXED replacing 4 pages that hold data, failing on its last page:');
  kernel.frames.failAfter(3);
  const f = kernel.sys.mmap(addr, 4 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  kernel.frames.failAfter(-1);
  const text = new TextDecoder().decode(task.read(addr, 15));
  print(`   = -${errnoName(-f)}; the old mapping is back with its data: "${text}"`);
  expect(text === 'hello, levitate', 'old data should survive a failed MAP_FIXED');
  const g = kernel.sys.mmap(addr, 4 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  print(`   retried without injection = ${hex(g)}: fresh read-only zero pages, old frames freed`);
  try {
    task.write(addr, 'x');
    expect(false, 'a write to a read-only page should fault');
  } catch (e) {
    if (!(e instanceof PageFaultError)) throw e;
    print(`   a write there now faults: ${e.message}`);
  }
  showMaps('/proc/1/maps');

  const free = kernel.frames.freePages;
  print(
    `\n5. running out of RAM for real: mmap of ${free + 64} pages (MAP_NORESERVE) with ${free} frames free:`,
  );
  const oom = kernel.sys.mmap(
    0,
    (free + 64) * P,
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
    -1,
    0,
  );
  print(`   = -${errnoName(-oom)}; ${frames()}, ${checked()}`);
  expect(oom === -ENOMEM && kernel.frames.freePages === free, 'real OOM should roll back');

  const u = kernel.sys.munmap(addr, len);
  print(`\n6. munmap(${hex(addr)}, ${len}) = ${u}; frames and emptied tables freed: ${frames()}`);
  expect(kernel.frames.freePages === boot, 'every frame should be back');
  print(`   ${checked()}`);
  print(
    ok
      ? '\nall steps behaved: nothing leaked, nothing left behind.'
      : '\nSOME STEPS MISBEHAVED (see !! above).',
  );
  return ok;
}
