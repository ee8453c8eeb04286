import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32, formatFrame, parseConsoleLog } from '../../tools/linux-harness-arm64/console.js';
import { fixturesFromLog, formatArm64Fixture } from '../../tools/linux-harness-arm64/record.js';

const TESTDATA = path.join(import.meta.dirname, '..', '..', 'tools', 'linux-harness-arm64', 'testdata');
/** A real boot's console (kernel lines before /init trimmed): seeds 1 and 2, 2..3 ops, two runs each. */
const SAMPLE = fs.readFileSync(path.join(TESTDATA, 'sample-console.log'), 'latin1');
const GEN = { minOps: 2, maxOps: 3 };

describe('arm64 console framing', () => {
  it('uses the IEEE CRC-32', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
    expect(crc32(new Uint8Array([0xff, 0x00]))).toBe(crc32('\xff\x00'));
  });

  it('round-trips a formatted frame', () => {
    const log = parseConsoleLog(
      formatFrame('B 7 0') +
        formatFrame(`O 7 0 0 ${Buffer.from('hi\n').toString('base64')}`) +
        formatFrame(`Z 7 0 0 3 1 ${crc32('hi\n').toString(16).padStart(8, '0')} 0 0`) +
        formatFrame('X 1'),
    );
    expect(log.garbled).toBe(0);
    expect(log.done).toBe(1);
    expect(log.runs.get('7/0')).toMatchObject({ complete: true, status: 0, stdout: 'hi\n', stderr: '' });
  });
});

describe('arm64 console log parser on a recorded boot', () => {
  it('finds every run complete and no garbled line', () => {
    const log = parseConsoleLog(SAMPLE);
    expect(log.hello).toBe('levitate-mm arm64 recorder init 1');
    expect(log.garbled).toBe(0);
    expect(log.done).toBe(4);
    expect([...log.runs.keys()]).toEqual(['1/0', '1/1', '2/0', '2/1']);
    for (const r of log.runs.values()) {
      expect(r.problems).toEqual([]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^harness levitate-linux-harness 1\n[\s\S]*\nend \d+\n$/);
    }
  });

  it('turns the log into the fixtures the recorder wrote', () => {
    const res = fixturesFromLog(parseConsoleLog(SAMPLE), [1, 2], 2, GEN);
    expect(res.map((r) => r.problem)).toEqual([undefined, undefined]);
    const expected = fs.readFileSync(path.join(TESTDATA, 'sample-seq-001.fixture'), 'utf8');
    expect(formatArm64Fixture(res[0].fixture!)).toBe(expected);
    expect(res[1].fixture!.arch).toBe('aarch64');
    expect(res[1].fixture!.kernel).toBe('6.18.15+deb13-arm64');
  });

  it('ignores kernel text before a frame on the same line', () => {
    const lines = SAMPLE.split('\n');
    const i = lines.findIndex((l) => l.includes(' O 1 0 0 '));
    lines[i] = `[    3.1] random: crng init done${lines[i]}`;
    const log = parseConsoleLog(lines.join('\n'));
    expect(log.garbled).toBe(0);
    expect(log.runs.get('1/0')!.complete).toBe(true);
  });

  it('detects a garbled data frame and asks for a retry of that sequence only', () => {
    const lines = SAMPLE.split('\n');
    const i = lines.findIndex((l) => l.includes(' O 1 1 2 '));
    const at = lines[i].length - 40;
    lines[i] = `${lines[i].slice(0, at)}[ 3.2] oops${lines[i].slice(at)}`; // a kernel message mid-line
    const log = parseConsoleLog(lines.join('\n'));
    expect(log.garbled).toBe(1);
    const run = log.runs.get('1/1')!;
    expect(run.complete).toBe(false);
    expect(run.stdout).toBeUndefined();
    expect(run.problems.join()).toMatch(/stdout chunk 2 of \d+ missing/);
    const res = fixturesFromLog(log, [1, 2], 2, GEN);
    expect(res[0]).toMatchObject({ seed: 1, retry: true });
    expect(res[0].fixture).toBeUndefined();
    expect(res[1].fixture).toBeDefined();
  });

  it('detects a single flipped character', () => {
    const lines = SAMPLE.split('\n');
    const i = lines.findIndex((l) => l.includes(' O 2 0 1 '));
    const at = lines[i].length - 10;
    const c = lines[i][at] === 'A' ? 'B' : 'A';
    lines[i] = lines[i].slice(0, at) + c + lines[i].slice(at + 1);
    const log = parseConsoleLog(lines.join('\n'));
    expect(log.garbled).toBe(1);
    expect(log.runs.get('2/0')!.complete).toBe(false);
  });

  it('reports runs cut off by a truncated log as missing', () => {
    const cut = SAMPLE.slice(0, SAMPLE.indexOf(' B 2 0'));
    const log = parseConsoleLog(cut.slice(0, cut.lastIndexOf('\n')));
    expect(log.done).toBeUndefined();
    const res = fixturesFromLog(log, [1, 2], 2, GEN);
    expect(res[0].fixture).toBeDefined();
    expect(res[1]).toMatchObject({ seed: 2, retry: true, problem: 'run 0 missing from the console log' });
  });

  it('reports a harness failure without retrying', () => {
    const log = parseConsoleLog(
      formatFrame('B 5 0') +
        formatFrame(`E 5 0 0 ${Buffer.from('harness: unsafe op\n').toString('base64')}`) +
        formatFrame('Z 5 0 768 0 0 00000000 19 1'),
    );
    const [r] = fixturesFromLog(log, [5], 1);
    expect(r.retry).toBeUndefined();
    expect(r.problem).toMatch(/wait status 768: harness: unsafe op/);
  });
});
