// The console is built into dist/ and served by the API at / (api/static_console.py); the handheld web app
// into dist/handheld/ (public/handheld/ holds its service worker, manifest and icons, copied as they are).
// Everything is bundled: no CDN, no web fonts, no internet basemap at run time.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

// Compressed copies (.br, .gz) of the built text files, served by api/static_console.py to browsers that take
// them: compressed once here, at the highest levels, instead of on every request.
function precompress() {
  return {
    name: 'civicgrid-precompress',
    apply: 'build',
    writeBundle(options, bundle) {
      for (const file of Object.keys(bundle).filter((f) => /\.(m?js|css|svg|json|webmanifest)$/.test(f))) {
        const path = join(options.dir, file);
        const data = readFileSync(path);
        if (data.length < 1024) continue;
        writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
        writeFileSync(`${path}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      }
    },
  };
}

export default defineConfig({
  base: '/',
  plugins: [precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      // Two pages in one build: the operators' console at / and the inspectors' handheld app at /handheld/
      // (its own bundle: it shares Preact, not the map or the charts; docs/handheld.md).
      input: { console: 'index.html', handheld: 'handheld/index.html' },
      output: {
        manualChunks(id) {
          if (id.includes('maplibre-gl')) return 'maplibre';
          if (id.includes('echarts') || id.includes('zrender')) return 'echarts';
          return undefined;
        },
      },
    },
  },
});
