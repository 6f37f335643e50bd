import { useMemo, useState } from 'react';
import { Provider, useQuery } from 'urql';
import { createApiClient } from './client.ts';
import { ErrorNotice } from './components/ErrorNotice.tsx';
import { Products } from './components/Products.tsx';
import { SignIn } from './components/SignIn.tsx';
import { SessionDocument } from './gql/graphql.ts';
import { loadSession, saveSession, type Session } from './session.ts';

export function App() {
  const [session, setSession] = useState(loadSession);
  const change = (next: Session | null) => {
    saveSession(next);
    setSession(next);
  };
  // A client (and so a cache) per user and tenant: nothing read in one tenant is shown in another.
  const token = session?.user.token;
  const tenant = session?.tenant;
  const client = useMemo(() => token && tenant && createApiClient(token, tenant), [token, tenant]);

  if (!session || !client) return <SignIn onSignIn={(user) => change({ user, tenant: user.tenant })} />;
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
  const memberships = (data?.currentMemberships?.nodes ?? []).flatMap((membership) =>
    membership?.tenant ? [{ ...membership, tenant: membership.tenant }] : [],
  );
  const role = memberships.find((membership) => membership.tenant.slug === session.tenant)?.role;

  return (
    <>
      <header>
        <strong>tenantgraph</strong>
        <label>
          Tenant{' '}
          <select value={session.tenant} onChange={(event) => onSwitch(event.target.value)}>
            {memberships.length === 0 && <option value={session.tenant}>{session.tenant}</option>}
            {memberships.map((membership) => (
              <option key={membership.id} value={membership.tenant.slug}>
                {membership.tenant.name}
              </option>
            ))}
          </select>
        </label>
        <span className="who">
          {data?.currentUser?.displayName ?? session.user.name}
          {role && `, ${role}`}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <ErrorNotice error={error} />
      <main>
        <h1>{data?.currentTenant?.name ?? session.tenant}</h1>
        <Products />
      </main>
    </>
  );
}
