/**
 * The README's picture of the view: a real strace log of this machine (test/fixtures/strace) in
 * Chromium, at a call that differs from Linux, with a page-table walk open.
 *
 *   npx tsx tools/view-screenshot.ts [LOG] [OUT]    # default: gcc-memory-f-y.strace, docs/view.png
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageHtml } from '../src/cli/view.js';
import { launchChromium } from './chromium.js';
import { buildWebBundle } from './web-bundle.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const log = process.argv[2] ?? join(root, 'test/fixtures/strace/gcc-memory-f-y.strace');
const out = process.argv[3] ?? join(root, 'docs/view.png');
const file = join(tmpdir(), 'levitate-view-screenshot.html');
writeFileSync(
  file,
  pageHtml(await buildWebBundle(), {
    kind: 'logs',
    title: basename(log),
    options: { arch: 'x86_64', relocate: true, paging: 'eager', ramBytes: 2 ** 27 },
    logs: [{ name: basename(log), chunks: [readFileSync(log, 'utf8')] }],
  }),
);
const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1500, height: 1050 });
  await page.goto(`file://${file}`);
  type L = { levitate: { view: { value: unknown } } };
  await page.waitForFunction(() => (window as unknown as L).levitate?.view.value !== null);
  await page.locator('#next-diff').click();
  await page.waitForTimeout(400);
  const resident = page.locator('#regions tr.region-row:not([data-resident="0"])');
  await ((await resident.count()) > 0 ? resident : page.locator('#regions tr.region-row')).first().click();
  await page.mouse.move(0, 0);
  await page.waitForTimeout(400);
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
}
