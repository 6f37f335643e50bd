--! Previous: sha1:5a8ac6eeb165fb162f3de90f7233ff7fb8e43067
--! Hash: sha1:c2395cca992461567534e92fc0dcd8d2b3384d88
--! Message: Request settings that reach Citus workers

-- A request's settings (role, claims, statement_timeout) in one call that is right on both
-- engines. On plain PostgreSQL: set_config(..., true), as before. On Citus, set_config
-- stays on the coordinator, and the policies, which run on the workers, would see no
-- claims; there each setting but the role is a `SET LOCAL`, which Citus sends to every
-- worker the transaction uses (citus.propagate_set_commands = 'local', set here for the
-- transaction). The role stays a set_config: Citus opens its worker connections as the
-- current role, so the workers run as the request role anyway (docs/citus.md: the worker
-- login rule). Set before any savepoint, the SETs reach connections opened later,
-- inside savepoints too.
create or replace function app_private.apply_request_settings(settings json)
  returns void
  language plpgsql
  -- No SET clause: a function's own SET would end the SET LOCALs with the function.
as $$
declare
  setting record;
  on_citus constant boolean := exists (select 1 from pg_catalog.pg_extension where extname = 'citus');
begin
  if on_citus then
    perform pg_catalog.set_config('citus.propagate_set_commands', 'local', true);
  end if;
  for setting in
    select el->>0 as name, el->>1 as value from pg_catalog.json_array_elements(settings) el
  loop
    if setting.name = 'role' then
      continue;
    elsif on_citus then
      -- The server quotes name and value (%I, %L): nothing is spliced on the client.
      execute pg_catalog.format('set local %I = %L', setting.name, setting.value);
    else
      perform pg_catalog.set_config(setting.name, setting.value, true);
    end if;
  end loop;
  -- The role last: the calling login keeps its rights until every setting is in place.
  perform pg_catalog.set_config(el->>0, el->>1, true)
    from pg_catalog.json_array_elements(settings) el where el->>0 = 'role';
end;
$$;
comment on function app_private.apply_request_settings(json) is 'Applies a request''s settings (a JSON array of [name, value] pairs) to the transaction: set_config on plain PostgreSQL, SET LOCAL (propagated to the workers) on Citus. Only the authenticator may call it, right after BEGIN.';
revoke all on function app_private.apply_request_settings(json) from public;
grant execute on function app_private.apply_request_settings(json) to :DATABASE_AUTHENTICATOR;
