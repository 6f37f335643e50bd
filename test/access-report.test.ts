// docs/access.md says what each request role may do on every table, column and function.
// This fails when it is stale (`npm run schema:update` rewrites it), and checks that the
// report tells a leak from isolation: a table whose policy ignores the tenant shows
// **every tenant**.
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, inject, test } from 'vitest';
import { accessReport } from '../src/dba/access-report.ts';
import { loginRoleOf } from '../src/database/bootstrap.ts';
import { ACCESS_FILE, roleNames, writeAccessReport } from '../src/dba/committed-outputs.ts';
import { onDatabase } from '../src/database/location.ts';
import { databaseNameOf } from '../src/database/migrations.ts';

const database = inject('database');
const roles = {
  owner: loginRoleOf(database.ownerUrl),
  authenticator: loginRoleOf(database.authenticatorUrl),
  visitor: database.visitor,
  anonymous: database.anonymous,
};

async function asSuperuser<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: onDatabase(database.rootUrl, databaseNameOf(database.ownerUrl)),
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('the access report', () => {
  test('docs/access.md matches the schema the migrations produce', async () => {
    const report = await asSuperuser((client) =>
      writeAccessReport(client, roles, { write: process.env.UPDATE_SCHEMA === '1' }),
    );
    const committed = await readFile(ACCESS_FILE, 'utf8').catch(() => '');
    expect(
      committed === report,
      'docs/access.md is stale: run `npm run schema:update` and commit the result',
    ).toBe(true);
    expect(report).toContain('| select | — | own tenant | own tenant | own tenant | own tenant |');
  });

  test('shows a policy that ignores the tenant as "every tenant", and a role check per tenant role', async () => {
    const schema = `access_probe_${randomBytes(4).toString('hex')}`;
    const report = await asSuperuser(async (client) => {
      await client.query(`
        create schema ${schema};
        grant usage on schema ${schema} to ${database.visitor};
        create table ${schema}.notes (tenant_id uuid not null references app_public.tenants, id uuid not null, body text, primary key (tenant_id, id));
        alter table ${schema}.notes enable row level security;
        alter table ${schema}.notes force row level security;
        create policy select_all on ${schema}.notes for select using (true);
        create policy delete_by_admin on ${schema}.notes for delete
          using (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin'));
        grant select, update (body), delete on ${schema}.notes to ${database.visitor};
      `);
      try {
        return await accessReport(client, {
          schemas: [schema],
          roles: roleNames(roles),
          tenantsTable: 'app_public.tenants',
        });
      } finally {
        await client.query(`drop schema ${schema} cascade`);
      }
    });
    expect(report).toContain(
      '| select | — | **every tenant** | **every tenant** | **every tenant** | **every tenant** |',
    );
    expect(report).toContain('| update (body) | — | no rows | no rows | no rows | no rows |');
    expect(report).toContain('| delete | — | no rows | no rows | own tenant | own tenant |');
  });
});
