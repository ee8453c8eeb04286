import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatMaps,
  formatMapsLine,
  type MapsEntry,
  parseMaps,
  parseMapsLine,
} from '../../src/abi/proc-maps.js';
import { TraceSyntaxError } from '../../src/abi/text-error.js';

const DIR = fileURLToPath(new URL('../fixtures/strace/maps/', import.meta.url));
const SNAPSHOTS = readdirSync(DIR)
  .filter((f) => f.endsWith('.maps'))
  .sort();

describe('/proc/PID/maps snapshots of real processes', () => {
  it('has snapshots of several programs', () => {
    expect(SNAPSHOTS).toEqual(expect.arrayContaining(['cat.maps', 'node.maps', 'python3.maps', 'sh.maps']));
  });
  for (const name of SNAPSHOTS) {
    it(`${name}: format(parse(x)) === x, byte for byte`, () => {
      const text = readFileSync(join(DIR, name), 'utf8');
      const entries = parseMaps(text, name);
      expect(entries.length).toBeGreaterThan(10);
      expect(formatMaps(entries)).toBe(text);
      for (const line of text.split('\n').filter((l) => l !== '')) {
        expect(formatMapsLine(parseMapsLine(line))).toBe(line);
        // Named lines have their name at column 73; unnamed ones end with a space after the inode.
        const e = parseMapsLine(line);
        if (e.name !== '') expect(line.indexOf(e.name)).toBe(73);
        else expect(line.endsWith(' ')).toBe(true);
      }
    });
  }
});

describe('parseMapsLine / formatMapsLine', () => {
  it('decodes every field, keeping 64-bit addresses exactly', () => {
    const v = parseMapsLine(
      'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
    );
    expect(v).toEqual({
      start: 0xffffffffff600000n,
      end: 0xffffffffff601000n,
      perms: { read: false, write: false, exec: true, shared: false },
      offset: 0n,
      major: 0,
      minor: 0,
      inode: 0n,
      name: '[vsyscall]',
    });
    const z = parseMapsLine(
      '7f6489f3d000-7f6489f3e000 rw-s 00000000 00:01 81                         /dev/zero (deleted)',
    );
    expect(z).toMatchObject({
      perms: { read: true, write: true, exec: false, shared: true },
      minor: 1,
      inode: 81n,
    });
    expect(z.name).toBe('/dev/zero (deleted)');
    const anon = parseMapsLine('7f6489f3d000-7f6489f3e000 rw-p 00000000 00:00 0 ');
    expect(anon.name).toBe('');
  });

  it('pads names to column 73, or uses one space when the prefix is already 72 characters or more', () => {
    const base: MapsEntry = {
      start: 0x400000n,
      end: 0x401000n,
      perms: { read: true, write: false, exec: false, shared: false },
      offset: 0n,
      major: 8,
      minor: 1,
      inode: 1234n,
      name: '/bin/x',
    };
    const short = formatMapsLine(base);
    expect(short).toBe(`00400000-00401000 r--p 00000000 08:01 1234${' '.repeat(31)}/bin/x`);
    expect(short.indexOf('/bin/x')).toBe(73);
    expect(formatMapsLine({ ...base, name: '' })).toBe('00400000-00401000 r--p 00000000 08:01 1234 ');
    const long = {
      ...base,
      start: 0xffffffffff600000n,
      end: 0xffffffffff601000n,
      inode: 12345678901234567890n,
    };
    const l = formatMapsLine(long);
    expect(l).toBe('ffffffffff600000-ffffffffff601000 r--p 00000000 08:01 12345678901234567890  /bin/x');
    expect(parseMapsLine(l)).toEqual(long);
    // a prefix of exactly 72 characters: no padding, then the one space
    const at72 = {
      ...base,
      start: 0x7ffff7fff000n,
      end: 0x7ffff8000000n,
      offset: 0x1000000000000000n,
      inode: 12345678901234567n,
    };
    const prefix72 = formatMapsLine({ ...at72, name: '' });
    expect(prefix72.length).toBe(72);
    expect(formatMapsLine(at72)).toBe(`${prefix72} /bin/x`);
  });

  it('reports the column where a line departs from the format', () => {
    const err = (line: string) => {
      try {
        parseMaps(`00400000-00401000 r--p 00000000 08:01 1 /x\n${line}\n`, 'maps.txt');
      } catch (e) {
        expect(e).toBeInstanceOf(TraceSyntaxError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err('00400000-00401000 rqxp 00000000 08:01 1 /x')).toBe(
      'maps.txt:2:20: expected "w" or "-", found "qxp"',
    );
    expect(err('00400000 00401000 r--p 00000000 08:01 1')).toBe('maps.txt:2:9: expected "-", found " "');
    expect(err('00400000-00401000 r--p 00000000 08:01 1')).toBe(
      'maps.txt:2:40: expected a space after the inode, found end of line',
    );
  });

  it('round-trips any entry (fast-check)', () => {
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    const entry = fc.record({
      start: u64,
      end: u64,
      perms: fc.record({ read: fc.boolean(), write: fc.boolean(), exec: fc.boolean(), shared: fc.boolean() }),
      offset: u64,
      major: fc.integer({ min: 0, max: 4095 }),
      minor: fc.integer({ min: 0, max: 0xfffff }),
      inode: u64,
      name: fc.oneof(fc.constant(''), fc.stringMatching(/^[/[][ -~]{0,60}$/)),
    });
    fc.assert(
      fc.property(entry, (e) => {
        expect(parseMapsLine(formatMapsLine(e))).toEqual(e);
      }),
      { numRuns: 2000 },
    );
  });
});
