import { describe, expect, it } from 'vitest';
import { Kernel, MAP_ANONYMOUS, MAP_SHARED, PROT_READ, procMaps } from '../../src/index.js';
import { Replayer } from '../../src/replay/engine.js';
import { createParserState, parseLine } from '../../src/trace/strace-parse.js';

/** A kernel that maps `n` shared anonymous pages, one mapping each; its /proc/PID/maps. */
function sharedMaps(n: number): string {
  const k = new Kernel({ arch: 'x86_64', paging: 'demand' });
  const t = k.spawn();
  for (let i = 0; i < n; i++) k.sys.mmap(0, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  expect(k.check()).toEqual([]);
  return procMaps(t.mm);
}

describe('inode numbers belong to one kernel or one replay', () => {
  it('a shmem object gets the same inode in every kernel, whatever ran before', () => {
    const first = sharedMaps(2);
    sharedMaps(5);
    expect(sharedMaps(2)).toBe(first);
    expect(first).toBe(
      '7ffff7ffd000-7ffff7ffe000 r--s 00000000 00:01 2                          /dev/zero (deleted)\n' +
        '7ffff7ffe000-7ffff7fff000 r--s 00000000 00:01 1                          /dev/zero (deleted)\n',
    );
  });

  it('the files of a log are numbered in the order the log names them, in every replay', () => {
    const replay = (paths: string[]) => {
      const r = new Replayer({ arch: 'x86_64' });
      const st = createParserState({ arch: 'x86_64' });
      let addr = 0x7ffff7ffe000;
      for (const p of paths) {
        r.step(
          parseLine(`mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3<${p}>, 0) = 0x${addr.toString(16)}`, st),
        );
        addr -= 0x1000;
      }
      return procMaps(r.kernel.current!.mm);
    };
    const ab = replay(['/a', '/b']);
    replay(['/c', '/d', '/e']);
    expect(replay(['/a', '/b'])).toBe(ab);
    expect(ab).toMatch(/ 00:00 1 +\/a\n/);
    expect(ab).toMatch(/ 00:00 2 +\/b\n/);
  });
});
