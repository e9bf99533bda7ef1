/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import tailwindcss from '@tailwindcss/vite'
import { fileURLToPath } from 'node:url'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Plugin } from 'vite'

// pdf.js decodes JBIG2 and JPEG 2000 images (scanned PDFs) with modules it imports at
// run time from `wasmUrl`. The CSP allows no WebAssembly, so only their JavaScript
// fallbacks are shipped, under /pdfjs/ (see src/lib/pdf.ts), with their licences.
function pdfjsDecoders(): Plugin {
  const dir = join(dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json')), 'wasm')
  const files = ['jbig2_nowasm_fallback.js', 'openjpeg_nowasm_fallback.js', 'LICENSE_JBIG2', 'LICENSE_OPENJPEG', 'LICENSE_PDFJS_JBIG2', 'LICENSE_PDFJS_OPENJPEG']
  return {
    name: 'docuvault-pdfjs-decoders',
    apply: 'build',
    generateBundle() {
      for (const f of files) this.emitFile({ type: 'asset', fileName: `pdfjs/${f}`, source: readFileSync(join(dir, f)) })
    },
  }
}

// The build goes straight into ../static, which the Rust binary embeds (rust-embed):
// hashed files under static/assets/ are served immutable, index.html no-cache.
// Where `npm run dev` finds the API (a running `docuvault serve`).
const API = process.env.DOCUVAULT_API ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue(), tailwindcss(), pdfjsDecoders()],
  // pdf.js starts its worker as a module worker.
  worker: { format: 'es' },
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  build: {
    outDir: '../static',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // No inline scripts or data: module URLs: the server's CSP is `script-src 'self'`.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: {
      output: {
        // Readable, hashed chunk names (assets/SettingsView-abc123.js).
        chunkFileNames: (chunk) => `assets/${chunk.name.replace(/\.vue_vue_type.*$/, '')}-[hash].js`,
      },
    },
  },
  server: {
    // `npm run dev` proxies the API to a locally running `docuvault serve`.
    proxy: {
      '/api': API,
      '/health': API,
      '/storage': API,
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
  },
})
