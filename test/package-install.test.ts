/**
 * First contact from another project: `npm pack` this package, install the tarball offline into a temporary
 * project, and run what a new user runs there: an ES-module app, a CommonJS app (require('cmwq')), a TypeScript app
 * under tsx with TypeScript module works on worker threads (as `npx tsx main.ts` and as `node --import tsx`), a
 * CommonJS TypeScript project compiled by tsc, and the installed `cmwq` command. tsx and typescript come from this
 * repository's node_modules (no network). The tarball is packed from dist/ as built by `npm test`'s pretest.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runNode } from './helpers.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(repo, 'test', 'fixtures', 'first-contact', 'consumer');
const tsxCli = join(repo, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const tsxLoader = new URL('node_modules/tsx/dist/loader.mjs', `file://${repo}`).href;
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
let dir = '';

/** npm with a private cache, offline: nothing is fetched. */
async function npm(args: string[], cwd: string): Promise<string> {
  const env = { ...process.env, npm_config_cache: join(dir, '.npm-cache'), npm_config_update_notifier: 'false' };
  const { stdout } = await run('npm', args, { cwd, env, timeout: 60_000 });
  return stdout;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cmwq-consumer-'));
  await npm(['pack', '--ignore-scripts', '--pack-destination', dir, '--silent'], repo);
  const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball !== undefined, 'npm pack made a tarball');
  await cp(fixtures, dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await npm(['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, tarball)], dir);
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

interface AppResult {
  local?: number;
  counted: number;
  mainThreadId: number;
  sameInstance?: boolean;
}

function parse(out: { code: number | null; stdout: string; stderr: string }, what: string): AppResult {
  assert.equal(out.code, 0, `${what} failed:\n${out.stderr}`);
  assert.doesNotMatch(out.stderr, /Warning/, `${what} printed no warnings`);
  return JSON.parse(out.stdout.trim()) as AppResult;
}

test('the tarball holds the built entries, their sources, LICENSE and README, not docs/api or tests', async () => {
  const files = new Set(
    (await readdir(join(dir, 'node_modules', 'cmwq'), { recursive: true })).map((f) => f.replaceAll('\\', '/')),
  );
  const entries = ['dist/src/index.js', 'dist/src/require.cjs', 'dist/src/threads/thread-main.js', 'src/index.ts'];
  // The demo's module works, which `npx cmwq demo` runs on a thread from the installed package.
  for (const f of [...entries, 'dist/src/cli/demo-works.js']) assert.ok(files.has(f), `${f} is shipped`);
  for (const f of ['LICENSE', 'README.md', 'package.json']) assert.ok(files.has(f), `${f} is shipped`);
  assert.equal(
    [...files].some((f) => f.startsWith('docs/api') || f.startsWith('dist/test') || f.startsWith('test/')),
    false,
  );
});

// The apps are independent child processes: they run side by side.
describe('apps of the consumer project', { concurrency: true }, () => {
  test('an ES-module app: function and module works, and a result back from a thread (workOnWorkqueue)', async () => {
    const r = parse(await runNode([join(dir, 'app.mjs')], { timeoutMs: 20_000 }), 'app.mjs') as AppResult & {
      result: { square: number; threadId: number };
    };
    assert.deepEqual([r.local, r.counted, r.result.square], [1, 4, 49]);
    assert.notEqual(r.result.threadId, r.mainThreadId, 'the module work ran on a worker thread');
  });

  test("a CommonJS app: require('cmwq') is the same instance as import('cmwq')", async () => {
    const r = parse(await runNode([join(dir, 'app.cjs')], { timeoutMs: 20_000 }), 'app.cjs') as AppResult & {
      result: { square: number; threadId: number };
    };
    assert.deepEqual([r.local, r.counted, r.result.square, r.sameInstance], [1, 4, 49, true]);
    assert.notEqual(r.result.threadId, r.mainThreadId);
  });

  for (const how of ['npx tsx main.ts', 'node --import tsx main.ts'] as const) {
    test(`a TypeScript app under tsx (${how}): TypeScript module works run on worker threads`, async () => {
      const args = how === 'npx tsx main.ts' ? [tsxCli, 'main.ts'] : ['--import', tsxLoader, 'main.ts'];
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, args, { cwd: dir, timeout: 30_000 }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? 1), stdout, stderr }),
        );
      });
      const r = parse(out, how) as AppResult & {
        results: { path: string; width: number; threadId: number }[];
        errors: string[];
      };
      assert.deepEqual(r.errors, []);
      assert.equal(r.counted, 4);
      assert.deepEqual(
        r.results.map((x) => [x.path, x.width]),
        [
          ['a.png', 320],
          ['b.png', 320],
        ],
      );
      for (const x of r.results) assert.notEqual(x.threadId, r.mainThreadId, 'ran on a worker thread');
    });
  }

  test('TypeScript projects type-check against the installed types; a CommonJS one compiles and runs', async () => {
    // One tsc program for both (one start-up): main.ts is ESM (the project's type: module), cjs-ts/index.ts CommonJS
    // (its own package.json says type: commonjs), as module nodenext decides per file.
    const compilerOptions = {
      strict: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      typeRoots: [join(repo, 'node_modules', '@types')],
      types: ['node'],
      skipLibCheck: true,
      outDir: 'out',
    };
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, files: ['main.ts', 'jobs.ts', 'cjs-ts/index.ts'] }),
    );
    await run(process.execPath, [tsc, '-p', dir], { cwd: dir });
    await writeFile(join(dir, 'out', 'cjs-ts', 'package.json'), JSON.stringify({ type: 'commonjs' }));
    const r = await runNode([join(dir, 'out', 'cjs-ts', 'index.js')], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { runs: 3 });
  });
});

test('the installed cmwq command runs', async () => {
  const bin = join(dir, 'node_modules', '.bin', process.platform === 'win32' ? 'cmwq.cmd' : 'cmwq');
  const { stdout } = await run(bin, ['--version'], { cwd: dir });
  assert.match(stdout, /^\d+\.\d+\.\d+\n$/);
});
