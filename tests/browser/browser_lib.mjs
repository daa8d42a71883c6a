// SPDX-License-Identifier: Apache-2.0
// Headless Chromium (Debian's package) driven by playwright-core, with axe-core injected in the
// page: what the console's browser tests share.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/// A fresh profile per run; no network beyond loopback is reached (the machine may have none).
export async function launchChromium() {
  const executablePath = process.env.VIGIE_CHROMIUM || '/usr/bin/chromium';
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigie-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    // A French operator's browser: the console's default language, asked by Accept-Language.
    locale: 'fr-FR',
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/// axe-core's WCAG 2.1 A/AA rules on the page as it is now; returns the violations.
export async function axeViolations(page) {
  await page.evaluate(axeSource);
  const results = await page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    return await axe.run(document, { runOnly: { type: 'tag', values: tags } });
  }, WCAG_TAGS);
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
  }));
}

/// WCAG 1.4.10 at 200 %: a 1280 px wide window zoomed to 200 % lays pages out in 640 CSS px
/// (what browser zoom does); the page itself must not scroll sideways (wide tables scroll
/// inside their own focusable region). Screenshots the zoomed page when `screenshot` is set.
export async function horizontalOverflowAtZoom200(page, screenshot) {
  const before = page.viewportSize();
  await page.setViewportSize({ width: 640, height: 450 });
  const overflow = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  }));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
  await page.setViewportSize(before);
  return overflow;
}

/// The focused element, and whether it shows a focus indicator (outline or box-shadow).
export async function focusInfo(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { tag: 'body', visible: false, text: '' };
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
    const shadow = style.boxShadow && style.boxShadow !== 'none';
    return {
      tag: el.tagName.toLowerCase(),
      name: el.getAttribute('name') || '',
      type: el.getAttribute('type') || '',
      href: el.getAttribute('href') || '',
      text: (el.innerText || el.value || '').replace(/\s+/g, ' ').trim().slice(0, 60),
      visible: outline || shadow,
    };
  });
}

/// Presses Tab until `matches(focus)` or `limit` presses; returns the focus reached or null.
export async function tabTo(page, matches, limit = 80) {
  for (let i = 0; i < limit; i += 1) {
    await page.keyboard.press('Tab');
    const focus = await focusInfo(page);
    if (matches(focus)) return focus;
  }
  return null;
}
