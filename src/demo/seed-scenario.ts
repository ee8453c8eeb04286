/**
 * The seed's scenario as a list of steps: boot, map, use memory, replace a mapping with MAP_FIXED,
 * make an mmap run out of frames half way (injected, then for real) and show that it leaves no
 * trace, unmap everything and show every frame back. It runs in the seed's eager paging, where
 * mmap itself allocates. `levitate-mm demo` prints it; `levitate-mm view --demo` steps through it.
 */
import { ENOMEM, errnoName } from '../abi/errno.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../abi/mman.js';
import { hex } from '../hal/addr.js';
import { formatKernelAddr } from '../hal/linear-map.js';
import { PageFaultError } from '../hal/page-fault.js';
import { Kernel, type KernelOptions } from '../kernel/kernel.js';
import { procMaps } from '../kernel/procfs.js';
import type { Task } from '../kernel/task.js';

const ANON_RW = 'PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0';

/** What one step did. */
export interface StepOutcome {
  /** The call with its arguments, strace style (`mmap(NULL, 65536, ...)`), or an action. */
  call: string;
  /** What it returned (`0x7ff...`, `-ENOMEM`, a fault). */
  result: string;
  /** What the seed expects it to return. */
  expected: string;
  /** Whether the result, the frames and the maps are what they must be. */
  ok: boolean;
  /** Whether the call failed (as it was meant to, when ok). */
  failed: boolean;
  /** The narration, one line each. */
  notes: string[];
}

export interface ScenarioStep {
  title: string;
  run(): StepOutcome;
}

/** The scenario's kernel and its steps, to run in order. */
export interface Scenario {
  readonly kernel: Kernel;
  readonly steps: readonly ScenarioStep[];
  /** The task, once step 1 has spawned it. */
  readonly task: () => Task | undefined;
  /** Invariant violations after the last step run. */
  readonly check: () => string[];
}

/** The seed's scenario on a fresh eager-paging kernel with `options`. */
export function seedScenario(options: Omit<KernelOptions, 'paging'>): Scenario {
  const kernel = new Kernel({ ...options, paging: 'eager' });
  const P = kernel.pageSize;
  const sys = kernel.sys;
  const frames = () => `${kernel.frames.freePages} free / ${kernel.frames.totalPages} frames`;
  let task: Task | undefined;
  let boot = 0;
  let addr = 0;
  const len = 16 * P;
  const maps = () => procMaps(task!.mm);
  const mapsNotes = (title: string) => [
    `${title}:`,
    ...(maps() === '' ? '(no mappings)\n' : maps())
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`),
  ];
  const checked = (notes: string[]) => {
    const v = kernel.check();
    notes.push(v.length === 0 ? 'check() = []' : `!! invariant checker: ${v.join('; ')}`);
    return v.length === 0;
  };
  const mmapAnon = (n: number, extraFlags = 0, at = 0, prot = PROT_READ | PROT_WRITE) =>
    sys.mmap(at, n * P, prot, MAP_PRIVATE | MAP_ANONYMOUS | extraFlags, -1, 0);
  const errText = (r: number) => (r < 0 ? `-${errnoName(-r)}` : hex(r));

  const steps: ScenarioStep[] = [
    {
      title: 'spawn a task',
      run() {
        task = kernel.spawn();
        boot = kernel.frames.freePages;
        return {
          call: 'spawn()',
          result: `pid ${task.pid}`,
          expected: 'a task with an empty address space',
          ok: true,
          failed: false,
          notes: [`pid ${task.pid}, ttbr0 = ${hex(task.ttbr0)} (root table); ${frames()}`],
        };
      },
    },
    {
      title: 'mmap 16 pages',
      run() {
        addr = mmapAnon(16);
        const ok = addr >= 0;
        return {
          call: `mmap(NULL, ${len}, ${ANON_RW})`,
          result: errText(addr),
          expected: 'an address',
          ok,
          failed: !ok,
          notes: [
            `every page allocated, zeroed and mapped now; ${frames()} (${boot - kernel.frames.freePages} used: 16 pages + tables)`,
            ...mapsNotes(`/proc/${task!.pid}/maps`),
          ],
        };
      },
    },
    {
      title: 'write to it',
      run() {
        task!.write(addr, 'hello, levitate');
        const kptr = task!.mm.pageTable.translate(addr as never);
        return {
          call: `write(${hex(addr)}, "hello, levitate")`,
          result: 'ok',
          expected: 'the bytes land in the first frame',
          ok: kptr >= 0,
          failed: false,
          notes: [
            `wrote "hello, levitate" at ${hex(addr)} -> frame ${hex(kptr)} (kernel ${formatKernelAddr(kernel.linearMap.physToVirt(kptr as never))})`,
          ],
        };
      },
    },
    {
      title: 'mmap 600 pages, failing half way',
      run() {
        const before = kernel.frames.freePages;
        const mapsBefore = maps();
        const big = 600;
        kernel.frames.failAfter(big / 2);
        const r = mmapAnon(big);
        kernel.frames.failAfter(-1);
        const notes = [
          `the allocator was told to fail half way (failAfter(${big / 2}))`,
          `the guard unmapped and freed all it had mapped (${big / 2} frames: pages and tables)`,
        ];
        const same = kernel.frames.freePages === before && maps() === mapsBefore;
        notes.push(`${frames()} (${same ? 'unchanged' : 'CHANGED'}), maps ${same ? 'unchanged' : 'CHANGED'}`);
        const ok = checked(notes) && r === -ENOMEM && same;
        return {
          call: `mmap(NULL, ${big * P}, ${ANON_RW})`,
          result: errText(r),
          expected: '-ENOMEM, nothing left behind',
          ok,
          failed: true,
          notes,
        };
      },
    },
    {
      title: 'MAP_FIXED over live data, failing on its last page',
      run() {
        kernel.frames.failAfter(3);
        const f = mmapAnon(4, MAP_FIXED, addr, PROT_READ);
        kernel.frames.failAfter(-1);
        const text = new TextDecoder().decode(task!.read(addr, 15));
        return {
          call: `mmap(${hex(addr)}, ${4 * P}, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0)`,
          result: errText(f),
          expected: '-ENOMEM, the old pages and their data back',
          ok: f === -ENOMEM && text === 'hello, levitate',
          failed: true,
          notes: [`the old mapping is back with its data: "${text}"`],
        };
      },
    },
    {
      title: 'MAP_FIXED again, without injection',
      run() {
        const g = mmapAnon(4, MAP_FIXED, addr, PROT_READ);
        return {
          call: `mmap(${hex(addr)}, ${4 * P}, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0)`,
          result: errText(g),
          expected: 'the same address',
          ok: g === addr,
          failed: g < 0,
          notes: [
            `= ${hex(g)}: fresh read-only zero pages, old frames freed`,
            ...mapsNotes(`/proc/${task!.pid}/maps`),
          ],
        };
      },
    },
    {
      title: 'write to the read-only pages',
      run() {
        try {
          task!.write(addr, 'x');
        } catch (e) {
          if (!(e instanceof PageFaultError)) throw e;
          return {
            call: `write(${hex(addr)}, "x")`,
            result: e.signal,
            expected: 'a fault',
            ok: true,
            failed: true,
            notes: [`a write there now faults: ${e.message}`],
          };
        }
        return {
          call: `write(${hex(addr)}, "x")`,
          result: 'ok',
          expected: 'a fault',
          ok: false,
          failed: false,
          notes: ['!! a write to a read-only page should fault'],
        };
      },
    },
    {
      title: 'run out of RAM for real',
      run() {
        const free = kernel.frames.freePages;
        const oom = mmapAnon(free + 64, MAP_NORESERVE);
        const notes = [`mmap of ${free + 64} pages (MAP_NORESERVE) with ${free} frames free`, frames()];
        const ok = checked(notes) && oom === -ENOMEM && kernel.frames.freePages === free;
        return {
          call: `mmap(NULL, ${(free + 64) * P}, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)`,
          result: errText(oom),
          expected: '-ENOMEM, every frame back',
          ok,
          failed: true,
          notes,
        };
      },
    },
    {
      title: 'munmap everything',
      run() {
        const u = sys.munmap(addr, len);
        const notes = [`frames and emptied tables freed: ${frames()}`];
        const ok = checked(notes) && u === 0 && kernel.frames.freePages === boot;
        return {
          call: `munmap(${hex(addr)}, ${len})`,
          result: String(u),
          expected: '0, every frame back',
          ok,
          failed: u < 0,
          notes,
        };
      },
    },
  ];
  return { kernel, steps, task: () => task, check: () => kernel.check() };
}
