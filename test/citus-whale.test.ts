// A whale tenant on Citus (issue 24, part 6): one large tenant moved onto shards of its
// own (isolate_tenant_to_new_shard) and then onto the other worker
// (citus_move_shard_placement), the database-level answer to a noisy neighbour. The
// procedure is docs/citus.md's "Whale tenants": isolate, grant, move, grant. Afterwards
// the isolation must hold as before, inserts by the request role must land, and the
// shards must carry the same triggers as the others. Then a rebalance, which undoes the
// move unless a rebalance strategy pins the whale's shards. Runs only on a cluster
// (TEST_CITUS_URL); on plain PostgreSQL there are no shards to move. Run it alone (as
// .ci/run does): the split changes the shards of every tenant in the whale's hash range,
// whose writes wait and whose inserts fail until the grant, in other files' tests too.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { onDatabase } from '../src/database/location.ts';
import { databaseNameOf } from '../src/database/migrations.ts';
import { asOwner, asUser, closePools, pgError } from './support/db.ts';
import { createTenant, snapshot, type TenantFixture } from './support/fixtures.ts';

const WHALE_PRODUCTS = 3000;

describe.runIf(process.env.TEST_CITUS_URL)('a whale tenant on shards and a worker of its own', () => {
  const database = inject('database');
  const databaseName = databaseNameOf(database.ownerUrl);
  let whale: TenantFixture;
  let small: TenantFixture[];
  let smallBefore: Awaited<ReturnType<typeof snapshot>>[];
  let from: Node;
  let to: Node;
  const took: Record<string, number> = {};

  interface Node {
    host: string;
    port: number;
  }

  /** The cluster's superuser on the test database (on the coordinator, or on `node`). */
  async function asSuperuser<T>(fn: (db: pg.Client) => Promise<T>, node?: Node): Promise<T> {
    const url = new URL(onDatabase(database.rootUrl, databaseName));
    if (node) {
      url.hostname = node.host;
      url.port = String(node.port);
    }
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await work();
    took[name] = Math.round(performance.now() - started);
    return result;
  }

  /** Per distributed table: the shard that holds `tenantId`, its hash range and its node. */
  const shardsOf = (tenantId: string) =>
    asSuperuser(async (db) => {
      const { rows } = await db.query<{
        table: string;
        shardid: string;
        alone: boolean;
        host: string;
        port: number;
      }>(
        `select p.logicalrelid::text as table, s.shardid::text as shardid,
                s.shardminvalue = s.shardmaxvalue as alone,
                pl.nodename as host, pl.nodeport as port
         from pg_dist_partition p
         join pg_dist_shard s on s.shardid = get_shard_id_for_distribution_column(p.logicalrelid, $1::uuid)
         join pg_dist_shard_placement pl on pl.shardid = s.shardid
         where p.partmethod = 'h'
         order by 1`,
        [tenantId],
      );
      return rows;
    });

  /** Rows in one shard, counted on its worker: what lives there, whatever the policies say. */
  const rowsInShard = (table: string, shardid: string) =>
    asSuperuser(async (db) => {
      const { rows } = await db.query<{ result: string }>(
        `select result from run_command_on_shards($1::regclass, 'select count(*) from %s')
         where shardid = $2::bigint`,
        [table, shardid],
      );
      return Number(rows[0]!.result);
    });

  const productCount = (identity: { userId: string; tenantId: string }, tenantId?: string) =>
    asUser(identity, async (db) => {
      const { rows } = await db.query<{ n: number }>(
        tenantId
          ? 'select count(*)::int as n from app_public.products where tenant_id = $1'
          : 'select count(*)::int as n from app_public.products',
        tenantId ? [tenantId] : [],
      );
      return rows[0]!.n;
    });

  /** A products shard's own triggers, without the shard-id suffix Citus gives their names. */
  const triggersOf = (shardid: string) =>
    asSuperuser(async (db) => {
      const { rows } = await db.query<{ result: string }>(
        `select result from run_command_on_shards('app_public.products',
           $$select string_agg(regexp_replace(tgname, '_[0-9]+$', '') || ':' || tgenabled::text, ',' order by tgname)
             from pg_trigger where tgrelid = '%s'::regclass and not tgisinternal$$)
         where shardid = $1::bigint`,
        [shardid],
      );
      return rows[0]!.result.split(',');
    });

  /** The whale's products shard has the triggers, enabled, of a small tenant's untouched one. */
  async function expectSameTriggers() {
    const productsShard = async (tenantId: string) =>
      (await shardsOf(tenantId)).find((shard) => shard.table === 'app_public.products')!.shardid;
    const expected = await triggersOf(await productsShard(small[0]!.id));
    expect(expected).toEqual(expect.arrayContaining(['_900_audit:O', '_950_notify_insert:O']));
    expect(await triggersOf(await productsShard(whale.id))).toEqual(expected);
  }

  beforeAll(async () => {
    [whale, ...small] = await Promise.all([
      createTenant('whale'),
      createTenant('minnow'),
      createTenant('minnow'),
    ]);
    // Written as the owner, through the triggers (the audit trail records them), as the
    // tenant's own writes would be.
    await timed('load', () =>
      asOwner((db) =>
        db.query(
          `insert into app_public.products (tenant_id, name, price)
           select $1, 'whale ' || n, n % 1000 from generate_series(1, $2::int) n`,
          [whale.id, WHALE_PRODUCTS],
        ),
      ),
    );
    smallBefore = await Promise.all(small.map((tenant) => snapshot(tenant.id)));
  }, 120_000);

  afterAll(async () => {
    console.info(`whale of ${WHALE_PRODUCTS + 2} products, times in ms:`, took);
    await closePools();
  });

  test('isolate_tenant_to_new_shard puts the whale, and only it, in a shard of each table, with the same triggers', async () => {
    const before = await shardsOf(whale.id);
    expect(before.every((shard) => !shard.alone)).toBe(true);
    await timed('isolate', () =>
      asSuperuser((db) =>
        db.query(
          `select isolate_tenant_to_new_shard('app_public.products', $1::uuid, 'CASCADE',
                                              shard_transfer_mode => 'block_writes')`,
          [whale.id],
        ),
      ),
    );
    const after = await shardsOf(whale.id);
    expect(after.map((shard) => shard.table)).toEqual(before.map((shard) => shard.table));
    // Every co-located table moved with it (CASCADE), on the worker it was on.
    for (const shard of after)
      expect(shard, shard.table).toMatchObject({ alone: true, port: before[0]!.port });
    const products = after.find((shard) => shard.table === 'app_public.products')!;
    expect(await rowsInShard(products.table, products.shardid)).toBe(WHALE_PRODUCTS + 2);
    for (const tenant of small)
      for (const shard of await shardsOf(tenant.id)) expect(shard.alone, shard.table).toBe(false);
    const workers = await asSuperuser(
      async (db) =>
        (
          await db.query<Node>(
            `select nodename as host, nodeport as port from pg_dist_node
             where groupid <> 0 and noderole = 'primary' and isactive order by nodeid`,
          )
        ).rows,
    );
    from = { host: after[0]!.host, port: after[0]!.port };
    to = workers.find((worker) => worker.port !== from.port)!;
    expect(to, 'a second worker').toBeDefined();
    await expectSameTriggers();
  });

  const whaleOwner = () => ({ userId: whale.users.owner, tenantId: whale.id });
  const insertAsWhale = (name: string) =>
    asUser(
      whaleOwner(),
      (db) => db.query('insert into app_public.products (name, price) values ($1, 1)', [name]),
      {
        commit: true,
      },
    );
  const grantShardInserts = (step: string) =>
    timed(step, () => asSuperuser((db) => db.query('select app_private.citus_grant_shard_inserts()')));

  test('after the split, the request role inserts there only once citus_grant_shard_inserts() has run', async () => {
    // New shards copy the coordinator's grants, where the request role has column grants
    // only: refused, nothing written, until the grant.
    const refused = await pgError(insertAsWhale('before the grant'));
    expect(refused.code, refused.message).toBe('42501');
    await grantShardInserts('grantAfterSplit');
    await insertAsWhale('after the split');
    expect(await productCount(whaleOwner())).toBe(WHALE_PRODUCTS + 3);
  });

  test('citus_move_shard_placement moves the whale shard group to the other worker', async () => {
    const before = await shardsOf(whale.id);
    const products = before.find((shard) => shard.table === 'app_public.products')!;
    await timed('move', () =>
      asSuperuser((db) =>
        db.query(
          `select citus_move_shard_placement($1::bigint, $2, $3, $4, $5, shard_transfer_mode => 'block_writes')`,
          [products.shardid, from.host, from.port, to.host, to.port],
        ),
      ),
    );
    const after = await shardsOf(whale.id);
    for (const shard of after) expect(shard, shard.table).toMatchObject({ alone: true, port: to.port });
    expect(after.map((shard) => shard.shardid)).toEqual(before.map((shard) => shard.shardid));
    expect(await rowsInShard(products.table, products.shardid)).toBe(WHALE_PRODUCTS + 3);
    // The moved shards are made anew from the coordinator's table: the grant again.
    const refused = await pgError(insertAsWhale('before the grant'));
    expect(refused.code, refused.message).toBe('42501');
    await grantShardInserts('grantAfterMove');
    await expectSameTriggers();
  });

  test('moved: the whale sees exactly its rows, the others none of them, and writes land', async () => {
    const owner = { userId: whale.users.owner, tenantId: whale.id };
    expect(await productCount(owner)).toBe(WHALE_PRODUCTS + 3);
    expect(await productCount(owner, small[0]!.id)).toBe(0);
    for (const tenant of small) {
      const theirs = { userId: tenant.users.owner, tenantId: tenant.id };
      expect(await productCount(theirs)).toBe(2);
      expect(await productCount(theirs, whale.id)).toBe(0);
      // Claiming the whale's tenant without being a member there.
      expect(await productCount({ userId: tenant.users.owner, tenantId: whale.id })).toBe(0);
      const changed = await asUser(
        theirs,
        async (db) =>
          (
            await db.query('update app_public.products set name = $2 where tenant_id = $1', [
              whale.id,
              'pwned',
            ])
          ).rowCount,
        { commit: true },
      );
      expect(changed).toBe(0);
    }
    await asUser(
      owner,
      (db) => db.query("insert into app_public.products (name, price) values ('moved', 2)"),
      {
        commit: true,
      },
    );
    await asUser(
      { userId: small[1]!.users.owner, tenantId: small[1]!.id },
      (db) => db.query("insert into app_public.products (name, price) values ('small', 3)"),
      { commit: true },
    );
    expect(await productCount(owner)).toBe(WHALE_PRODUCTS + 4);
    expect(await productCount({ userId: small[1]!.users.owner, tenantId: small[1]!.id })).toBe(3);
    expect(await snapshot(small[0]!.id)).toEqual(smallBefore[0]);
    const pwned = await asOwner(
      async (db) =>
        (
          await db.query<{ n: number }>(
            "select count(*)::int as n from app_public.products where name = 'pwned'",
          )
        ).rows[0]!.n,
    );
    expect(pwned).toBe(0);
  });

  test("the whale's writes on its new worker are in the audit trail, by table name", async () => {
    const events = await asOwner(
      async (db) =>
        (
          await db.query<{ table_name: string; operation: string }>(
            `select table_name, operation from app_public.audit_events
             where tenant_id = $1 and row_key->>'id' in (
               select id::text from app_public.products where tenant_id = $1 and name in ('after the split', 'moved'))`,
            [whale.id],
          )
        ).rows,
    );
    expect(events).toEqual([
      { table_name: 'products', operation: 'insert' },
      { table_name: 'products', operation: 'insert' },
    ]);
  });

  // docs/citus.md's "Adding a worker and rebalancing", on the two workers there are: the
  // rebalancer's moves lose the shard-level INSERT like any move, and it counts shards,
  // not rows, so it may move the whale back beside its neighbours (it did here).
  test('a rebalance moves shard groups; after citus_grant_shard_inserts() every shard takes inserts', async () => {
    const shardsWithoutInsert = () =>
      asSuperuser(async (db) => {
        const { rows } = await db.query<{ n: number }>(
          `select count(*)::int as n from run_command_on_shards('app_public.products',
             format($$select has_table_privilege(%L, '%%s', 'INSERT')$$, $1::text)) where result <> 't'`,
          [database.visitor],
        );
        return rows[0]!.n;
      });
    // Unbalance the cluster: four of the small tenants' shard groups onto the whale's worker.
    const groups = await asSuperuser(
      async (db) =>
        (
          await db.query<{ shardid: string }>(
            `select s.shardid::text as shardid from pg_dist_shard s join pg_dist_shard_placement pl using (shardid)
             where s.logicalrelid = 'app_public.products'::regclass and pl.nodeport = $1
               and s.shardminvalue <> s.shardmaxvalue
             order by s.shardid limit 4`,
            [from.port],
          )
        ).rows,
    );
    for (const group of groups)
      await asSuperuser((db) =>
        db.query(
          `select citus_move_shard_placement($1::bigint, $2, $3, $4, $5, shard_transfer_mode => 'block_writes')`,
          [group.shardid, from.host, from.port, to.host, to.port],
        ),
      );
    await grantShardInserts('grantAfterFourMoves');
    const planned = await asSuperuser(
      async (db) => (await db.query('select * from get_rebalance_table_shards_plan()')).rowCount,
    );
    expect(planned).toBeGreaterThan(0);
    const state = await timed('rebalance', () =>
      asSuperuser(async (db) => {
        await db.query(`select citus_rebalance_start(shard_transfer_mode => 'block_writes')`);
        await db.query('select citus_rebalance_wait()');
        return (await db.query<{ state: string }>('select state from citus_rebalance_status()')).rows[0]!
          .state;
      }),
    );
    expect(state).toBe('finished');
    expect(await shardsWithoutInsert()).toBeGreaterThan(0);
    await grantShardInserts('grantAfterRebalance');
    expect(await shardsWithoutInsert()).toBe(0);
    const whaleShards = await shardsOf(whale.id);
    for (const shard of whaleShards) expect(shard.alone, shard.table).toBe(true);
    console.info(
      `after the rebalance the whale is on port ${whaleShards[0]!.port} (moved there: ${to.port})`,
    );
    await insertAsWhale('after the rebalance');
    expect(await productCount(whaleOwner())).toBe(WHALE_PRODUCTS + 5);
    for (const tenant of small) {
      const theirs = { userId: tenant.users.owner, tenantId: tenant.id };
      await asUser(
        theirs,
        (db) => db.query("insert into app_public.products (name, price) values ('rebalanced', 4)"),
        {
          commit: true,
        },
      );
      expect(await productCount(theirs, whale.id)).toBe(0);
    }
    expect(await productCount({ userId: small[0]!.users.owner, tenantId: small[0]!.id })).toBe(3);
    expect(await productCount({ userId: small[1]!.users.owner, tenantId: small[1]!.id })).toBe(4);
  }, 120_000);

  // The fix for the above: a rebalance strategy that allows the whale's shards on one
  // worker only (docs/citus.md); the rebalancer then moves the whale there and keeps it.
  // The pins are rows of a coordinator-only table the strategy's function reads.
  test("a rebalance strategy that pins the whale's shards to one worker puts them there", async () => {
    await asSuperuser(async (db) => {
      await db.query('create schema whale_pins');
      await db.query('create table whale_pins.pins (shardid bigint primary key, nodeid int not null)');
      await db.query(
        `create function whale_pins.allowed(shardid bigint, nodeid int) returns boolean language sql stable
         as $$ select not exists (select 1 from whale_pins.pins p where p.shardid = $1 and p.nodeid <> $2) $$`,
      );
      await db.query(
        `insert into whale_pins.pins (shardid, nodeid)
         select s.shardid, n.nodeid
         from pg_dist_partition p
         join pg_dist_shard s on s.shardid = get_shard_id_for_distribution_column(p.logicalrelid, $1::uuid)
         join pg_dist_node n on n.nodename = $2 and n.nodeport = $3
         where p.partmethod = 'h'`,
        [whale.id, to.host, to.port],
      );
      await db.query(
        `select citus_add_rebalance_strategy('pin_whale', 'citus_shard_cost_1', 'citus_node_capacity_1',
                                             'whale_pins.allowed', 0.1)`,
      );
    });
    // So that the strategy has to move it: the whale elsewhere first, if the default rebalance left it.
    const now = (await shardsOf(whale.id))[0]!;
    if (now.port === to.port)
      await asSuperuser((db) =>
        db.query(
          `select citus_move_shard_placement($1::bigint, $2, $3, $4, $5, shard_transfer_mode => 'block_writes')`,
          [now.shardid, to.host, to.port, from.host, from.port],
        ),
      );
    await timed('pinnedRebalance', () =>
      asSuperuser(async (db) => {
        await db.query(
          `select citus_rebalance_start(rebalance_strategy => 'pin_whale', shard_transfer_mode => 'block_writes')`,
        );
        await db.query('select citus_rebalance_wait()');
      }),
    );
    for (const shard of await shardsOf(whale.id))
      expect(shard, shard.table).toMatchObject({ alone: true, port: to.port });
    await grantShardInserts('grantAfterPinnedRebalance');
    await insertAsWhale('pinned');
    expect(await productCount(whaleOwner())).toBe(WHALE_PRODUCTS + 6);
  }, 120_000);
});
