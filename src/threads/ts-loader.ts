/**
 * TypeScript module works in threads cmwq starts.
 *
 * A worker thread inherits the process's Node flags (exec-argv.ts), so a loader that registers itself in every
 * thread, and Node's own type stripping (--experimental-strip-types, on by default from Node 23.6), work there as
 * they do on the main thread. tsx does not: its --import entry (what `npx tsx main.ts` and `node --import tsx`
 * both use) registers its hooks only on the main thread on Node 20, so a thread's import of jobs.ts fails with
 * ERR_UNKNOWN_FILE_EXTENSION. Here, on that error, the thread registers tsx through its own API (tsx/esm/api,
 * found next to the tsx loader named in the flags or in NODE_OPTIONS), or a hooks module named by --loader /
 * --experimental-loader through module.register(), once, and imports again (under a URL with a query: Node keeps
 * the failed import in its module map). Registering only on that error
 * leaves alone the Node versions where tsx registers in workers itself (no double hooks).
 */
import { createRequire, register } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The values of --import, --loader and --experimental-loader in args, with the flag they came with. */
export function loaderFlags(args: readonly string[]): { flag: string; value: string }[] {
  const found: { flag: string; value: string }[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag !== '--import' && flag !== '--loader' && flag !== '--experimental-loader') continue;
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value !== undefined) found.push({ flag, value });
  }
  return found;
}

/** A loader flag's value as a file path, resolved as Node resolves it (from the working directory). */
function resolveLoader(value: string): string | null {
  try {
    if (value.startsWith('file:')) return new URL(value).pathname;
    return createRequire(pathToFileURL(join(process.cwd(), 'noop.js'))).resolve(value);
  } catch {
    return null;
  }
}

/** Where tsx's ESM API is, if path is one of tsx's loader entries (dist/loader.mjs, dist/esm/index.mjs). */
export function tsxApiFor(path: string): string | null {
  const match = /^(.*[\\/]tsx[\\/]dist)[\\/](loader\.mjs|esm[\\/]index\.mjs)$/.exec(path);
  return match === null ? null : join(match[1], 'esm', 'api', 'index.mjs');
}

let registered: Promise<boolean> | null = null;

/**
 * Registers in this thread the TypeScript loaders the process was started with (once). Resolves whether it
 * registered any.
 */
export function registerThreadLoaders(): Promise<boolean> {
  registered ??= (async () => {
    const options = (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
    let any = false;
    for (const { flag, value } of loaderFlags([...options, ...process.execArgv])) {
      const path = resolveLoader(value);
      if (path === null) continue;
      const tsxApi = tsxApiFor(path);
      if (tsxApi !== null) {
        const api = (await import(pathToFileURL(tsxApi).href)) as { register(): unknown };
        api.register();
        any = true;
      } else if (flag !== '--import') {
        register(pathToFileURL(path).href, pathToFileURL(dirname(path)));
        any = true;
      }
    }
    return any;
  })();
  return registered;
}

/** specifier with a query that makes it a new entry of the module map (a package name stays as it is). */
function retryUrl(specifier: string): string {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return specifier;
  const url = new URL(specifier);
  url.searchParams.set('cmwq-loader', '1');
  return url.href;
}

/**
 * Imports a module work's module in a thread; on ERR_UNKNOWN_FILE_EXTENSION (a .ts module with no loader active
 * here), registers the process's loaders and imports again, or explains what would make it load.
 * @throws the import's error, with what to do when no loader could be registered.
 */
export async function importInThread(specifier: string): Promise<Record<string, unknown>> {
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    // The failed import stays in the module map under its URL: import it again under another one.
    if (await registerThreadLoaders()) return (await import(retryUrl(specifier))) as Record<string, unknown>;
    throw new Error(
      `${(error as Error).message}: a worker thread loads TypeScript when the process runs under tsx ` +
        '(npx tsx main.ts, node --import tsx) or with Node type stripping (--experimental-strip-types); ' +
        'else point workFunc at the compiled .js',
      { cause: error },
    );
  }
}
