import { useEffect, useState } from 'react';
import type { DemoUser } from '../session.ts';

/** Sign-in for development: the demo users of `npm start`, each with a ready token. */
export function SignIn({
  onSignIn,
  invited,
}: {
  onSignIn: (user: DemoUser) => void;
  /** Opened from an invitation link: the invitee signs in first. */
  invited: boolean;
}) {
  const [users, setUsers] = useState<DemoUser[]>();
  const [failure, setFailure] = useState<string>();
  useEffect(() => {
    fetch('/dev/demo-users')
      .then(async (response) => {
        if (response.status === 404)
          throw new Error('There are no demo users here: they exist only in development (npm start).');
        if (!response.ok) throw new Error(`The demo users could not be loaded (HTTP ${response.status}).`);
        setUsers((await response.json()) as DemoUser[]);
      })
      .catch((error: Error) => setFailure(error.message));
  }, []);

  return (
    <main className="sign-in">
      <h1>tenantgraph</h1>
      {invited ? (
        <p className="lead">Sign in as the person invited to see your invitation and answer it.</p>
      ) : (
        <p>Sign in as one of the demo users. Each belongs to a tenant, in a role, but the newcomer.</p>
      )}
      {failure && (
        <p role="alert" className="error">
          {failure}
        </p>
      )}
      <ul>
        {users?.map((user) => (
          <li key={user.email}>
            <button type="button" onClick={() => onSignIn(user)}>
              {user.name}
            </button>{' '}
            {user.tenant ? `${user.role} of ${user.tenant}` : 'no tenant yet, invited to one'}{' '}
            <small>{user.email}</small>
          </li>
        ))}
      </ul>
    </main>
  );
}
