/**
 * The browser view of a real strace log, in Chromium: it opens, steps, scrubs, jumps to the next
 * difference, walks a chosen address, takes a dropped log, and what it draws is the model's own
 * state at that step, computed here by a fresh replay in Node.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveView } from '../../src/cli/view.js';
import type { VirtAddr } from '../../src/hal/addr.js';
import type { Kernel } from '../../src/kernel/kernel.js';
import { procMaps } from '../../src/kernel/procfs.js';
import { FrameUse } from '../../src/mm/frame-allocator.js';
import { Replayer } from '../../src/replay/engine.js';
import { parseStraceText } from '../../src/trace/strace-parse.js';
import { frameRgb } from '../../src/web/app/colors.js';
import { FrameCode, Verdict, type ViewReplayOptions } from '../../src/web/protocol.js';
import { replayOptions } from '../../src/web/session.js';
import { assets, type Browser, drawnMaps, launch, pageFile, screenshot, shown } from '../support/browser.js';

const fixtures = fileURLToPath(new URL('../fixtures/strace/', import.meta.url));
const LOG = 'mm-exercise.strace';
const text = readFileSync(join(fixtures, LOG), 'utf8');
const options: ViewReplayOptions = { arch: 'x86_64', relocate: true, paging: 'eager', ramBytes: 2 ** 26 };

/** The model after memory call `p`, replayed afresh. */
function modelAt(p: number): { kernel: Kernel; replayer: Replayer } {
  const replayer = new Replayer(replayOptions(options));
  let calls = -1;
  for (const ev of parseStraceText(text, { arch: 'x86_64' }).events) {
    if (replayer.step(ev) !== undefined && ++calls === p) break;
  }
  return { kernel: replayer.kernel, replayer };
}

/** Every call's verdict, as the page should colour it. */
function verdicts(): Verdict[] {
  const r = new Replayer(replayOptions(options));
  const out: Verdict[] = [];
  for (const ev of parseStraceText(text, { arch: 'x86_64' }).events) {
    const o = r.step(ev);
    if (o === undefined) continue;
    if (o.status === 'differ') out.push(Verdict.Differs);
    else if (o.status === 'match')
      out.push(ev.kind === 'memory' && ev.result.kind === 'error' ? Verdict.Error : Verdict.Match);
    else out.push(Verdict.Unchecked);
  }
  return out;
}

const position = (page: Page) =>
  page.evaluate(
    () => (window as unknown as { levitate: { position: { value: number } } }).levitate.position.value,
  );

/** Checks the regions, frame counts and the root table's pixel against the model after call p. */
async function expectModelState(page: Page, p: number): Promise<void> {
  const { kernel } = modelAt(p);
  const task = kernel.current!;
  expect(await drawnMaps(page)).toBe(procMaps(task.mm).replace(/^ffffffffff600000-.*\n/m, ''));
  const strip = await page.locator('#strip rect.region').count();
  expect(strip).toBe(task.mm.mapCount);
  expect(Number(await page.locator('#frames').getAttribute('data-free'))).toBe(kernel.frames.freePages);
  let tables = 0;
  for (let f = 0; f < kernel.frames.totalPages; f++)
    if (kernel.frames.use[f] === FrameUse.PageTable) tables++;
  expect(Number(await page.locator('#count-table').textContent())).toBe(tables);
  // The root table's cell is drawn in the page-table colour.
  const rootFrame = (task.ttbr0 - kernel.ram.base) / kernel.pageSize;
  const rgb = await page.locator('#frames-canvas').evaluate((c, f) => {
    const canvas = c as HTMLCanvasElement;
    const cell = Number(canvas.dataset.cell);
    const cols = Number(canvas.dataset.cols);
    const per = Number(canvas.dataset.per);
    const i = Math.floor(f / per);
    const px = canvas
      .getContext('2d')!
      .getImageData((i % cols) * cell + 1, Math.floor(i / cols) * cell + 1, 1, 1).data;
    return [px[0], px[1], px[2]];
  }, rootFrame);
  expect(rgb).toEqual(frameRgb(FrameCode.Table));
}

describe('the view of a real log in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let errors: string[];
  const v = verdicts();

  beforeAll(async () => {
    browser = await launch();
    ({ page, errors } = await browser.page());
    const url = await pageFile(
      { kind: 'logs', title: LOG, options, logs: [{ name: LOG, chunks: [text] }] },
      'mm-exercise',
    );
    await page.goto(url);
    await shown(page);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('opens at the first difference with the whole timeline', async () => {
    const t = await page.evaluate(() => {
      const l = (
        window as unknown as { levitate: { timeline: { value: { count: number; verdict: Uint8Array } } } }
      ).levitate;
      return { count: l.timeline.value.count, verdict: Array.from(l.timeline.value.verdict) };
    });
    expect(t.count).toBe(v.length);
    expect(t.verdict).toEqual(v);
    expect(await position(page)).toBe(v.indexOf(Verdict.Differs));
    expect(errors).toEqual([]);
  });

  it('steps with the keyboard and draws the model state of each step', async () => {
    await page.locator('#next-diff').focus();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    const from = await position(page);
    await page.keyboard.press('ArrowRight');
    await shown(page, from + 1);
    await expectModelState(page, from + 1);
    await page.keyboard.press('Shift+ArrowRight');
    await shown(page, from + 11);
    await expectModelState(page, from + 11);
    await page.keyboard.press('ArrowLeft');
    await shown(page, from + 10);
    await expectModelState(page, from + 10);
    await screenshot(page, 'replay-step');
    expect(errors).toEqual([]);
  });

  it('scrubs: the scrubber and a click on the timeline go to that call', async () => {
    await page.locator('#scrubber').fill('5');
    await shown(page, 5);
    await expectModelState(page, 5);
    const box = (await page.locator('#timeline-canvas').boundingBox())!;
    const p = Math.floor(0.9 * v.length);
    await page.mouse.click(box.x + ((p + 0.5) / v.length) * box.width, box.y + 5);
    await shown(page, p);
    await expectModelState(page, p);
    expect(errors).toEqual([]);
  });

  it('jumps to the next difference and shows both results and the reason', async () => {
    await page.locator('#scrubber').fill('0');
    await shown(page, 0);
    await page.locator('#next-diff').click();
    const first = v.indexOf(Verdict.Differs);
    await shown(page, first);
    await page.locator('#next-diff').click();
    const second = v.indexOf(Verdict.Differs, first + 1);
    await shown(page, second);
    expect(await page.locator('#call').getAttribute('data-verdict')).toBe(String(Verdict.Differs));
    expect(await page.locator('#reason').textContent()).not.toBe('');
    expect(await page.locator('#linux-result').textContent()).not.toBe(
      await page.locator('#model-result').textContent(),
    );
    await screenshot(page, 'replay-difference');
    expect(errors).toEqual([]);
  });

  it('walks the page tables of a clicked region down to its frame, as the model maps it', async () => {
    // A call after which a populated (eager) mapping exists.
    const p = v.length - 1;
    await page.keyboard.press('End');
    await shown(page, p);
    const row = page.locator('#regions tr.region-row[data-resident]:not([data-resident="0"])').first();
    const maps = (await row.getAttribute('data-maps'))!;
    const start = Number.parseInt(maps.split('-')[0], 16);
    await row.click();
    await page.waitForFunction(
      (a) =>
        (window as unknown as { levitate: { walk: { value: { address: number } | null } } }).levitate.walk
          .value?.address === a,
      start,
    );
    const { kernel } = modelAt(p);
    const task = kernel.current!;
    const levels = page.locator('#walk .level');
    expect(await levels.count()).toBe(kernel.geometry.levels);
    expect(Number(await levels.first().getAttribute('data-table'))).toBe(task.ttbr0);
    const leaf = task.mm.pageTable.leaf(start as VirtAddr);
    const last = levels.last();
    expect(Number(await last.getAttribute('data-lo'))).toBe(leaf.lo >>> 0);
    expect(Number(await last.getAttribute('data-hi'))).toBe(leaf.hi >>> 0);
    expect(await last.getAttribute('data-level')).toBe('PT');
    // The descriptor's bits decoded by the SDM's names: P, R/W, U/S, XD and the frame.
    const field = async (name: string) =>
      Number(await last.locator(`tr[data-field="${name}"]`).getAttribute('data-value'));
    expect(await field('P')).toBe(1);
    expect(await field('U/S')).toBe((leaf.lo >>> 2) & 1);
    expect(await field('R/W')).toBe((leaf.lo >>> 1) & 1);
    expect(await field('XD')).toBe(leaf.hi >>> 31);
    expect(await field('Address of the page frame')).toBe(task.mm.pageTable.translate(start as VirtAddr));
    expect(await page.locator('#walk-outcome').textContent()).toContain(
      `frame 0x${task.mm.pageTable.translate(start as VirtAddr).toString(16)}`,
    );
    await screenshot(page, 'replay-walk');
    expect(errors).toEqual([]);
  });

  it('opens the page the local server gives, which fetches the -ff files from it', async () => {
    const dir = join(fixtures, 'sh-pipeline-ff');
    const pids = [3106, 3107, 3108, 3109];
    const logs = pids.map((pid) => ({ path: join(dir, `trace.${pid}`) }));
    const session = {
      kind: 'urls' as const,
      title: 'trace.*',
      options: { arch: 'x86_64' as const, relocate: true, ramBytes: 2 ** 26 },
      urls: pids.map((pid, i) => ({ name: `trace.${pid}`, pid, url: `log/${i}` })),
    };
    const { server, url } = await serveView(await assets(), session, logs, '127.0.0.1', 0);
    try {
      const { page: served, errors: servedErrors } = await browser.page();
      await served.goto(url);
      await shown(served);
      const lanes = await served.evaluate(() =>
        (
          window as unknown as { levitate: { timeline: { value: { lanes: Array<{ pid: number }> } } } }
        ).levitate.timeline.value.lanes.map((l) => l.pid),
      );
      expect(lanes).toEqual(pids);
      expect(servedErrors).toEqual([]);
      await served.close();
    } finally {
      server.close();
    }
  });

  it('takes a log dropped on the page, with a lane per process', async () => {
    const other = readFileSync(join(fixtures, 'sh-all-f.strace'), 'utf8');
    const dt = await page.evaluateHandle((content) => {
      const d = new DataTransfer();
      d.items.add(new File([content], 'sh-all-f.strace', { type: 'text/plain' }));
      return d;
    }, other);
    await page.dispatchEvent('body', 'drop', { dataTransfer: dt });
    await page.waitForFunction(
      () =>
        (window as unknown as { levitate: { timeline: { value: { title: string } | null } } }).levitate
          .timeline.value?.title === 'sh-all-f.strace',
    );
    await shown(page);
    const lanes = await page.evaluate(
      () =>
        (window as unknown as { levitate: { timeline: { value: { lanes: unknown[] } } } }).levitate.timeline
          .value.lanes.length,
    );
    const pids = new Set(
      parseStraceText(other)
        .events.filter((e) => e.kind === 'memory')
        .map((e) => e.pid),
    );
    expect(lanes).toBe(pids.size);
    expect(lanes).toBeGreaterThan(1);
    await screenshot(page, 'replay-dropped');
    expect(errors).toEqual([]);
  });
});
