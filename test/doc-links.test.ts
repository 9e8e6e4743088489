/**
 * The README's and docs' relative links point at files that exist (and at headings that exist, for #anchors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function markdownFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.') || name === 'api') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...markdownFiles(path));
    else if (name.endsWith('.md')) out.push(path);
  }
  return out;
}

/** GitHub's heading slugs: lower case, punctuation dropped, spaces to dashes. */
function slugs(markdown: string): Set<string> {
  const set = new Set<string>();
  for (const match of markdown.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    set.add(
      match[1]
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return set;
}

test('every relative link in the README, docs/ and examples/ resolves', () => {
  const files = [
    join(root, 'README.md'),
    ...markdownFiles(join(root, 'docs')),
    ...markdownFiles(join(root, 'examples')),
  ].filter(existsSync);
  assert.ok(files.length >= 3, `markdown files found: ${files.length}`);
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const link = match[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
      checked++;
      const [path, anchor] = link.split('#');
      const target = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      if (!existsSync(target)) {
        broken.push(`${relative(root, file)}: ${link} (no such file)`);
        continue;
      }
      if (
        anchor !== undefined &&
        anchor !== '' &&
        target.endsWith('.md') &&
        !slugs(readFileSync(target, 'utf8')).has(anchor)
      ) {
        broken.push(`${relative(root, file)}: ${link} (no such heading)`);
      }
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(checked > 0, 'some links were checked');
});
