/**
 * The chunked line splitter gives exactly the lines Node's readline (crlfDelay: Infinity) gives,
 * wherever the chunks happen to be cut.
 */

import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { LineSplitter, lineBatches } from '../../src/trace/lines.js';

async function viaReadline(chunks: Array<string | Uint8Array>): Promise<string[]> {
  const rl = createInterface({
    input: Readable.from(
      chunks.map((c) => (typeof c === 'string' ? c : Buffer.from(c))),
      { objectMode: true },
    ),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  const out: string[] = [];
  for await (const l of rl) out.push(l);
  return out;
}

function viaSplitter(chunks: Array<string | Uint8Array>): string[] {
  const s = new LineSplitter();
  const out: string[] = [];
  for (const c of chunks) s.push(c, out);
  s.end(out);
  return out;
}

/** `text` cut at the given offsets. */
function cut(text: string, at: number[]): string[] {
  const points = [...new Set(at.map((a) => a % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const p of points) {
    out.push(text.slice(from, p));
    from = p;
  }
  out.push(text.slice(from));
  return out;
}

describe('LineSplitter', () => {
  it('splits on \\n, \\r\\n and a lone \\r, keeps empty lines and a last line without an end', () => {
    expect(viaSplitter(['a\nb\r\nc\rd\n\ne'])).toEqual(['a', 'b', 'c', 'd', '', 'e']);
    expect(viaSplitter(['a\n'])).toEqual(['a']);
    expect(viaSplitter(['\n'])).toEqual(['']);
    expect(viaSplitter([''])).toEqual([]);
  });

  it('joins a line cut between chunks, and a \\r\\n cut between its two characters', () => {
    expect(viaSplitter(['mm', 'ap(NULL', ') = 0\nbr', 'k(NULL) = 0x1\n'])).toEqual([
      'mmap(NULL) = 0',
      'brk(NULL) = 0x1',
    ]);
    expect(viaSplitter(['a\r', '\nb\r', '', '\nc'])).toEqual(['a', 'b', 'c']);
    expect(viaSplitter(['a\r', 'b'])).toEqual(['a', 'b']);
  });

  it('decodes UTF-8 cut in the middle of a character', () => {
    const bytes = new TextEncoder().encode('open("é€😀")\n');
    expect(viaSplitter([bytes.slice(0, 7), bytes.slice(7, 9), bytes.slice(9)])).toEqual(['open("é€😀")']);
  });

  test.prop(
    [
      fc.array(fc.constantFrom('a', 'bc', ' ', '\n', '\r', '\r\n', 'é', '😀', '= 0x7f'), { maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      fc.boolean(),
    ],
    { seed: 3 },
  )('gives the lines readline gives, for any text and any cuts', async (parts, at, asBytes) => {
    const text = parts.join('');
    const chunks = asBytes ? cut(text, at).map((c) => new TextEncoder().encode(c)) : cut(text, at);
    expect(viaSplitter(chunks)).toEqual(await viaReadline(chunks));
  });
});

describe('lineBatches', () => {
  it('gives one batch per chunk read, and the unfinished last line at the end', async () => {
    const batches: string[][] = [];
    for await (const b of lineBatches(Readable.from([Buffer.from('a\nb'), Buffer.from('c\nd')])))
      batches.push(b);
    expect(batches).toEqual([['a'], ['bc'], ['d']]);
  });
});
