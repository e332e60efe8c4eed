// Bundles one seed component with its mount entry for the browser tests, offline, from the
// packages installed beside this file (package-lock.json):
//   node build.mjs react <ResumeAnalysis.jsx> <outdir>
//   node build.mjs vue <JobMonitor.vue> <outdir>
// The component file is the seed's block as written; the mount entry (mount-react.jsx or
// mount-vue.js, here) imports it as ./Component.jsx or ./Component.vue, so both are copied
// into outdir, which is then bundled into outdir/bundle.js (an IIFE for a classic script).
import { copyFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { compileScript, compileStyle, parse } from '@vue/compiler-sfc';

const here = dirname(fileURLToPath(import.meta.url));
const [kind, component, outdir] = process.argv.slice(2);
const entries = { react: ['mount-react.jsx', 'Component.jsx'], vue: ['mount-vue.js', 'Component.vue'] };
if (!entries[kind] || !component || !outdir) {
  console.error('usage: node build.mjs react|vue <component file> <outdir>');
  process.exit(2);
}
const [mount, componentName] = entries[kind];
copyFileSync(join(here, mount), join(outdir, mount));
copyFileSync(component, join(outdir, componentName));

// A .vue file becomes one JS module: <script setup> compiled with its template inlined.
const vuePlugin = {
  name: 'vue-sfc',
  setup(build) {
    build.onLoad({ filter: /\.vue$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const { descriptor, errors } = parse(source, { filename: args.path });
      if (errors.length) return { errors: errors.map((e) => ({ text: String(e.message ?? e) })) };
      const id = basename(args.path);
      const script = compileScript(descriptor, { id, inlineTemplate: true });
      const styles = descriptor.styles.map((s) =>
        compileStyle({ source: s.content, filename: args.path, id, scoped: s.scoped }).code);
      const css = styles.length
        ? `\nconst style = document.createElement('style');\nstyle.textContent = ${JSON.stringify(styles.join('\n'))};\ndocument.head.appendChild(style);\n`
        : '';
      return { contents: script.content + css, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

const result = await esbuild.build({
  entryPoints: [join(outdir, mount)],
  outfile: join(outdir, 'bundle.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'chrome120',
  jsx: 'automatic',
  nodePaths: [resolve(here, 'node_modules')],
  define: {
    'process.env.NODE_ENV': '"production"',
    __VUE_OPTIONS_API__: 'true',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
  },
  plugins: [vuePlugin],
  logLevel: 'warning',
  metafile: true,
});
const inputs = Object.keys(result.metafile.inputs);
console.log(JSON.stringify({ bundle: join(outdir, 'bundle.js'), inputs: inputs.length }));
