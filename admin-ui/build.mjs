// Builds the admin dashboard into admin-ui/dist (the Worker's static assets):
//   dist/index.html                the page, referring to the files below by their hashed names
//   dist/assets/app-<hash>.js      every module of src/ and the QR encoder, bundled and minified
//   dist/assets/styles-<hash>.css  the stylesheet, minified
//   dist/assets/icon-<hash>.svg
// Offline: esbuild from node_modules. Run by scripts/build.sh; `node admin-ui/build.mjs`.
import { build, transform } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(HERE, 'dist');
const PUBLIC_PREFIX = '/admin/assets/';

const hashOf = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 12);
const integrityOf = (bytes) => `sha384-${createHash('sha384').update(bytes).digest('base64')}`;

export async function buildDashboard({ quiet = false } = {}) {
  const js = await build({
    entryPoints: [path.join(HERE, 'src/main.js')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    legalComments: 'eof',
    write: false,
    logLevel: 'error',
  });
  const css = await transform(readFileSync(path.join(HERE, 'styles.css'), 'utf8'), { loader: 'css', minify: true });
  const files = [
    { source: './src/main.js', name: 'app', ext: 'js', bytes: Buffer.from(js.outputFiles[0].contents) },
    { source: './styles.css', name: 'styles', ext: 'css', bytes: Buffer.from(css.code) },
    { source: './icon.svg', name: 'icon', ext: 'svg', bytes: readFileSync(path.join(HERE, 'icon.svg')) },
  ];
  let html = readFileSync(path.join(HERE, 'index.html'), 'utf8');
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(path.join(DIST, 'assets'), { recursive: true });
  for (const f of files) {
    const file = `${f.name}-${hashOf(f.bytes)}.${f.ext}`;
    writeFileSync(path.join(DIST, 'assets', file), f.bytes);
    const refs = html.split(`"${f.source}"`).length - 1;
    if (refs === 0) throw new Error(`index.html does not refer to ${f.source}`);
    html = html.replaceAll(`"${f.source}"`, `"${PUBLIC_PREFIX}${file}"`);
    // Scripts and stylesheets are also pinned by their digest.
    if (f.ext !== 'svg') {
      html = html.replace(`"${PUBLIC_PREFIX}${file}"`, `"${PUBLIC_PREFIX}${file}" integrity="${integrityOf(f.bytes)}"`);
    }
    f.file = file;
  }
  if (/\.\/(src|styles|icon)/.test(html)) throw new Error('index.html still refers to an unbuilt file');
  writeFileSync(path.join(DIST, 'index.html'), html);
  if (!quiet) console.log(`admin-ui: ${files.map((f) => `assets/${f.file}`).join(', ')}, index.html`);
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDashboard();
}
