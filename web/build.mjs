// Builds the lineage browser from src/ into dist/, which the Go package
// embeds: dist/index.html, and dist/ui/ for what it loads. make ui runs it.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
mkdirSync('dist/ui', { recursive: true });
await build({
  entryPoints: ['src/app.js', 'src/app.css'],
  outdir: 'dist/ui',
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  legalComments: 'eof',
  logLevel: 'info',
});
copyFileSync('src/index.html', 'dist/index.html');
copyFileSync('src/favicon.svg', 'dist/ui/favicon.svg');
