import { useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
import { CreateTenantDocument } from '../gql/graphql.ts';
import { ErrorNotice } from './ErrorNotice.tsx';

/** A slug suggested from a name: lower-case letters and digits, inner hyphens. */
function slugFrom(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

/** Signing up: create a tenant of your own (you become its owner), then switch to it. */
export function CreateTenant({
  onCreated,
  onCancel,
}: {
  onCreated: (slug: string) => void;
  onCancel?: (() => void) | undefined;
}) {
  const [name, setName] = useState('');
  const [slug, setSlug] = useState<string>();
  const [created, create] = useMutation(CreateTenantDocument);
  const chosenSlug = slug ?? slugFrom(name);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await create({ name, slug: chosenSlug });
    const tenant = result.data?.createTenant?.tenant;
    if (tenant) onCreated(tenant.slug);
  };

  return (
    <form aria-label="New tenant" onSubmit={(event) => void submit(event)}>
      <h2>Create your tenant</h2>
      <p>Your own organisation: you are its owner, and invite the others.</p>
      <label>
        Name <input required value={name} onChange={(event) => setName(event.target.value)} />
      </label>
      <label>
        Slug{' '}
        <input
          required
          value={chosenSlug}
          pattern="[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
          onChange={(event) => setSlug(event.target.value)}
        />
      </label>
      <div className="actions">
        <button type="submit" disabled={created.fetching}>
          Create
        </button>
        {onCancel && (
          <button type="button" className="secondary" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
      <ErrorNotice error={created.error} />
    </form>
  );
}
