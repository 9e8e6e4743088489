/**
 * `cmwq web -- <command>`: the live dashboard, loaded in a real headless browser (the machine's chromium, driven
 * by playwright-core) against a spawned busy program: workqueue rows, worker states and timeline slices appear
 * and update; /metrics is valid Prometheus text (read by a real parser of the format). A screenshot is saved to
 * $CMWQ_ARTIFACTS (default: a temp dir), or to $CMWQ_DASHBOARD_SCREENSHOT when set (how docs/dashboard.png is
 * made). Without /usr/bin/chromium the test fails and says how to install it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { type ServingNode, startServing } from './helpers.js';

/** The page's own global, inside page.evaluate() callbacks (the tests compile without the DOM library). */
declare const document: any;

const CHROMIUM = '/usr/bin/chromium';
const cli = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
const app = fileURLToPath(new URL('../../test/fixtures/web-app.mjs', import.meta.url));
const cmwq = fileURLToPath(new URL('../src/index.js', import.meta.url));

/** Starts `cmwq web --exit -- app` and resolves the address it prints on stderr. */
function startWeb(runForMs: number): Promise<ServingNode> {
  return startServing([cli, 'web', '--exit', '--', app, cmwq, String(runForMs)]);
}

async function launch(): Promise<{ context: BrowserContext; profile: string }> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: this test needs a real browser (Debian: apt-get install -y chromium; .ci/run installs it)`,
  );
  const profile = mkdtempSync(join(tmpdir(), 'cmwq-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return { context, profile };
}

const total = (page: Page, wq: string) =>
  page.$eval(`tr[data-wq="${wq}"] td:nth-child(2)`, (td) => Number(td.textContent));

test('cmwq web serves a live dashboard: rows, worker states and timeline slices appear and update; /metrics parses', async () => {
  const { child, url, stderr } = await startWeb(15_000);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const { context, profile } = await launch();
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(url)) external.push(r.url());
    });
    await page.goto(url);

    // Workqueue rows, from the live stream.
    await page.waitForSelector('tr[data-wq="webwq"]');
    await page.waitForSelector('tr[data-wq="cpuwq"]');
    await page.waitForFunction(() => document.querySelector('#connection')?.textContent === 'live');
    const first = await total(page, 'webwq');

    // Workers with their states: webwq's items sleep (they await a timer), so sleeping workers show up, and
    // idle ones between items; each busy worker names its item.
    await page.waitForSelector('[data-worker][data-state="sleeping"]');
    const sleeping = await page.$eval('[data-worker][data-state="sleeping"]', (row) => row.textContent ?? '');
    assert.match(sleeping, /kworker\/0:\d+sleeping(fetchPage \(webwq\)|crunch \(cpuwq\))/);

    // Timeline slices, drawn on the canvas, and the time axis moving.
    await page.waitForFunction(() => Number(document.querySelector('canvas')?.dataset.slices) > 20);
    const lanes = Number(await page.$eval('canvas', (c) => c.dataset.lanes));
    assert.ok(lanes >= 2, `a lane per worker (${lanes})`);
    const now1 = Number(await page.$eval('canvas', (c) => c.dataset.now));

    // Updates: the totals grow and the pools section lists the per-CPU pool.
    await page.waitForFunction(
      (before) => Number(document.querySelector('tr[data-wq="webwq"] td:nth-child(2)')?.textContent) > before,
      first,
    );
    // the canvas is redrawn on the next animation frame, which may come after the table's update
    await page.waitForFunction((before) => Number(document.querySelector('canvas')?.dataset.now) > before, now1);
    const now2 = Number(await page.$eval('canvas', (c) => c.dataset.now));
    assert.ok(now2 > now1, 'the timeline scrolls');
    assert.match(await page.$eval('#pools-list', (p) => p.textContent ?? ''), /pool 0: cpus=0 nice=0 workers=\d+/);

    // Sorting by a column.
    await page.click('th[data-key="total"]');
    const sorted = await page.$$eval('#wq-table tbody tr', (rows) =>
      rows.map((r) => Number(r.querySelector('td:nth-child(2)')?.textContent)),
    );
    assert.deepEqual(
      sorted,
      [...sorted].sort((a, b) => b - a),
      'sorted by total, descending',
    );

    // Hover over a slice shows the item.
    const hit = await page.evaluate(() => {
      const c = document.querySelector('canvas')!;
      const box = c.getBoundingClientRect();
      return { x: box.left + box.width - 40, y: box.top };
    });
    for (let y = hit.y + 22; y < hit.y + 22 + lanes * 20; y += 20) {
      for (let x = hit.x; x > hit.x - 600; x -= 3) {
        await page.mouse.move(x, y);
        if (await page.isVisible('#tooltip')) break;
      }
      if (await page.isVisible('#tooltip')) break;
    }
    assert.match((await page.textContent('#tooltip')) ?? '', /workqueue (webwq|cpuwq)\nworker kworker/);

    // CPU hogs reach the log (crunch spins past the 5 ms threshold one time in ten).
    await page.waitForSelector('#log-list li[data-kind="hog"]');

    const dir = process.env.CMWQ_ARTIFACTS ?? join(tmpdir(), 'cmwq-artifacts');
    const shot = process.env.CMWQ_DASHBOARD_SCREENSHOT ?? join(dir, 'dashboard.png');
    mkdirSync(dirname(shot), { recursive: true });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: shot, fullPage: true });

    assert.deepEqual(external, [], 'nothing is fetched from elsewhere');
    assert.deepEqual(errors, [], 'no errors in the page');

    // Failures and CPU hogs are marked on the executions the page draws.
    const state = (await (await fetch(`${url}state.json`)).json()) as { execs: { func: string; flags: number }[] };
    assert.ok(
      state.execs.some((e) => e.func === 'flaky' && (e.flags & 1) === 1),
      'a failed execution is marked',
    );
    assert.ok(
      state.execs.some((e) => e.func === 'crunch' && (e.flags & 2) === 2),
      'a CPU hog is marked',
    );

    // Prometheus metrics, read by a parser of the text format.
    const text = await (await fetch(`${url}metrics`)).text();
    const families = parsePrometheusTextFormat(text);
    const started = families.find((f) => f.name === 'cmwq_workqueue_started_total');
    assert.equal(started?.type, 'COUNTER');
    assert.ok(started.help.length > 0);
    const webwq = started.metrics.find((m) => m.labels?.workqueue === 'webwq');
    assert.ok(Number(webwq?.value) > 0, text);
    assert.equal(families.find((f) => f.name === 'cmwq_workqueue_pending')?.type, 'GAUGE');
    for (const family of families) {
      assert.match(family.name, /^cmwq_workqueue_[a-z0-9_]+$/);
      assert.ok(text.includes(`# HELP ${family.name} `) && text.includes(`# TYPE ${family.name} `), family.name);
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    child.kill('SIGTERM');
  }
  const code = await exited;
  assert.ok(code === 0 || code === 128 || code === 143, `cmwq web ended (${code}):\n${stderr()}`);
});

test('cmwq demo --web waits for the page, then runs the demo under the dashboard', async () => {
  const child = spawn(process.execPath, [cli, 'demo', '--web', '--fast'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let err = '';
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(err);
        if (m !== null && /the program starts when the page is open/.test(err)) resolve(m[1]);
      });
      child.on('exit', () => reject(new Error(err)));
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(out, '', 'nothing runs before a page connects');
    // A page: the event stream. Read it until the demo's last report.
    const response = await fetch(`${url}events`);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let stream = '';
    while (!/"final":true/.test(stream)) {
      const { value, done } = await reader.read();
      if (done) break;
      stream += value;
    }
    await reader.cancel();
    assert.match(stream, /^event: hello$/m);
    assert.match(stream, /"name":"workqueue_demo"/);
    assert.match(stream, /"func":"dedicatedWorkFn"/, 'executions of the demo reach the page');
    assert.match(out, /=== Work Queue Demo unloaded ===/);
    // The demo ends; the dashboard stays up, frozen, until it is told to stop.
    while (!/the program exited with code 0; the dashboard stays up/.test(err))
      await new Promise((r) => setTimeout(r, 20));
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, err);
});
