/**
 * Module functions: a work function named by module specifier and export name (§2), which any thread can import
 * and call, where a JS function can only run on the thread that made it.
 *
 * workFunc() returns an ordinary function (so it goes wherever a work function goes) that carries its module
 * reference. Called on a thread, it imports the module the first time and calls the export; from then on the call
 * is direct, so a module work's synchronous segment is the export's own. One function object per (specifier,
 * export): works made with equal references share it, and threads know it by a small id.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, errorMessage, invalidArg, WorkqueueError } from '../base/errors.js';
import { running } from './current.js';

/** Where a module function lives. */
export interface ModuleRef {
  readonly specifier: string;
  readonly exportName: string;
  /** Small id, the same on every thread that was told of it by this one. */
  readonly id: number;
  /** Whether the export is an `async function`; unknown (null) until it is loaded here. */
  async: boolean | null;
  /** The export, once loaded on this thread. */
  target: ((arg: unknown) => unknown) | null;
  /** The import in progress, if any. */
  loading: Promise<(arg: unknown) => unknown> | null;
}

const MODULE = Symbol('cmwq.moduleRef');
const AsyncFunction = (async () => {}).constructor;

/**
 * A work function named by module and export, which any thread can import and run; make one with
 * {@link workFunc}. It is an ordinary function too (calling it imports the module on first use), marked by a
 * private brand so that cmwq can tell where it lives. Its argument is passed on to the export: the work item, or
 * workOnCpu's argument; it returns what the export returns (a promise while the module is imported on first use).
 */
export type ModuleFunc = ((arg: any) => unknown) & { readonly [MODULE]: unknown };

const byKey = new Map<string, ModuleFunc>();
const byId: (ModuleFunc | undefined)[] = [];

/** The module reference of func, or null for a plain JS function. */
export function moduleRef(func: (...args: never) => unknown): ModuleRef | null {
  return ((func as Partial<ModuleFunc>)[MODULE] as ModuleRef | undefined) ?? null;
}

export function moduleFuncById(id: number): ModuleFunc | undefined {
  return byId[id];
}

function normalizeSpecifier(specifier: unknown): string {
  if (specifier instanceof URL) return specifier.href;
  if (typeof specifier !== 'string' || specifier.length === 0) {
    invalidArg(`workFunc: specifier must be a URL or a non-empty string, got ${describe(specifier)}`);
  }
  if (specifier.startsWith('./') || specifier.startsWith('../')) {
    invalidArg(
      `workFunc: relative specifier ${JSON.stringify(specifier)}: resolve it first, e.g. new URL(${JSON.stringify(specifier)}, import.meta.url)`,
    );
  }
  if (isAbsolute(specifier)) return pathToFileURL(specifier).href;
  return specifier; // a URL string (file:, data:, node:) or a bare package specifier
}

/**
 * Names a work function by module and export, so that any thread can run it: a work made with it may go to
 * another CPU ({@link queueWorkOn}), to an unbound workqueue's threads ({@link WQ_UNBOUND}) or to
 * {@link workOnCpu}. The export is called with the work item (on another thread, a stand-in Work carrying a
 * structured clone of its data; with workOnCpu, with the argument). Nothing is imported until a thread first calls
 * it. Equal references give the same function object.
 *
 * A module or export that cannot be loaded fails the item with `ERR_WQ_MODULE` when it runs, reported like any
 * handler failure.
 *
 * @param specifier - Where the module is: a URL (or its string: file:, data:, node:), an absolute path, or a
 *   package name. A relative path is refused: resolve it first, `new URL('./jobs.js', import.meta.url)`.
 * @param exportName - The name of the exported function; `'default'` when left out.
 * @returns A function to pass as a work's `func`, or as workOnCpu's `fn`.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if specifier is not a URL or a non-empty string, is a
 *   relative path, or exportName is not a non-empty string.
 *
 * @example
 * ```ts
 * // jobs.ts
 * export function resize(work: Work<{ path: string; width: number }>) {
 *   // CPU-heavy and synchronous: runs on one of the unbound pool's threads
 * }
 *
 * // main.ts
 * const resize = workFunc(new URL('./jobs.js', import.meta.url), 'resize');
 * const images = allocWorkqueue('images', WQ_UNBOUND, 8);
 * queueWork(images, new Work(resize, { path: 'a.png', width: 640 }));
 * await flushWorkqueue(images);
 * ```
 */
export function workFunc(specifier: string | URL, exportName = 'default'): ModuleFunc {
  const spec = normalizeSpecifier(specifier);
  if (typeof exportName !== 'string' || exportName.length === 0)
    invalidArg(`workFunc: exportName must be a non-empty string, got ${describe(exportName)}`);
  const key = `${spec}#${exportName}`;
  const known = byKey.get(key);
  if (known !== undefined) return known;
  const ref: ModuleRef = {
    specifier: spec,
    exportName,
    id: byId.length || 1,
    async: null,
    target: null,
    loading: null,
  };
  const func = function (this: unknown, arg: unknown): unknown {
    const target = ref.target;
    if (target !== null) return target(arg);
    // First call on this thread: the export runs once its module is loaded, outside the run loop's synchronous
    // part, so it runs as the work that called it (currentWork() there, as on every later call).
    const caller = running.work;
    return load(ref).then((loaded) => {
      const outer = running.work;
      running.work = caller;
      try {
        return loaded(arg);
      } finally {
        running.work = outer;
      }
    });
  } as ModuleFunc;
  Object.defineProperty(func, 'name', { value: exportName });
  Object.defineProperty(func, MODULE, { value: ref });
  byKey.set(key, func);
  byId[ref.id] = func;
  return func;
}

/**
 * Loads func's export on this thread ahead of its first call, so that the call itself is synchronous. Resolves
 * (never rejects) once loaded or failed; null if it is loaded already. A failure is not remembered: the call
 * tries again and fails the item with ERR_WQ_MODULE.
 */
export function preload(func: ModuleFunc): Promise<void> | null {
  const ref = func[MODULE] as ModuleRef;
  if (ref.target !== null) return null;
  return load(ref).then(
    () => undefined,
    () => undefined,
  );
}

/** One import at a time per function. */
function load(ref: ModuleRef): Promise<(arg: unknown) => unknown> {
  if (ref.loading === null) {
    ref.loading = loadExport(ref).then(
      (target) => {
        ref.target = target;
        ref.loading = null;
        return target;
      },
      (error: unknown) => {
        ref.loading = null;
        throw error;
      },
    );
  }
  return ref.loading;
}

/** Imports a module work's module: import(), unless a thread set another way (setModuleImporter). */
let importModule: (specifier: string) => Promise<Record<string, unknown>> = (specifier) => import(specifier);

/**
 * Replaces how module works' modules are imported in this thread: a thread cmwq started uses it to register the
 * process's TypeScript loader on demand (threads/ts-loader.ts).
 * @param importer Imports a specifier (URL or package name) and resolves with its namespace.
 */
export function setModuleImporter(importer: (specifier: string) => Promise<Record<string, unknown>>): void {
  importModule = importer;
}

/** Imports ref's module and returns its export; a module or export that is not there is ERR_WQ_MODULE. */
async function loadExport(ref: ModuleRef): Promise<(arg: unknown) => unknown> {
  let namespace: Record<string, unknown>;
  try {
    namespace = await importModule(ref.specifier);
  } catch (error) {
    throw new WorkqueueError('ERR_WQ_MODULE', `cannot load module ${ref.specifier}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const value = namespace[ref.exportName];
  if (typeof value !== 'function') {
    throw new WorkqueueError(
      'ERR_WQ_MODULE',
      `module ${ref.specifier} has no function export ${JSON.stringify(ref.exportName)} (found ${describe(value)})`,
    );
  }
  ref.async = value instanceof AsyncFunction;
  return value as (arg: unknown) => unknown;
}
