// SPDX-License-Identifier: Apache-2.0
// The console in headless Chromium against a running agent: axe-core on every page, reflow at
// 200 % zoom, and "acknowledge a problem" with the keyboard only. Prints one JSON report on
// stdout; test_console_browser.py starts the agent and judges the report.
//
//   node console_browser.mjs BASE_URL OPERATOR:PASSWORD READER:PASSWORD FAILING_PROBE OUT_DIR
import path from 'node:path';
import { launchChromium, axeViolations, horizontalOverflowAtZoom200, focusInfo, tabTo }
  from './browser_lib.mjs';

const [base, operator, reader, failing, outDir] = process.argv.slice(2);
const report = { pages: [], keyboard: null, screenshots: [] };

function basicAuth(credentials) {
  return { Authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
}

async function check(page, name, url) {
  const response = await page.goto(base + url);
  const screenshot = path.join(outDir, `${name}.png`);
  await page.screenshot({ path: screenshot, fullPage: true });
  const zoomShot = path.join(outDir, `${name}-zoom200.png`);
  const entry = {
    name,
    url,
    status: response.status(),
    title: await page.title(),
    lang: await page.evaluate(() => document.documentElement.lang),
    violations: await axeViolations(page),
    overflow: await horizontalOverflowAtZoom200(page, zoomShot),
  };
  report.pages.push(entry);
  report.screenshots.push(screenshot, zoomShot);
  return entry;
}

/// From the top of the status page to the failing probe's page, then its acknowledge form, with
/// Tab, typing and Enter only; every focus stop must show a focus indicator.
async function acknowledgeWithKeyboard(page) {
  const steps = [];
  const invisible = [];
  const note = (focus) => {
    steps.push(`${focus.tag}${focus.name ? `[${focus.name}]` : ''} ${focus.text || focus.href}`);
    if (!focus.visible) invisible.push(steps[steps.length - 1]);
  };
  await page.goto(`${base}/`);
  await page.keyboard.press('Tab');
  const skip = await focusInfo(page);
  note(skip);
  const probeHref = `/probes/${encodeURIComponent(failing)}`;
  const link = await tabTo(page, (f) => { note(f); return f.tag === 'a' && f.href === probeHref; });
  if (!link) return { ok: false, why: `no Tab stop on ${probeHref}`, steps, invisible };
  await Promise.all([page.waitForURL(`**${probeHref}`), page.keyboard.press('Enter')]);
  const comment = await tabTo(page, (f) => { note(f); return f.tag === 'textarea' && f.name === 'comment'; });
  if (!comment) return { ok: false, why: 'no Tab stop on the comment field', steps, invisible };
  await page.keyboard.type('Astreinte DBA appelée (test clavier)');
  const submit = await tabTo(page, (f) => { note(f); return f.tag === 'button'; }, 5);
  if (!submit) return { ok: false, why: 'no Tab stop on the submit button', steps, invisible };
  await Promise.all([page.waitForURL('**done=acknowledged**'), page.keyboard.press('Enter')]);
  const shot = path.join(outDir, 'probe-acknowledged.png');
  await page.screenshot({ path: shot, fullPage: true });
  report.screenshots.push(shot);
  const body = await page.evaluate(() => document.body.innerText);
  return {
    ok: true,
    url: page.url(),
    skip_link: skip.text,
    confirmation: body.includes('Problème acquitté.'),
    acknowledged_by_operator: body.includes(`Acquittée par ${operator.split(':')[0]}`),
    steps,
    invisible,
  };
}

const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  await page.setExtraHTTPHeaders(basicAuth(operator));
  const probe = `/probes/${encodeURIComponent(failing)}`;
  await check(page, 'status-fr', '/');
  await check(page, 'status-en', '/?lang=en');
  // An English browser: its Accept-Language (the profile's locale would otherwise win).
  const english = (route) => route.continue({
    headers: { ...route.request().headers(), 'accept-language': 'en-GB,en;q=0.9,fr;q=0.5' },
  });
  await page.route('**/*', english);
  await check(page, 'status-accept-language-en', '/');
  await page.unroute('**/*', english);
  await check(page, 'status-filtered-grouped', '/?status=critical&status=ok&group=app&q=web');
  await check(page, 'probe-forms', probe);
  await check(page, 'probe-forms-en', `${probe}?lang=en`);
  await check(page, 'unknown-probe', '/probes/nope');
  report.keyboard = await acknowledgeWithKeyboard(page);
  await check(page, 'probe-acknowledged-page', `${probe}?done=acknowledged`);
  await page.setExtraHTTPHeaders(basicAuth(reader));
  await check(page, 'probe-read-only', probe);
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
