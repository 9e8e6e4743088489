// Copies the files tsc does not emit (the dashboard page: src/cli/web/) into dist/, where the CLI serves them
// from. Run after tsc by the build, prepare and pretest scripts.
import { cpSync } from 'node:fs';

cpSync(new URL('../src/cli/web/', import.meta.url), new URL('../dist/src/cli/web/', import.meta.url), {
  recursive: true,
});
