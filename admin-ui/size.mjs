// The gzipped size of the built dashboard (admin-ui/dist), file by file, against its budget.
//   node admin-ui/size.mjs        prints the table; exits 1 over budget
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUDGET_BYTES = 150 * 1024;
const DIST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist');

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** [{file, bytes, gzipped}] of every file in dist/, and their gzipped total. */
export function measure(dist = DIST) {
  const files = walk(dist).map((p) => {
    const bytes = readFileSync(p);
    return { file: path.relative(dist, p), bytes: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length };
  });
  return { files, total: files.reduce((t, f) => t + f.gzipped, 0) };
}

export function report({ files, total }) {
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const lines = files.map((f) => `  ${f.file.padEnd(36)} ${kib(f.bytes).padStart(10)} ${kib(f.gzipped).padStart(10)} gzipped`);
  return [...lines, `  ${'total'.padEnd(36)} ${''.padStart(10)} ${kib(total).padStart(10)} gzipped (budget ${kib(BUDGET_BYTES)})`].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const m = measure();
  console.log(report(m));
  if (m.total > BUDGET_BYTES) {
    console.error('admin-ui/dist is over its size budget');
    process.exit(1);
  }
}
