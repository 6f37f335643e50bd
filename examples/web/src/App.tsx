import { useMemo, useState } from 'react';
import { Provider, useQuery } from 'urql';
import { createApiClient } from './client.ts';
import { AcceptInvitation } from './components/AcceptInvitation.tsx';
import { CreateTenant } from './components/CreateTenant.tsx';
import { ErrorNotice } from './components/ErrorNotice.tsx';
import { Products } from './components/Products.tsx';
import { SignIn } from './components/SignIn.tsx';
import { SessionDocument } from './gql/graphql.ts';
import { loadSession, saveSession, type Session } from './session.ts';

/** The app's own path for a page (Vite's base, /app/ as npm start serves it). */
const page = (path = '') => `${import.meta.env.BASE_URL}${path}`;
const INVITATION_PAGE = page('invitations/accept');

/** The secret of the invitation link this page was opened with (APP_URL/invitations/accept?secret=…). */
function invitationSecret(): string | undefined {
  if (location.pathname.replace(/\/$/, '') !== INVITATION_PAGE) return undefined;
  return new URLSearchParams(location.search).get('secret') ?? undefined;
}

export function App() {
  const [session, setSession] = useState(loadSession);
  const [secret, setSecret] = useState(invitationSecret);
  const change = (next: Session | null) => {
    saveSession(next);
    setSession(next);
  };
  const open = (path: string) => {
    history.pushState(null, '', path);
    setSecret(invitationSecret());
  };
  // A client (and so a cache) per user and tenant: nothing read in one tenant is shown in another.
  const token = session?.user.token;
  const tenant = session?.tenant;
  const client = useMemo(() => token && createApiClient(token, tenant), [token, tenant]);

  if (!session || !client)
    return (
      <SignIn
        invited={secret !== undefined}
        onSignIn={(user) => {
          change({ user, tenant: user.tenant ?? undefined });
          // The newcomer's way in is their invitation.
          if (user.invitation && secret === undefined) open(user.invitation);
        }}
      />
    );
  if (secret !== undefined)
    return (
      <Provider value={client}>
        <AcceptInvitation
          secret={secret}
          who={`${session.user.name} (${session.user.email})`}
          onSignOut={() => change(null)}
          onDone={(joined) => {
            open(page());
            if (joined) change({ ...session, tenant: joined });
          }}
        />
      </Provider>
    );
  return (
    <Provider value={client}>
      <Shell
        session={session}
        onSwitch={(slug) => change({ ...session, tenant: slug })}
        onSignOut={() => change(null)}
      />
    </Provider>
  );
}

/** The tenant menu's entry that opens the signup form rather than a tenant. */
const NEW_TENANT = '';

function Shell({
  session,
  onSwitch,
  onSignOut,
}: {
  session: Session;
  onSwitch: (slug: string) => void;
  onSignOut: () => void;
}) {
  const [{ data, error }] = useQuery({ query: SessionDocument });
  const [creating, setCreating] = useState(false);
  const memberships = (data?.currentMemberships?.nodes ?? []).flatMap((membership) =>
    membership?.tenant ? [{ ...membership, tenant: membership.tenant }] : [],
  );
  const role = memberships.find((membership) => membership.tenant.slug === session.tenant)?.role;
  const inTenant = session.tenant !== undefined && !creating;

  return (
    <>
      <header>
        <strong>tenantgraph</strong>
        <label>
          Tenant{' '}
          <select
            value={inTenant ? session.tenant : NEW_TENANT}
            onChange={(event) => {
              setCreating(event.target.value === NEW_TENANT);
              if (event.target.value !== NEW_TENANT) onSwitch(event.target.value);
            }}
          >
            {session.tenant && memberships.length === 0 && (
              <option value={session.tenant}>{session.tenant}</option>
            )}
            {memberships.map((membership) => (
              <option key={membership.id} value={membership.tenant.slug}>
                {membership.tenant.name}
              </option>
            ))}
            <option value={NEW_TENANT}>New tenant…</option>
          </select>
        </label>
        <span className="who">
          {data?.currentUser?.displayName ?? session.user.name}
          {inTenant && role && `, ${role}`}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <ErrorNotice error={error} />
      <main>
        {inTenant ? (
          <>
            <h1>{data?.currentTenant?.name ?? session.tenant}</h1>
            <Products />
          </>
        ) : (
          <>
            <h1>{memberships.length === 0 ? 'Welcome' : 'A tenant of your own'}</h1>
            {memberships.length === 0 && (
              <p>
                You belong to no tenant yet. Open the link of an invitation mail to join one, or create your
                own.
              </p>
            )}
            <CreateTenant
              onCreated={(slug) => {
                setCreating(false);
                onSwitch(slug);
              }}
              onCancel={session.tenant === undefined ? undefined : () => setCreating(false)}
            />
          </>
        )}
      </main>
    </>
  );
}
