/**
 * The layer rules of src/ (docs/design.md, "Layers"), checked by `npm test`:
 *   base  <-  core  <-  threads, observe, backends  <-  index.ts  <-  cli
 * A folder may import its own folder and the ones to its left; cli reaches the library only through its public
 * entries. Type-only imports are left out (they vanish at run time); runtime cycles are not allowed anywhere.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'A runtime import cycle: the modules cannot be loaded in an order where each finds the other ready.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'base-is-the-bottom',
      severity: 'error',
      from: { path: '^src/base/' },
      to: { path: '^src/', pathNot: '^src/base/' },
    },
    {
      name: 'core-imports-base-and-core',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/(base|core)/' },
    },
    {
      name: 'middle-layers-are-independent',
      severity: 'error',
      comment: 'threads, observe and backends build on core; they meet only in index.ts, which wires them.',
      from: { path: '^src/(threads|observe|backends)/' },
      to: { path: '^src/', pathNot: '^src/(base|core)/|^src/$1/' },
    },
    {
      name: 'cli-uses-the-public-entries',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(cli/|index\\.ts$|backends/[^/]+/index\\.ts$)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: false,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
