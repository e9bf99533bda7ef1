/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import tailwindcss from '@tailwindcss/vite'
import { fileURLToPath } from 'node:url'

// The build goes straight into ../static, which the Rust binary embeds (rust-embed):
// hashed files under static/assets/ are served immutable, index.html no-cache.
// Where `npm run dev` finds the API (a running `docuvault serve`).
const API = process.env.DOCUVAULT_API ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue(), tailwindcss()],
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
