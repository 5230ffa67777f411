import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The hub serves the built console from chaoshub/static (see chaoshub/api/app.py).
// In development, `npm run dev` proxies the API to a hub on CHAOSHUB_URL.
const hub = process.env.CHAOSHUB_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: '../chaoshub/static',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    // GraphiQL is a page of its own (served at GET /graphql), bundled so it needs no CDN.
    rollupOptions: {
      input: { main: 'index.html', graphiql: 'graphiql.html' },
    },
  },
  server: {
    proxy: {
      '/graphql': { target: hub, ws: true, changeOrigin: true },
    },
  },
});
