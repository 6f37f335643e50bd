// Who the app acts as: a demo user's token, and the tenant each request acts in (sent as
// X-Tenant). Kept in localStorage, so a reload keeps the session.

/** One entry of the development endpoint GET /dev/demo-users. */
export interface DemoUser {
  email: string;
  name: string;
  /** The slug of the tenant the token names; null for a newcomer who has none yet. */
  tenant: string | null;
  role: string | null;
  token: string;
  /** A newcomer's: the app's page for their pending invitation. */
  invitation?: string;
}

export interface Session {
  user: DemoUser;
  /** The slug of the tenant requests act in; none before the user has one. */
  tenant?: string | undefined;
}

const KEY = 'tenantgraph.session';

export function loadSession(): Session | null {
  const stored = localStorage.getItem(KEY);
  return stored ? (JSON.parse(stored) as Session) : null;
}

export function saveSession(session: Session | null): void {
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
}
