// Served by `npm start` at /app/ (Vite in middleware mode, src/dev/dev-tools.ts), next to
// the API, so the app calls /graphql and /dev/demo-users on its own origin.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/app/',
  plugins: [react()],
});
