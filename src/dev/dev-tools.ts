// Development only: the demo users with fresh tokens (GET /dev/demo-users), and the
// example web app (examples/web) served at /app/ by Vite in middleware mode. start.ts
// builds this only when NODE_ENV=development and hands the router to the server; in
// production this module is never imported, so neither the route nor Vite exists there.
import path from 'node:path';
import express, { type Router } from 'express';
import type { ViteDevServer } from 'vite';
import { projectRoot } from '../database/migrations.ts';
import { demoTenants, demoUsers } from './demo-data.ts';
import { mintDevToken } from './mint-token.ts';

export const DEMO_USERS_PATH = '/dev/demo-users';
export const WEB_APP_PATH = '/app/';

export interface DevToolsOptions {
  /** The HS256 secret the server verifies tokens with (the development one). */
  tokenSecret: string;
  /** The claim that carries the tenant id (JWT_TENANT_CLAIM). */
  tenantClaim: string;
  /** Serve examples/web at /app/; `hot`: push changed modules to the browser (Vite's HMR, on its own port). */
  webApp?: { hot: boolean } | undefined;
}

export interface DevTools {
  /** Mounted ahead of the API's own routes; passes on every request it does not serve. */
  router: Router;
  close(): Promise<void>;
}

export interface DemoUserEntry {
  email: string;
  name: string;
  /** The tenant's slug. */
  tenant: string;
  role: string;
  /** A bearer token for this user in this tenant, with a verified email. */
  token: string;
}

/** The demo users, each with a token minted now. */
export function demoUserEntries(tokenSecret: string, tenantClaim: string): DemoUserEntry[] {
  return demoUsers.map((user) => ({
    email: user.email,
    name: user.name,
    tenant: user.tenant,
    role: user.role,
    token: mintDevToken(
      tokenSecret,
      { userId: user.id, tenantId: demoTenants[user.tenant].id, email: user.email, emailVerified: true },
      { tenantClaim },
    ),
  }));
}

export async function startDevTools(options: DevToolsOptions): Promise<DevTools> {
  if (process.env.NODE_ENV === 'production')
    throw new Error('Refusing to start the development tools when NODE_ENV=production.');
  const router = express.Router();

  router.get(DEMO_USERS_PATH, (_req, res) => {
    res.set('cache-control', 'no-store').json(demoUserEntries(options.tokenSecret, options.tenantClaim));
  });

  let vite: ViteDevServer | undefined;
  if (options.webApp) {
    // Loaded here, and only here: production never loads Vite.
    const { createServer } = await import('vite');
    vite = await createServer({
      root: path.join(projectRoot, 'examples/web'),
      appType: 'spa',
      logLevel: options.webApp.hot ? 'info' : 'warn',
      server: { middlewareMode: true, ...(!options.webApp.hot && { ws: false }) },
    });
    const middlewares = vite.middlewares;
    // Vite sees only its own paths (its base is /app/), so it never answers for the API.
    router.use((req, res, next) => {
      if (req.path === WEB_APP_PATH.slice(0, -1)) return res.redirect(WEB_APP_PATH);
      return req.path.startsWith(WEB_APP_PATH) ? middlewares(req, res, next) : next();
    });
  }

  return {
    router,
    close: async () => {
      await vite?.close();
    },
  };
}
