import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import {
  AcceptInvitationDocument,
  DeclineInvitationDocument,
  InvitationPreviewDocument,
} from '../gql/graphql.ts';
import { ErrorNotice } from './ErrorNotice.tsx';

/**
 * The page an invitation mail links to (APP_URL/invitations/accept?secret=…): who invited
 * you to what, then accept (and land in that tenant) or decline. The API tells the
 * invitation only to the address it was sent to, so a wrong sign-in says so and no more.
 */
export function AcceptInvitation({
  secret,
  who,
  onDone,
  onSignOut,
}: {
  secret: string;
  /** Who is signed in: the invitation is only theirs if the address matches. */
  who: string;
  onSignOut: () => void;
  /** Leaves the page: into the tenant joined (its slug), or back to the app. */
  onDone: (joined: string | undefined) => void;
}) {
  const [preview] = useQuery({ query: InvitationPreviewDocument, variables: { secret } });
  const [accepted, accept] = useMutation(AcceptInvitationDocument);
  const [declined, decline] = useMutation(DeclineInvitationDocument);
  const [answer, setAnswer] = useState<'declined'>();
  const invitation = preview.data?.invitationPreview;
  const respond = async (accepting: boolean) => {
    if (accepting) {
      const result = await accept({ secret });
      if (!result.error) onDone(invitation?.tenantSlug ?? undefined);
    } else {
      const result = await decline({ secret });
      if (!result.error) setAnswer('declined');
    }
  };

  return (
    <main className="invitation">
      <h1>Your invitation</h1>
      <p className="signed-in">
        Signed in as {who}.{' '}
        <button type="button" className="link" onClick={onSignOut}>
          Not you? Sign out
        </button>
      </p>
      <ErrorNotice error={preview.error ?? accepted.error ?? declined.error} />
      {preview.fetching && <p>Looking the invitation up…</p>}
      {invitation && answer !== 'declined' && (
        <section aria-label="Invitation">
          <p className="lead">
            <strong>{invitation.inviter ?? 'Someone'}</strong> invited you to join{' '}
            <strong>{invitation.tenantName}</strong> as <strong>{invitation.role}</strong>.
          </p>
          <p>
            Sent to {invitation.email}.
            {invitation.expiresAt && (
              <>
                {' '}
                You can answer it once, until{' '}
                <time dateTime={invitation.expiresAt}>
                  {new Date(invitation.expiresAt).toLocaleString(undefined, {
                    dateStyle: 'long',
                    timeStyle: 'short',
                  })}
                </time>
                .
              </>
            )}{' '}
            Nothing happens unless you accept.
          </p>
          <div className="actions">
            <button
              type="button"
              className="primary"
              disabled={accepted.fetching || declined.fetching}
              onClick={() => void respond(true)}
            >
              Accept and join {invitation.tenantName}
            </button>
            <button
              type="button"
              className="secondary"
              disabled={accepted.fetching || declined.fetching}
              onClick={() => void respond(false)}
            >
              Decline
            </button>
          </div>
        </section>
      )}
      {answer === 'declined' && (
        <p role="status">
          You declined the invitation to {invitation?.tenantName}. Its link no longer works.
        </p>
      )}
      {(answer || preview.error) && (
        <p>
          <button type="button" onClick={() => onDone(undefined)}>
            Continue to the app
          </button>
        </p>
      )}
    </main>
  );
}
