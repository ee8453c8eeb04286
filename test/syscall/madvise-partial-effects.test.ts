/**
 * What stays behind when mprotect or madvise fails part of the way through a range: the scenarios of
 * tools/fuzz/linux/partial-effects.c, run in the model, must print exactly what that program printed
 * on the reference kernel (partial-effects.txt). The fuzzer's rollback check expects these effects.
 */
import { readFileSync } from 'node:fs';
import {
  Kernel,
  MADV_DODUMP,
  MADV_DONTDUMP,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_REMOVE,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  PageFaultError,
  PROT_NONE,
  PROT_READ,
  smapsFlags,
  trace,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';

const P = 4096;
const PA = MAP_PRIVATE | MAP_ANONYMOUS;
const SA = MAP_SHARED | MAP_ANONYMOUS;

/** The model's run of partial-effects.c, line for line. */
function modelLines(): string[] {
  const kernel = new Kernel({ arch: 'x86_64', paging: 'demand' });
  const task = kernel.spawn();
  const { sys } = kernel;
  const base = sys.mmap(0, 16 * P, PROT_NONE, PA | MAP_NORESERVE, -1, 0);
  const at = (page: number) => base + page * P;
  const reset = () => sys.munmap(base, 16 * P);
  const map = (page: number, pages: number, prot: number, flags: number) =>
    expect(sys.mmap(at(page), pages * P, prot, flags | MAP_FIXED, -1, 0)).toBe(at(page));
  const set = (page: number, value: number) => task.write(at(page), [value]);
  const result = (r: number) => (r === 0 ? '0' : `-${trace.errnoName(-r) ?? '?'}`);
  const byte = (page: number) => {
    try {
      return task.read(at(page), 1)[0];
    } catch (e) {
      if (e instanceof PageFaultError) return -1;
      throw e;
    }
  };
  const vmaIndex = (page: number) =>
    [...task.mm.vmas].findIndex((v) => v.start <= at(page) && at(page) < v.end);
  const flags = (page: number) => smapsFlags(task.mm)[vmaIndex(page)];
  const resident = (page: number) => {
    const vma = [...task.mm.vmas][vmaIndex(page)];
    let n = 0;
    for (let va = vma.start; va < vma.end; va += P) {
      const frame = task.mm.pageTable.translate(va as never);
      if (frame >= 0 && frame !== kernel.zeroFrame) n++;
    }
    return n;
  };
  const pressure = () => kernel.frames.reclaim?.();
  const out: string[] = [];
  let r: number;

  reset();
  map(0, 2, 3, PA);
  map(3, 2, 3, PA);
  set(0, 1);
  set(3, 2);
  r = sys.madvise(at(0), 5 * P, MADV_DONTNEED);
  out.push(`DONTNEED [A, hole, B]: ${result(r)}; A byte ${byte(0)}, B byte ${byte(3)}`);

  reset();
  map(0, 2, 3, PA);
  map(2, 2, 3, SA);
  set(0, 1);
  set(2, 1);
  r = sys.madvise(at(0), 4 * P, MADV_DONTNEED);
  out.push(`DONTNEED [A, S]: ${result(r)}; A byte ${byte(0)}, S byte ${byte(2)}`);

  reset();
  map(0, 2, 3, PA);
  map(2, 2, 3, SA);
  set(0, 1);
  set(2, 1);
  r = sys.madvise(at(0), 4 * P, MADV_FREE);
  pressure();
  out.push(`FREE [A, S]: ${result(r)}; under pressure A byte ${byte(0)}, S byte ${byte(2)}`);

  reset();
  map(0, 2, 3, PA);
  map(3, 2, 3, PA);
  set(0, 1);
  set(3, 2);
  r = sys.madvise(at(0), 5 * P, MADV_FREE);
  pressure();
  out.push(`FREE [A, hole, B]: ${result(r)}; under pressure A byte ${byte(0)}, B byte ${byte(3)}`);

  reset();
  map(0, 2, 3, SA);
  map(2, 2, 3, PA);
  set(0, 1);
  set(2, 1);
  r = sys.madvise(at(0), 4 * P, MADV_REMOVE);
  out.push(`REMOVE [S, A]: ${result(r)}; S byte ${byte(0)}, A byte ${byte(2)}`);

  reset();
  map(0, 2, 3, SA);
  map(3, 2, 3, SA);
  set(0, 1);
  set(3, 2);
  r = sys.madvise(at(0), 5 * P, MADV_REMOVE);
  out.push(`REMOVE [S, hole, S2]: ${result(r)}; S byte ${byte(0)}, S2 byte ${byte(3)}`);

  reset();
  map(0, 2, 3, PA);
  map(2, 2, PROT_READ, PA);
  r = sys.madvise(at(0), 4 * P, MADV_POPULATE_WRITE);
  out.push(`POPULATE_WRITE [A, R]: ${result(r)}; A resident ${resident(0)}`);

  reset();
  map(0, 2, 3, PA);
  r = sys.madvise(at(0), 4 * P, MADV_POPULATE_WRITE);
  out.push(`POPULATE_WRITE [A, hole]: ${result(r)}; A resident ${resident(0)}`);

  reset();
  map(1, 2, 3, PA);
  r = sys.madvise(at(0), 3 * P, MADV_POPULATE_WRITE);
  out.push(`POPULATE_WRITE [hole, A]: ${result(r)}; A resident ${resident(1)}`);

  reset();
  map(0, 2, 3, PA);
  map(2, 2, PROT_NONE, PA);
  r = sys.madvise(at(0), 4 * P, MADV_POPULATE_READ);
  out.push(`POPULATE_READ [A, N]: ${result(r)}`);

  reset();
  map(0, 2, 3, SA);
  expect(sys.mremap(at(0), 2 * P, 4 * P, 0)).toBe(at(0));
  r = sys.madvise(at(0), 4 * P, MADV_POPULATE_WRITE);
  out.push(`POPULATE_WRITE [S grown past its object]: ${result(r)}; S resident ${resident(0)}`);

  reset();
  map(0, 2, 3, PA);
  map(2, 2, 3, SA);
  r = sys.madvise(at(0), 4 * P, MADV_WIPEONFORK);
  out.push(`WIPEONFORK [A, S]: ${result(r)}; A ${flags(0)}`);

  reset();
  map(0, 2, 3, PA);
  map(3, 2, 3, PA);
  r = sys.madvise(at(0), 5 * P, MADV_WIPEONFORK);
  out.push(`WIPEONFORK [A, hole, B]: ${result(r)}; B ${flags(3)}`);

  reset();
  map(0, 2, 3, PA);
  map(3, 2, 3, PA);
  set(0, 1);
  set(3, 2);
  r = sys.madvise(at(0), 5 * P, MADV_GUARD_INSTALL);
  out.push(`GUARD_INSTALL [A, hole, B]: ${result(r)}; A byte ${byte(0)}, B byte ${byte(3)}`);
  r = sys.madvise(at(0), 5 * P, MADV_GUARD_REMOVE);
  out.push(`GUARD_REMOVE [A, hole, B]: ${result(r)}; A byte ${byte(0)}, B byte ${byte(3)}`);

  reset();
  map(0, 2, 3, SA);
  set(0, 1);
  r = sys.madvise(at(0), 2 * P, MADV_GUARD_INSTALL);
  out.push(`GUARD_INSTALL [S]: ${result(r)}; S byte ${byte(0)}`);
  r = sys.madvise(at(0), 2 * P, MADV_GUARD_REMOVE);
  out.push(`GUARD_REMOVE [S]: ${result(r)}; S byte ${byte(0)}`);

  reset();
  map(0, 2, 3, PA);
  map(3, 2, 3, PA);
  r = sys.mprotect(at(0), 5 * P, PROT_READ);
  out.push(`mprotect PROT_READ [A, hole, B]: ${result(r)}; A ${flags(0)}; B ${flags(3)}`);

  reset();
  map(0, 2, 3, PA);
  map(2, 2, 3, MAP_DROPPABLE | MAP_ANONYMOUS);
  sys.madvise(at(0), 2 * P, MADV_DONTDUMP);
  r = sys.madvise(at(0), 4 * P, MADV_DODUMP);
  out.push(`DODUMP [A (DONTDUMP), D]: ${result(r)}; A ${flags(0)}`);

  expect(kernel.check()).toEqual([]);
  return out;
}

describe('partial effects of a failed mprotect or madvise', () => {
  it('are those of Linux 6.18, scenario by scenario', () => {
    const recorded = readFileSync(
      new URL('../../tools/fuzz/linux/partial-effects.txt', import.meta.url),
      'utf8',
    )
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(recorded).toHaveLength(19);
    expect(modelLines()).toEqual(recorded);
  });
});
