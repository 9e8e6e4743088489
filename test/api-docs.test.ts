/**
 * The public surface stays documented, and its published types stay clean.
 *
 * - TypeDoc, run on typedoc.json's entry points with its notDocumented validation and every warning counted as a
 *   failure: each export, member, constructor, parameter and type parameter has TSDoc, and each {@link} resolves.
 *   A failure lists what is missing, as TypeDoc words it.
 * - typedoc.json documents every entry of the package (package.json "exports"), so a new subpath is checked too,
 *   and each name an entry exports at run time is in the documented project.
 * - The published declarations (dist/src, emitted by npm test's tsc with stripInternal): no @internal declaration
 *   is left in them, no class or interface an entry exports has a `_`-member, and they type-check on their own
 *   (skipLibCheck off), as a user's compiler sees them: a member marked @internal in one place and required by a
 *   type elsewhere would break that.
 *
 * TypeDoc runs in this process through its API: one TypeScript program, nothing rendered, and type errors left to
 * tsc (skipErrorChecking), which has already compiled this file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { Application, Logger, LogLevel, type ProjectReflection } from 'typedoc';

/** This file runs from dist/test/; the repository root is two levels up. */
const root = fileURLToPath(new URL('../../', import.meta.url));

interface PackageEntry {
  /** The subpath, '.' for the root. */
  subpath: string;
  /** The compiled ES module, relative to the root (dist/src/....js). */
  built: string;
  /** Its declarations, relative to the root (dist/src/....d.ts). */
  types: string;
  /** Its source, relative to the root (src/....ts). */
  source: string;
}

/** A package.json "exports" target: a path, or conditions ({ import, require, types, default }) nesting paths. */
type ExportTarget = string | { [condition: string]: ExportTarget | undefined };

/** The path target resolves to under the first of conditions it has, or undefined. */
function resolveTarget(target: ExportTarget | undefined, conditions: string[]): string | undefined {
  if (target === undefined || typeof target === 'string') return target;
  for (const condition of conditions) {
    const path = resolveTarget(target[condition], conditions);
    if (path !== undefined) return path;
  }
  return undefined;
}

/** The declarations of target's ES module: its `types` condition, at the top or under `import`. */
function typesOf(target: ExportTarget | undefined): string | undefined {
  if (target === undefined || typeof target === 'string') return undefined;
  const types = target.types;
  return typeof types === 'string' ? types : typesOf(target.import);
}

/**
 * The package's ES module entries, from package.json "exports" (./package.json and the like left out). A
 * `require` condition is the CommonJS face of the same module (src/require.cts), so it adds no surface of its own;
 * its declarations are checked with the others.
 */
function packageEntries(): PackageEntry[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, ExportTarget>;
  };
  const entries: PackageEntry[] = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const built = resolveTarget(target, ['import', 'default']);
    if (built === undefined || !built.endsWith('.js')) continue;
    const path = built.replace(/^\.\//, '');
    assert.match(path, /^dist\/src\//, `package.json exports ${subpath}: ${built} is not under dist/src/`);
    const types = (typesOf(target) ?? built.replace(/\.js$/, '.d.ts')).replace(/^\.\//, '');
    entries.push({ subpath, built: path, types, source: path.replace(/^dist\//, '').replace(/\.js$/, '.ts') });
  }
  return entries;
}

/** Collects what TypeDoc reports instead of printing it. */
class CollectingLogger extends Logger {
  readonly messages: string[] = [];

  override log(message: string, level: LogLevel): void {
    super.log(message, level);
    if (level >= LogLevel.Warn) this.messages.push(`[${LogLevel[level]}] ${message}`);
  }
}

/** The names a project documents at its top level, across its modules when it has several entry points. */
function documentedNames(project: ProjectReflection): Set<string> {
  const names = new Set<string>();
  for (const child of project.children ?? []) {
    names.add(child.name);
    for (const grandchild of child.children ?? []) names.add(grandchild.name);
  }
  return names;
}

test('typedoc.json documents every entry of the package', () => {
  const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as { entryPoints: string[] };
  const entries = packageEntries();
  assert.ok(entries.length >= 1, 'package.json exports lists no module entry');
  const documented = new Set(config.entryPoints.map((path) => path.replace(/^\.\//, '')));
  const missing = entries.filter((entry) => !documented.has(entry.source));
  assert.deepEqual(
    missing.map((entry) => `${entry.subpath} (${entry.source})`),
    [],
    'package entries whose source is not in typedoc.json "entryPoints"',
  );
});

test('every public export, member and parameter has TSDoc, and every {@link} resolves (TypeDoc validation)', async () => {
  const logger = new CollectingLogger();
  const app = await Application.bootstrapWithPlugins({
    options: join(root, 'typedoc.json'),
    tsconfig: join(root, 'tsconfig.json'),
    skipErrorChecking: true,
    treatWarningsAsErrors: true,
    validation: { notDocumented: true, notExported: true, invalidLink: true, invalidPath: true },
    logLevel: 'Warn',
  });
  app.logger = logger;
  const project = await app.convert();
  assert.ok(project !== undefined, `TypeDoc could not convert the entry points:\n${logger.messages.join('\n')}`);
  app.validate(project);
  assert.deepEqual(logger.messages, [], `TypeDoc found ${logger.messages.length} problem(s); fix the TSDoc`);

  // Not vacuous: every name each entry exports at run time is in the documented project.
  const names = documentedNames(project);
  const undocumented: string[] = [];
  let exported = 0;
  for (const entry of packageEntries()) {
    const module = (await import(pathToFileURL(join(root, entry.built)).href)) as Record<string, unknown>;
    for (const name of Object.keys(module)) {
      exported++;
      if (!names.has(name)) undocumented.push(`${entry.subpath}: ${name}`);
    }
  }
  assert.ok(exported >= 50, `only ${exported} runtime exports found`);
  assert.deepEqual(undocumented, [], 'runtime exports missing from the documented project');
});

/**
 * Every .d.ts (and .d.cts) under dist/src whose source still exists (a stale file of a moved module is not
 * published).
 */
function publishedDeclarations(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.d\.c?ts$/.test(entry.name)) {
        const source = join(root, relative(join(root, 'dist'), path).replace(/\.d\.(c?)ts$/, '.$1ts'));
        if (existsSync(source)) out.push(path);
      }
    }
  };
  walk(join(root, 'dist', 'src'));
  return out;
}

test('the published declarations hold no @internal member or _-field, and type-check on their own', () => {
  const files = publishedDeclarations();
  assert.ok(
    files.some((file) => file.endsWith(join('dist', 'src', 'index.d.ts'))),
    'dist/src/index.d.ts is missing: run tsc first',
  );
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
  });

  const leaks: string[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file)!;
    const visit = (node: ts.Node): void => {
      if (ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'internal')) {
        const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
        leaks.push(`${relative(root, file)}:${line + 1}: an @internal declaration`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  // The classes and interfaces the entries export, with their inherited members and a class's static side.
  const checker = program.getTypeChecker();
  for (const entry of packageEntries()) {
    const source = program.getSourceFile(join(root, entry.types));
    assert.ok(source !== undefined, `${entry.subpath}: no declarations at ${entry.types}`);
    const module = checker.getSymbolAtLocation(source)!;
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if ((symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface)) === 0) continue;
      const members = checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol));
      if (symbol.flags & ts.SymbolFlags.Class) {
        members.push(...checker.getPropertiesOfType(checker.getTypeOfSymbol(symbol)));
      }
      for (const member of members) {
        if (member.name.startsWith('_')) leaks.push(`${entry.subpath}: ${exported.name}.${member.name}`);
      }
    }
  }
  assert.deepEqual(leaks, [], 'internal members in the published declarations (mark them @internal)');

  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  };
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...files.flatMap((file) => {
      const source = program.getSourceFile(file)!;
      return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    }),
  ].map((diagnostic) => ts.formatDiagnostic(diagnostic, host).trim());
  assert.deepEqual(diagnostics, [], 'the published declarations do not type-check');
  assert.ok(files.length >= 10, `only ${files.length} declaration files found`);
});
