// Development only: the demo users with fresh tokens (GET /dev/demo-users), and the
// example web app (examples/web) served at /app/ by Vite in middleware mode. start.ts
// builds this only when NODE_ENV=development and hands the router to the server; in
// production this module is never imported, so neither the route nor Vite exists there.
import path from 'node:path';
import express, { type Router } from 'express';
import type { ViteDevServer } from 'vite';
import { projectRoot } from '../database/migrations.ts';
import { INVITATION_LINK_PATH } from '../jobs/send-invitation-email.ts';
import { demoInvitation, demoTenants, demoUsers } from './demo-data.ts';
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
  /** The slug of the tenant the token names; null for the newcomer, who has none yet. */
  tenant: string | null;
  role: string | null;
  /** A bearer token for this user (in this tenant), with a verified email. */
  token: string;
  /** The newcomer's: the path of the app's page for their invitation (its link without the host). */
  invitation?: string;
}

/** The demo users, each with a token minted now, and last the newcomer invited to a tenant. */
export function demoUserEntries(tokenSecret: string, tenantClaim: string): DemoUserEntry[] {
  const invitee = demoInvitation;
  return [
    ...demoUsers.map((user) => ({
      email: user.email,
      name: user.name,
      tenant: user.tenant,
      role: user.role,
      token: mintDevToken(
        tokenSecret,
        { userId: user.id, tenantId: demoTenants[user.tenant].id, email: user.email, emailVerified: true },
        { tenantClaim },
      ),
    })),
    {
      email: invitee.email,
      name: invitee.name,
      tenant: null,
      role: null,
      token: mintDevToken(
        tokenSecret,
        { userId: invitee.userId, email: invitee.email, emailVerified: true },
        { tenantClaim },
      ),
      invitation: `${WEB_APP_PATH}${INVITATION_LINK_PATH.slice(1)}?secret=${invitee.secret}`,
    },
  ];
}

/** The query string of a URL, with its `?`; empty when there is none. */
function queryOf(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? '' : url.slice(at);
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
      // A link minted with APP_URL set to the API itself: the app's accept page answers it.
      if (req.method === 'GET' && req.path === INVITATION_LINK_PATH)
        return res.redirect(`${WEB_APP_PATH}${INVITATION_LINK_PATH.slice(1)}${queryOf(req.originalUrl)}`);
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
