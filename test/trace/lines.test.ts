import { describe, expect, it } from 'vitest';
import { LineSplitter, linesOf } from '../../src/trace/lines.js';

describe('LineSplitter', () => {
  it('joins lines cut anywhere, a UTF-8 character included, and keeps a last line without newline', async () => {
    const text = 'mmap(NULL, 4096) = 0x1\r\nopenat(AT_FDCWD, "/tmp/é", O_RDONLY) = 3\nlast';
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const lines: string[] = [];
      for await (const l of linesOf([bytes.subarray(0, cut), bytes.subarray(cut)])) lines.push(l);
      expect(lines).toEqual(['mmap(NULL, 4096) = 0x1\r', 'openat(AT_FDCWD, "/tmp/é", O_RDONLY) = 3', 'last']);
    }
    const s = new LineSplitter();
    expect([...s.push('a\nb'), ...s.push('c\n'), ...s.end()]).toEqual(['a', 'bc']);
  });
});
