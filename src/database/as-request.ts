// One transaction as a request's identity, outside GraphQL (export downloads, the
// subscriber's tenant look-up), with its settings applied the way PostGraphile applies
// them: transaction-local, in the one statement @dataplan/pg sends.
import type pg from 'pg';

/** Applies request settings (role, claims) to the client's open transaction. */
export async function applyRequestSettings(
  client: pg.ClientBase,
  settings: Record<string, string>,
): Promise<void> {
  await client.query('select set_config(el->>0, el->>1, true) from json_array_elements($1::json) el', [
    JSON.stringify(Object.entries(settings)),
  ]);
}

/** Runs `fn` in a transaction on a pooled connection as the settings say; nothing outlives it. */
export async function asRequest<T>(
  pool: pg.Pool,
  settings: Record<string, string>,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await applyRequestSettings(client, settings);
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
