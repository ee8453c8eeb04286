/**
 * Debian's Chromium driven by playwright-core, for the browser view's tests: one browser per test
 * file, a fresh profile each time, no network, and every console error or page error collected so
 * that a test can require none.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { pageHtml } from '../../src/cli/view.js';
import type { SessionSource } from '../../src/web/protocol.js';
import { launchChromium } from '../../tools/chromium.js';
import { buildWebBundle, type WebBundle } from '../../tools/web-bundle.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Screenshots of the browser tests (gitignored). */
export const SCREENSHOTS = join(root, 'test-output', 'screenshots');

export interface Browser {
  context: BrowserContext;
  /** A new page whose console errors and page errors land in `errors`. */
  page(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

export async function launch(): Promise<Browser> {
  const { context, close } = await launchChromium();
  return {
    context,
    async page() {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      // The page must work offline: any request beyond the page itself and local URLs is an error.
      await page.route(/^(?!file:|blob:|data:|http:\/\/127\.0\.0\.1)/, (r) => {
        errors.push(`network request: ${r.request().url()}`);
        return r.abort();
      });
      return { page, errors };
    },
    close,
  };
}

let bundle: Promise<WebBundle> | undefined;

/** The page's files, built once per test file. */
export function assets(): Promise<WebBundle> {
  bundle ??= buildWebBundle();
  return bundle;
}

/** The page for `session` as one file (what `view --html` writes); returns its file:// URL. */
export async function pageFile(session: SessionSource, name: string): Promise<string> {
  const dir = join(root, 'test-output', 'pages');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.html`);
  writeFileSync(file, pageHtml(await assets(), session));
  return `file://${file}`;
}

/** Waits until the page shows the step at `position` (or any step when omitted) and has drawn it. */
export async function shown(page: Page, position?: number): Promise<void> {
  await page.waitForFunction(
    (p) => {
      const l = (
        window as unknown as {
          levitate?: { view: { value: { position: number } | null }; position: { value: number } };
        }
      ).levitate;
      const v = l?.view.value;
      return (
        v !== null && v !== undefined && (p === null ? true : v.position === p && l!.position.value === p)
      );
    },
    position ?? null,
    { timeout: 15_000 },
  );
  // One frame for the DOM to be painted after the signal changed.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The maps lines the region list shows, lowest address first, as /proc/PID/maps prints them. */
export async function drawnMaps(page: Page): Promise<string> {
  const rows = await page
    .locator('#regions tr.region-row')
    .evaluateAll((trs) => trs.map((t) => t.getAttribute('data-maps')!));
  return rows
    .reverse()
    .map((l) => `${l}\n`)
    .join('');
}
