// The console is built into dist/ and served by the API at / (api/static_console.py); the handheld web app
// into dist/handheld/ (public/handheld/ holds its service worker, manifest and icons, copied as they are).
// Everything is bundled: no CDN, no web fonts, no internet basemap at run time.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
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
