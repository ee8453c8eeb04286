/**
 * Every real strace log under test/fixtures/strace parses in strict mode, every memory call decodes,
 * and printing each memory call with its own result reproduces the original line byte for byte.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findPerPidFiles, parseStraceFile } from '../../src/cli/trace-files.js';
import {
  createParserState,
  formatCall,
  formatEvent,
  MEMORY_SYSCALLS,
  parseStraceText,
  pidFromFileName,
  type TraceEvent,
} from '../../src/trace/index.js';

const DIR = fileURLToPath(new URL('../fixtures/strace/', import.meta.url));

function straceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'maps' && name !== 'src') out.push(...straceFiles(p));
    } else if (name.endsWith('.strace') || /^trace\.\d+$/.test(name)) out.push(p);
  }
  return out;
}

const FILES = straceFiles(DIR);

function parse(path: string): TraceEvent[] {
  const text = readFileSync(path, 'utf8');
  const opts = { file: relative(DIR, path), pid: pidFromFileName(path) };
  return parseStraceText(text, opts).events;
}

describe('real strace fixtures', () => {
  it('has the fixtures the issue asks for', () => {
    const names = FILES.map((f) => relative(DIR, f));
    for (const want of ['python3', 'node', 'gcc', 'sh-pipeline']) {
      expect(names.some((n) => n.startsWith(want))).toBe(true);
    }
    expect(names.filter((n) => n.startsWith('sh-pipeline-ff/')).length).toBeGreaterThan(1);
    for (const f of FILES) expect(statSync(f).size).toBeLessThan(300_000);
  });

  for (const file of FILES) {
    const name = relative(DIR, file);
    describe(name, () => {
      const events = parse(file);
      it('parses with no errors in strict mode and decodes every memory call', () => {
        expect(events.some((e) => e.kind === 'invalid')).toBe(false);
        expect(events.filter((e) => e.kind === 'memory').length).toBeGreaterThan(0);
        // No memory syscall is left undecoded ("other" only for other syscalls or orphan resumptions).
        for (const e of events) {
          if (e.kind === 'other') expect(MEMORY_SYSCALLS as readonly string[]).not.toContain(e.name);
        }
      });
      it('prints every memory call back byte for byte', () => {
        const lines = readFileSync(file, 'utf8').split('\n');
        for (const e of events) {
          if (e.kind !== 'memory') continue;
          const printed = formatCall(e);
          if (e.splitAt === undefined) {
            expect(printed).toBe(lines[e.line - 1]);
          } else {
            // strace wrote "strace: Process N attached" into this line: the call is the two halves joined.
            const first = lines[e.line - 2];
            expect(printed).toBe(first.slice(0, e.splitAt) + lines[e.line - 1]);
          }
        }
      });
      it('passes every other line through verbatim', () => {
        const lines = readFileSync(file, 'utf8').split('\n');
        for (const e of events) {
          if (e.kind === 'memory' || e.kind === 'message') continue;
          expect(formatEvent(e)).toBe(lines[e.line - 1]);
        }
      });
      it('streams the file with the same events', async () => {
        const state = createParserState({ file: name, pid: pidFromFileName(file) });
        const streamed: TraceEvent[] = [];
        for await (const e of parseStraceFile(file, { perPidFile: true }, state)) streamed.push(e);
        expect(streamed.length).toBe(events.length);
        expect(streamed.map((e) => e.kind)).toEqual(events.map((e) => e.kind));
        expect(state.stats.invalid).toBe(0);
        expect(state.pending.size).toBe(0);
      });
    });
  }

  it('joins <unfinished ...> / <... resumed> pairs of memory calls into one decoded call', () => {
    const events = parse(join(DIR, 'node-memory-f.strace'));
    const joined = events.filter((e) => e.kind === 'memory' && e.resumed);
    expect(joined.length).toBeGreaterThan(5);
    for (const e of joined) {
      if (e.kind !== 'memory' || !e.resumed) continue;
      expect(e.resumed.unfinishedLine).toBeLessThan(e.line);
      const u = events[e.resumed.unfinishedLine - 1];
      expect(u.kind).toBe('unfinished');
      expect(u.pid).toBe(e.pid);
      expect(formatCall(e, { layout: 'joined' })).toMatch(new RegExp(`^\\d+ +${e.call.syscall}\\(`));
    }
  });

  it('decodes the mm-exercise program: errors, odd flags, fd paths, the SIGSEGV', () => {
    const events = parse(join(DIR, 'mm-exercise-tt-T-yy.strace'));
    const mem = events.filter((e) => e.kind === 'memory');
    const errors = mem
      .filter((e) => e.result.kind === 'error')
      .map((e) => (e.result.kind === 'error' ? e.result.errno : 0));
    for (const errno of [12, 22, 9, 13, 14, 17]) expect(errors).toContain(errno);
    const zero = mem.find((e) => e.call.syscall === 'mmap' && e.call.fdPath?.startsWith('/dev/zero'));
    expect(zero && zero.call.syscall === 'mmap' && zero.call.fdPath).toBe('/dev/zero<char 1:5>');
    const odd = mem.find((e) => e.raw.includes('0xa /* MAP_??? */|MAP_ANONYMOUS'));
    expect(odd?.call.syscall === 'mmap' && odd.call.flags).toBe(0x2an);
    const seg = events.find((e) => e.kind === 'signal');
    expect(seg?.kind === 'signal' && seg.siCode).toBe('SEGV_ACCERR');
    expect(events.at(-1)?.kind).toBe('killed');
    for (const e of mem) expect(e.duration).toBeDefined();
  });
});

describe('-ff per-pid files', () => {
  it('finds the files of a -ff prefix in pid order and takes each pid from its name', async () => {
    const files = await findPerPidFiles(join(DIR, 'sh-pipeline-ff', 'trace'));
    expect(files.length).toBe(4);
    expect(files.map((f) => f.pid)).toEqual([...files.map((f) => f.pid)].sort((a, b) => a - b));
    for (const f of files) {
      for await (const e of parseStraceFile(f.path, { perPidFile: true })) expect(e.pid).toBe(f.pid);
    }
  });
});
