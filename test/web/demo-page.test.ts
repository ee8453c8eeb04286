/**
 * `levitate-mm view --demo` in Chromium: the seed's scenario step by step, each step drawn as the
 * model is after it (regions, frames), the failed mmaps leaving frames and maps as they were.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedScenario } from '../../src/demo/seed-scenario.js';
import { procMaps } from '../../src/kernel/procfs.js';
import { type Browser, drawnMaps, launch, pageFile, screenshot, shown } from '../support/browser.js';

/** The scenario run here up to and including step `p`. */
function modelAt(p: number) {
  const s = seedScenario({ arch: 'aarch64', ramBytes: 8 * 2 ** 20 });
  const outcomes = s.steps.slice(0, p + 1).map((step) => step.run());
  return { kernel: s.kernel, task: s.task(), outcome: outcomes[p] };
}

describe("the seed's demo in Chromium", () => {
  let browser: Browser;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    browser = await launch();
    ({ page, errors } = await browser.page());
    await page.goto(await pageFile({ kind: 'demo', arch: 'aarch64', ramBytes: 8 * 2 ** 20 }, 'demo'));
    await shown(page, 0);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('steps through every step, drawing the model as it is after each', async () => {
    const steps = seedScenario({ arch: 'aarch64', ramBytes: 8 * 2 ** 20 }).steps.length;
    const count = await page.evaluate(
      () =>
        (window as unknown as { levitate: { timeline: { value: { count: number } } } }).levitate.timeline
          .value.count,
    );
    expect(await page.locator('#where').textContent()).toContain(`step 1 / ${count}`);
    let refused = 0;
    for (let p = 0; p < count; p++) {
      if (p > 0) {
        await page.keyboard.press('ArrowRight');
        await shown(page, p);
      }
      const title = (await page.locator('#call .line').textContent())!;
      const step = Number(/^(\d+)\./.exec(title)![1]) - 1;
      const free = Number(await page.locator('#frames').getAttribute('data-free'));
      if (title.endsWith('at the refused allocation')) {
        // Inside the call: frames are taken that the rollback will give back.
        refused++;
        expect(free).toBeLessThan(modelAt(step - 1).kernel.frames.freePages);
        expect(await page.locator('#model-result').textContent()).toMatch(/^allocation \d+ refused$/);
      } else {
        const m = modelAt(step);
        expect(await page.locator('#model-result').textContent()).toBe(m.outcome.result);
        expect(free).toBe(m.kernel.frames.freePages);
        if (m.task) expect(await drawnMaps(page)).toBe(procMaps(m.task.mm));
      }
      expect(await page.locator('#call').getAttribute('data-verdict')).not.toBe('2');
      if (p === count - 1) await screenshot(page, 'demo-end');
    }
    expect(refused).toBe(3);
    expect(count).toBe(steps + refused);
    expect(errors).toEqual([]);
  });

  it('shows the 600-page mmap half way, then everything put back', async () => {
    await page.locator('#scrubber').fill('3');
    await shown(page, 3);
    expect(await page.locator('#call .line').textContent()).toBe(
      '4. mmap 600 pages, failing half way: at the refused allocation',
    );
    expect(await page.locator('#regions tr.changed').count()).toBe(1);
    const changedFrames = () =>
      page.evaluate(
        () =>
          (window as unknown as { levitate: { view: { value: { frames: { changed: number[] } } } } }).levitate
            .view.value.frames.changed.length,
      );
    expect(await changedFrames()).toBe(300);
    await screenshot(page, 'demo-half-way');
    await page.keyboard.press('ArrowRight');
    await shown(page, 4);
    expect(await page.locator('#model-result').textContent()).toBe('-ENOMEM');
    // Nothing changed: no region outlined, no frame marked.
    expect(await page.locator('#regions tr.changed').count()).toBe(0);
    expect(await changedFrames()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('walks the written page down to the frame holding "hello, levitate"', async () => {
    await page.locator('#scrubber').fill('2');
    await shown(page, 2);
    const m = modelAt(2);
    const addr = m.task!.mm.vmas.first()!.start;
    await page.locator('#walk-address').fill(`0x${addr.toString(16)}`);
    await page.locator('#walk-address').press('Enter');
    await page.waitForFunction(
      (a) =>
        (window as unknown as { levitate: { walk: { value: { address: number } | null } } }).levitate.walk
          .value?.address === a,
      addr,
    );
    const levels = page.locator('#walk .level');
    expect(await levels.count()).toBe(4);
    expect(await levels.first().getAttribute('data-level')).toBe('L0');
    const leaf = m.task!.mm.pageTable.leaf(addr as never);
    expect(Number(await levels.last().getAttribute('data-lo'))).toBe(leaf.lo >>> 0);
    expect(Number(await levels.last().getAttribute('data-hi'))).toBe(leaf.hi >>> 0);
    // AArch64 names: AP=01 (read/write at EL1 and EL0), AF set, UXN set for a non-exec page.
    const field = async (name: string) =>
      Number(await levels.last().locator(`tr[data-field="${name}"]`).getAttribute('data-value'));
    expect(await field('AP')).toBe(1);
    expect(await field('AF')).toBe(1);
    expect(await field('UXN')).toBe(1);
    expect(await field('OA')).toBe(m.task!.mm.pageTable.translate(addr as never));
    // The write went through the MMU: the TLB caches that page.
    expect(await page.locator('#tlb').textContent()).toContain(`0x${addr.toString(16)}`);
    await screenshot(page, 'demo-walk');
    expect(errors).toEqual([]);
  });
});
