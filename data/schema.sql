-- The schemas app_public and app_private as the migrations leave them: written from the
-- catalogue by `npm run db:dump` (src/dba/schema-dump.ts), checked by
-- test/schema-dump.test.ts. Do not edit; role names are the migrations' placeholders.

create schema app_public;
comment on schema app_public is 'The tenantgraph API: each table and function here becomes part of the GraphQL schema.';
grant usage on schema app_public to :DATABASE_VISITOR;

create schema app_private;
comment on schema app_private is 'Internal helpers and triggers; never exposed through GraphQL, never granted to the request roles.';
grant usage on schema app_private to :DATABASE_AUTHENTICATOR;

create type app_public.deleted_tenant as (tenant_id uuid, slug text, requested_at timestamp with time zone);
comment on type app_public.deleted_tenant is 'A tenant whose deletion was accepted: it is closed now, and erased by a job within moments.';

create type app_public.invitation_preview as (tenant_name text, tenant_slug text, inviter text, role app_public.membership_role, email public.citext, expires_at timestamp with time zone);
comment on type app_public.invitation_preview is 'An invitation as its invitee sees it before answering.';

create type app_public.invitation_status as enum ('pending', 'accepted', 'declined', 'revoked');
comment on type app_public.invitation_status is 'Where an invitation stands. A pending invitation past its `expiresAt` can no longer be accepted; resend it.';
grant usage on type app_public.invitation_status to :DATABASE_VISITOR;

create type app_public.membership_role as enum ('owner', 'admin', 'member', 'viewer');
comment on type app_public.membership_role is 'What a member may do in a tenant: `viewer` reads; `member` also creates and updates; `admin` also deletes and manages members; `owner` also manages owners and the tenant itself.';
grant usage on type app_public.membership_role to :DATABASE_VISITOR;

create type app_public.new_api_key as (api_key_id uuid, name text, role app_public.membership_role, prefix text, expires_at timestamp with time zone, secret text);
comment on type app_public.new_api_key is 'A key just created, with its secret: shown this once, store it now.';
grant usage on type app_public.new_api_key to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_private.api_key_by_secret_hash(secret_hash bytea)
 RETURNS TABLE(tenant_id uuid, api_key_id uuid, role app_public.membership_role)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  return query
    with found as (
      select k.tenant_id, k.id, k.role, k.last_used_at
      from app_private.api_key_secrets s
      join app_public.api_keys k on k.tenant_id = s.tenant_id and k.id = s.api_key_id
      where s.secret_hash = api_key_by_secret_hash.secret_hash
        and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
    ), touched as (
      -- Last use to the minute: at most one write a minute per key.
      update app_public.api_keys k set last_used_at = now()
      from found f
      where k.tenant_id = f.tenant_id and k.id = f.id and (f.last_used_at is null or f.last_used_at < now() - interval '1 minute')
    )
    select f.tenant_id, f.id, f.role from found f;
end;
$function$;
comment on function app_private.api_key_by_secret_hash(bytea) is 'The usable (unrevoked, unexpired) key with this hash, if any, noting its use: how the API verifies `Authorization: Bearer <key>`.';
grant execute on function app_private.api_key_by_secret_hash(bytea) to :DATABASE_AUTHENTICATOR;

CREATE OR REPLACE FUNCTION app_private.apply_request_settings(settings json)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
declare
  setting record;
  on_citus constant boolean := exists (select 1 from pg_catalog.pg_extension where extname = 'citus');
begin
  if on_citus then
    perform pg_catalog.set_config('citus.propagate_set_commands', 'local', true);
    perform pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
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
  if on_citus then
    -- Before any write of the request (see app_private.tenant_access). Not propagated:
    -- the workers read their own shards.
    perform app_private.remember_tenant_access();
  end if;
  -- The role last: the calling login keeps its rights until every setting is in place.
  perform pg_catalog.set_config(el->>0, el->>1, true)
    from pg_catalog.json_array_elements(settings) el where el->>0 = 'role';
end;
$function$;
comment on function app_private.apply_request_settings(json) is 'Applies a request''s settings (a JSON array of [name, value] pairs) to the transaction: set_config on plain PostgreSQL, SET LOCAL (propagated to the workers) on Citus. Only the authenticator may call it, right after BEGIN.';
grant execute on function app_private.apply_request_settings(json) to :DATABASE_AUTHENTICATOR;

CREATE OR REPLACE FUNCTION app_private.citus_enabled()
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select exists (select 1 from pg_catalog.pg_extension where extname = 'citus')
$function$;
comment on function app_private.citus_enabled() is 'Whether this database runs on Citus (the citus extension is installed): the distribution helpers do nothing otherwise.';

CREATE OR REPLACE FUNCTION app_private.citus_grant_shard_inserts()
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  target regclass;
  failures text;
begin
  if not app_private.citus_enabled() then
    return;
  end if;
  for target in
    select distinct c.oid::regclass
    from pg_class c
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    where (c.relnamespace = 'app_public'::regnamespace
           or exists (select 1 from app_private.citus_tables t
                      where t.kind = 'distributed' and t.relation = c.oid::regclass::text))
      and a.attacl is not null
      and has_column_privilege('app_user', c.oid, a.attnum, 'INSERT')
      and exists (select 1 from pg_dist_partition p where p.logicalrelid = c.oid)
  loop
    select string_agg(r.result, '; ') into failures
    from run_command_on_shards(target, format('grant insert on %%s to %I', 'app_user')) r
    where not r.success;
    if failures is not null then
      raise exception 'granting INSERT on the shards of % failed: %', target, failures;
    end if;
  end loop;
end;
$function$;
comment on function app_private.citus_grant_shard_inserts() is 'On Citus, grants the request role INSERT on the shards of the tables it may insert into by column grants (the coordinator sends defaulted columns explicitly): those of app_public and every table in app_private.citus_tables. Does nothing on plain PostgreSQL. Run again after shards are split, moved or added, and after a new distributed table''s grants (db:new-table writes the call).';

CREATE OR REPLACE FUNCTION app_private.citus_local_shard(target regclass, tenant_id uuid)
 RETURNS regclass
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- get_shard_id_for_distribution_column and shard_name read Citus's metadata only.
  return to_regclass(shard_name(target, get_shard_id_for_distribution_column(target, tenant_id)));
end;
$function$;
comment on function app_private.citus_local_shard(regclass,uuid) is 'On Citus, the shard of a distributed table that holds this tenant''s rows, if it is on this node; NULL when it is elsewhere. Only called when the citus extension is installed.';

CREATE OR REPLACE FUNCTION app_private.citus_record(target regclass, kind text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  insert into app_private.citus_tables (relation, kind) values (target::text, kind)
    on conflict (relation) do update set kind = excluded.kind, recorded_at = now();
end;
$function$;
comment on function app_private.citus_record(regclass,text) is 'Records in app_private.citus_tables that a table is distributed or a reference table. Used by app_private.distribute and app_private.reference only.';

CREATE OR REPLACE FUNCTION app_private.citus_table_of_shard(shard name)
 RETURNS TABLE(table_name name, reference boolean)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- Shards are named <table>_<shard id>; tenantgraph's own tables never end in digits.
  if shard !~ '_[0-9]+$' or not app_private.citus_enabled() then
    return;
  end if;
  return query execute
    'select c.relname, p.partmethod = ''n''
     from pg_dist_shard s
     join pg_dist_partition p on p.logicalrelid = s.logicalrelid
     join pg_class c on c.oid = s.logicalrelid
     where s.shardid = $1'
    using substring(shard from '_([0-9]+)$')::bigint;
end;
$function$;
comment on function app_private.citus_table_of_shard(name) is 'On Citus, the table a shard (a trigger''s tg_table_name) belongs to and whether it is a reference table; no row for a table that is no shard, and always none on plain PostgreSQL.';

CREATE OR REPLACE FUNCTION app_private.citus_unwrap_policies(target regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  policy record;
  wrapper constant text := '\(\s*SELECT\s+([a-z_]+\.[a-z_]+\(\))\s+AS\s+[a-z_]+\)';
begin
  for policy in
    select p.polname,
           pg_get_expr(p.polqual, p.polrelid) as using_expression,
           pg_get_expr(p.polwithcheck, p.polrelid) as check_expression
    from pg_policy p
    where p.polrelid = target
  loop
    if policy.using_expression is not null then
      execute format('alter policy %I on %s using (%s)', policy.polname, target,
        regexp_replace(policy.using_expression, wrapper, '\1', 'gi'));
    end if;
    if policy.check_expression is not null then
      execute format('alter policy %I on %s with check (%s)', policy.polname, target,
        regexp_replace(policy.check_expression, wrapper, '\1', 'gi'));
    end if;
  end loop;
end;
$function$;
comment on function app_private.citus_unwrap_policies(regclass) is 'Rewrites the policies of a table about to be distributed so they call the helpers directly: Citus refuses `(select app_public.current_tenant_id())`. Used by app_private.distribute and app_private.reference only.';

CREATE OR REPLACE FUNCTION app_private.distribute(target regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform app_private.citus_record(target, 'distributed');
  if not app_private.citus_enabled() then
    return;
  end if;
  -- A migration writes reference and distributed tables in one transaction: Citus then
  -- needs one connection per node, not one per shard.
  perform set_config('citus.multi_shard_modify_mode', 'sequential', true);
  -- The audit, updated_at and ownership triggers run on the shards (docs/citus.md).
  perform set_config('citus.enable_unsafe_triggers', 'on', true);
  perform app_private.citus_unwrap_policies(target);
  -- All tenant tables in one co-location group: a tenant's rows of every table are on one
  -- worker, so joins, foreign keys and the policy helpers' look-ups stay on it.
  execute format('select create_distributed_table(%L, %L, colocate_with => %L)',
    target, 'tenant_id',
    case when target = 'app_public.memberships'::regclass then 'default' else 'app_public.memberships' end);
end;
$function$;
comment on function app_private.distribute(regclass) is 'On Citus, distributes a tenant table by tenant_id, co-located with app_public.memberships; on both engines, records it in app_private.citus_tables for the schema guard. Call it for every new tenant table, after its CREATE TABLE and before foreign keys to other tenant tables.';

CREATE OR REPLACE FUNCTION app_private.invitation_by_secret(secret text)
 RETURNS app_public.invitations
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_invitation app_public.invitations;
  v_email text := nullif(current_setting('app.current_user_email', true), '');
  v_hash bytea := sha256(convert_to(coalesce(invitation_by_secret.secret, ''), 'UTF8'));
  v_tenant uuid;
  v_id uuid;
begin
  if app_public.current_user_id() is null then
    raise exception 'Sign in to answer an invitation.' using errcode = 'TG401';
  end if;
  select s.tenant_id, s.invitation_id into v_tenant, v_id
    from app_private.invitation_secrets s
    where s.secret_hash = v_hash;
  if found then
    select i.* into v_invitation
      from app_public.invitations i
      where i.tenant_id = v_tenant and i.id = v_id
      for update;
  end if;
  if v_invitation.id is null or not exists (
    select 1 from app_private.invitation_secrets s
    where s.tenant_id = v_tenant and s.invitation_id = v_id and s.secret_hash = v_hash
  ) then
    raise exception 'No invitation has this secret; use the link from the newest invitation mail.' using errcode = 'TGI01';
  end if;
  if v_invitation.status = 'revoked' then
    raise exception 'This invitation was revoked.' using errcode = 'TGI02';
  end if;
  if v_invitation.status <> 'pending' then
    raise exception 'This invitation was already answered.' using errcode = 'TGI03';
  end if;
  if v_invitation.expires_at < now() then
    raise exception 'This invitation has expired; ask for it to be sent again.' using errcode = 'TGI04';
  end if;
  if v_email is null then
    raise exception 'Your sign-in has no verified email address; verify it with your identity provider and sign in again.' using errcode = 'TGI05';
  end if;
  -- citext's rule (lower-case both), spelled out: the search path here is pg_catalog only.
  if lower(v_email) <> lower(v_invitation.email::text) then
    raise exception 'This invitation was sent to another email address.' using errcode = 'TGI06';
  end if;
  return v_invitation;
end;
$function$;
comment on function app_private.invitation_by_secret(text) is 'The pending, unexpired invitation a secret opens for the signed-in user''s verified email, locked; else raises why not (TGI01..TGI06). Found in two steps (the secret, then its invitation locked) so that Citus runs it.';

CREATE OR REPLACE FUNCTION app_private.member_tenant_id(user_id uuid, tenant_id uuid)
 RETURNS uuid
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  return (
    select m.tenant_id
    from app_public.memberships m
    where m.tenant_id = member_tenant_id.tenant_id
      and m.user_id = member_tenant_id.user_id
  );
end;
$function$;
comment on function app_private.member_tenant_id(uuid,uuid) is 'tenant_id if user_id is a member of it, else NULL: how the API tells which tenant a request may be charged to and logged as. Data access never depends on it.';
grant execute on function app_private.member_tenant_id(uuid,uuid) to :DATABASE_AUTHENTICATOR;

CREATE OR REPLACE FUNCTION app_private.member_tenant_id_by_slug(user_id uuid, slug text)
 RETURNS uuid
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_tenant uuid;
begin
  -- The tenant by its slug first (a reference table on Citus), then the membership in
  -- that one tenant: on Citus a query for one tenant's shard.
  select t.id into v_tenant from app_public.tenants t where t.slug = member_tenant_id_by_slug.slug;
  if v_tenant is null then
    return null;
  end if;
  return (
    select m.tenant_id
    from app_public.memberships m
    where m.tenant_id = v_tenant
      and m.user_id = member_tenant_id_by_slug.user_id
  );
end;
$function$;
comment on function app_private.member_tenant_id_by_slug(uuid,text) is 'The id of the tenant with this slug if user_id is a member of it, else NULL: how the API reads `X-Tenant: <slug>`.';
grant execute on function app_private.member_tenant_id_by_slug(uuid,text) to :DATABASE_AUTHENTICATOR;

CREATE OR REPLACE FUNCTION app_private.queue_invitation_mail(tenant_id uuid, invitation_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  -- A resend's old link stops working now, not when the new mail goes out.
  delete from app_private.invitation_secrets s
    where s.tenant_id = queue_invitation_mail.tenant_id and s.invitation_id = queue_invitation_mail.invitation_id;
  -- One mail queued per invitation: a resend before the first mail went replaces it.
  perform graphile_worker.add_job(
    'send_invitation_email',
    json_build_object('tenantId', queue_invitation_mail.tenant_id, 'invitationId', queue_invitation_mail.invitation_id),
    max_attempts := 10,
    job_key := 'send_invitation_email:' || queue_invitation_mail.tenant_id || ':' || queue_invitation_mail.invitation_id
  );
end;
$function$;
comment on function app_private.queue_invitation_mail(uuid,uuid) is 'Withdraws an invitation''s secret, if any, and queues the mail that will carry a new one (graphile-worker job send_invitation_email, keyed by the invitation). The secret itself is made by the job when it sends: it never rests in the queue.';

CREATE OR REPLACE FUNCTION app_private.reference(target regclass)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  perform app_private.citus_record(target, 'reference');
  if not app_private.citus_enabled() then
    return;
  end if;
  perform set_config('citus.multi_shard_modify_mode', 'sequential', true);
  perform set_config('citus.enable_unsafe_triggers', 'on', true);
  perform app_private.citus_unwrap_policies(target);
  execute format('select create_reference_table(%L)', target);
end;
$function$;
comment on function app_private.reference(regclass) is 'On Citus, makes a global table (one without tenant_id) a reference table, copied to every node; on both engines, records it in app_private.citus_tables. Does nothing else on plain PostgreSQL.';

CREATE OR REPLACE FUNCTION app_private.remember_tenant_access()
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  access record;
begin
  -- Whatever app.tenant_access held before is not trusted: computed afresh here.
  perform set_config('app.tenant_access', '', true);
  select * into access from app_private.tenant_access();
  perform set_config('app.tenant_access', jsonb_build_object(
    'tenant', app_private.uuid_setting('app.current_tenant_id'),
    'user', app_private.uuid_setting('app.current_user_id'),
    'key', app_private.uuid_setting('app.current_api_key_id'),
    'tenant_id', access.tenant_id,
    'role', access.role)::text, true);
end;
$function$;
comment on function app_private.remember_tenant_access() is 'On Citus, keeps the request''s tenant and role (app_private.tenant_access) in the transaction-local app.tenant_access, for the coordinator''s helpers after the request has written. Called by apply_request_settings before the role switch. SECURITY DEFINER to read memberships and keys, which the authenticator may not.';
grant execute on function app_private.remember_tenant_access() to :DATABASE_AUTHENTICATOR;

CREATE OR REPLACE FUNCTION app_private.tenant_access(OUT tenant_id uuid, OUT role app_public.membership_role)
 RETURNS record
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_tenant uuid := app_private.uuid_setting('app.current_tenant_id');
  v_user uuid := app_private.uuid_setting('app.current_user_id');
  v_key uuid := app_private.uuid_setting('app.current_api_key_id');
  v_shard regclass;
  v_cached jsonb;
begin
  if v_tenant is null then
    return;
  end if;
  if app_private.citus_enabled() then
    v_shard := app_private.citus_local_shard(
      case when v_key is not null then 'app_public.api_keys' else 'app_public.memberships' end, v_tenant);
    if v_shard is null and not citus_is_coordinator() then
      return; -- a worker without the tenant's shards holds none of its rows
    end if;
    if v_shard is not null then
      if v_key is not null then
        execute format(
          'select k.tenant_id, k.role from %s k where k.id = $1 and k.tenant_id = $2 and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())',
          v_shard) into tenant_id, role using v_key, v_tenant;
      else
        execute format('select m.tenant_id, m.role from %s m where m.tenant_id = $1 and m.user_id = $2', v_shard)
          into tenant_id, role using v_tenant, v_user;
      end if;
      return;
    end if;
    -- The coordinator: the answer of apply_request_settings, if the settings are still those.
    v_cached := nullif(current_setting('app.tenant_access', true), '')::jsonb;
    if v_cached is not null
       and v_cached ->> 'tenant' = v_tenant::text
       and v_cached ->> 'user' is not distinct from v_user::text
       and v_cached ->> 'key' is not distinct from v_key::text then
      tenant_id := (v_cached ->> 'tenant_id')::uuid;
      role := (v_cached ->> 'role')::app_public.membership_role;
      return;
    end if;
  end if;
  -- A key must still be usable, so a revocation counts at the next statement.
  if v_key is not null then
    select k.tenant_id, k.role into tenant_id, role
    from app_public.api_keys k
    where k.id = v_key and k.tenant_id = v_tenant
      and k.revoked_at is null and (k.expires_at is null or k.expires_at > now());
    return;
  end if;
  -- The tenant claim counts only if the user really is a member: a token naming
  -- someone else's tenant selects nothing.
  select m.tenant_id, m.role into tenant_id, role
  from app_public.memberships m
  where m.tenant_id = v_tenant and m.user_id = v_user;
end;
$function$;
comment on function app_private.tenant_access() is 'The tenant the request acts in and its role there, from the settings: the API key''s (if usable) or the user''s membership; NULLs otherwise. On Citus a worker reads the co-located shard, and the coordinator answers from app.tenant_access, set by apply_request_settings (docs/citus.md). SECURITY DEFINER to read memberships and keys whatever the caller''s role.';

CREATE OR REPLACE FUNCTION app_private.tenant_slugs(ids uuid[])
 RETURNS TABLE(id uuid, slug text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  return query select t.id, t.slug from app_public.tenants t where t.id = any (tenant_slugs.ids);
end;
$function$;
comment on function app_private.tenant_slugs(uuid[]) is 'The slug of each of these tenants (those that still exist): how the operators'' admin endpoint (/admin/tenants/top) names the tenants it lists.';
grant execute on function app_private.tenant_slugs(uuid[]) to :DATABASE_AUTHENTICATOR;

CREATE OR REPLACE FUNCTION app_private.tg__audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_changes jsonb;
  v_key jsonb;
  v_user uuid := app_private.uuid_setting('app.current_user_id');
  v_api_key uuid := app_private.uuid_setting('app.current_api_key_id');
  v_table name := tg_table_name;
  v_shard record;
begin
  select * into v_shard from app_private.citus_table_of_shard(tg_table_name);
  if found then
    -- A reference table's row changes on every node: record it once, from the coordinator.
    if v_shard.reference and not citus_is_coordinator() then
      return null;
    end if;
    v_table := v_shard.table_name;
  end if;
  select coalesce(jsonb_object_agg(c.key, case
           when c.key = any(tg_argv) then '{"hidden": true}'::jsonb
           when tg_op = 'INSERT' then jsonb_build_object('new', v_new -> c.key)
           when tg_op = 'DELETE' then jsonb_build_object('old', v_old -> c.key)
           else jsonb_build_object('old', v_old -> c.key, 'new', v_new -> c.key)
         end), '{}')
    into v_changes
    from jsonb_object_keys(v_row) as c(key)
    where tg_op <> 'UPDATE' or (v_old -> c.key) is distinct from (v_new -> c.key);
  if v_changes = '{}' then
    return null; -- an update that changed nothing
  end if;
  select jsonb_object_agg(a.attname, v_row -> a.attname::text) into v_key
    from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
    where i.indrelid = tg_relid and i.indisprimary;
  insert into app_public.audit_events (tenant_id, actor_kind, actor_user_id, actor_api_key_id, request_id, operation, table_name, row_key, changes)
  values (
    -- A tenant's own row is keyed by id; every other tenant table by tenant_id.
    coalesce((v_row ->> 'tenant_id')::uuid, case when v_table = 'tenants' then (v_row ->> 'id')::uuid end),
    case when v_api_key is not null then 'api_key' when v_user is not null then 'user' else 'system' end,
    v_user,
    v_api_key,
    nullif(current_setting('app.request_id', true), ''),
    lower(tg_op),
    v_table,
    v_key,
    v_changes
  );
  return null;
end;
$function$;
comment on function app_private.tg__audit() is 'Trigger: records the row change in app_public.audit_events. Attach AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW; pass the names of columns to keep out of the trail as arguments. On Citus it names the table, not the shard, and records a reference table''s change once.';

CREATE OR REPLACE FUNCTION app_private.tg__notify_changes()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_rows jsonb;
begin
  -- On a Citus shard: no listener is there, and a NOTIFY would stop a transaction over
  -- several nodes from committing (docs/citus.md).
  -- Inline, not app_private.citus_table_of_shard: this trigger runs as the request's
  -- role, which may not use app_private. Shards are named <table>_<shard id>.
  if tg_table_name ~ '_[0-9]+$' and exists (select 1 from pg_extension where extname = 'citus') then
    return null;
  end if;
  -- Only the transition tables of the statement's own operation exist.
  if tg_op = 'DELETE' then
    select coalesce(jsonb_agg(to_jsonb(r)), '[]') into v_rows from old_rows r;
  else
    select coalesce(jsonb_agg(to_jsonb(r)), '[]') into v_rows from new_rows r;
  end if;
  perform pg_notify(
    'tenantgraph:' || tg_argv[0] || ':' || c.channel_key,
    jsonb_build_object('table', tg_table_name, 'op', lower(tg_op), 'rows', c.keys)::text
  )
  from (
    select k.channel_key, jsonb_agg(k.key order by k.n) as keys
    from (
      select
        r.value ->> tg_argv[1] as channel_key,
        jsonb_strip_nulls(jsonb_build_object('tenant_id', r.value -> 'tenant_id', 'id', r.value -> 'id', 'user_id', r.value -> 'user_id')) as key,
        r.n,
        (row_number() over (partition by r.value ->> tg_argv[1] order by r.n) - 1) / 50 as chunk
      from jsonb_array_elements(v_rows) with ordinality as r(value, n)
    ) k
    group by k.channel_key, k.chunk
    order by min(k.n)
  ) c;
  return null;
end;
$function$;
comment on function app_private.tg__notify_changes() is 'Trigger: announces the statement''s changed rows with pg_notify on the channel `tenantgraph:<tg_argv[0]>:<the row''s tg_argv[1] column>`, 50 keys (tenant_id, id, user_id) at most per notification, never row data. Attach AFTER INSERT, UPDATE and DELETE FOR EACH STATEMENT, with REFERENCING NEW TABLE AS new_rows (insert, update) and OLD TABLE AS old_rows (delete). Quiet on Citus shards (realtime on Citus is still to come).';

CREATE OR REPLACE FUNCTION app_private.tg__set_updated_at()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  new.updated_at := now();
  return new;
end;
$function$;
comment on function app_private.tg__set_updated_at() is 'Trigger: sets updated_at to the transaction time. Attach as BEFORE UPDATE FOR EACH ROW.';

CREATE OR REPLACE FUNCTION app_private.tg_api_keys__revoke_when_creator_is_gone()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if new.created_by is null and new.revoked_at is null then
    new.revoked_at := now();
  end if;
  return new;
end;
$function$;
comment on function app_private.tg_api_keys__revoke_when_creator_is_gone() is 'Trigger: a key whose creator''s account is deleted (created_by set to null) is revoked.';

CREATE OR REPLACE FUNCTION app_private.tg_categories__clear_products()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  update app_public.products set category_id = null
    where tenant_id = old.tenant_id and category_id = old.id;
  return old;
end;
$function$;
comment on function app_private.tg_categories__clear_products() is 'Trigger: a deleted category''s products keep existing without a category. SECURITY DEFINER because a foreign key''s own action ignores row level security too: whoever may delete the category clears the reference, even on products their role could not update.';

CREATE OR REPLACE FUNCTION app_private.tg_memberships__api_keys_follow_their_creator()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  if tg_op = 'DELETE' then
    update app_public.api_keys set revoked_at = now()
      where tenant_id = old.tenant_id and created_by = old.user_id and revoked_at is null;
    return old;
  end if;
  -- Roles sort owner < admin < member < viewer: a key above its creator's new role comes down to it.
  update app_public.api_keys set role = new.role
    where tenant_id = new.tenant_id and created_by = new.user_id and role < new.role;
  return new;
end;
$function$;
comment on function app_private.tg_memberships__api_keys_follow_their_creator() is 'Trigger: when a member leaves a tenant their API keys there are revoked; when demoted, their keys act no higher than their new role.';

CREATE OR REPLACE FUNCTION app_private.tg_memberships__keep_an_owner()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_tenant_exists boolean;
begin
  if old.role <> 'owner' or (tg_op = 'UPDATE' and new.role = 'owner') then
    return coalesce(new, old);
  end if;
  if exists (select 1 from app_private.tenant_erasures e where e.erased_tenant_id = old.tenant_id and e.erased_at is null) then
    return coalesce(new, old);
  end if;
  -- One change to a tenant's owners at a time: two owners demoting each other at once
  -- would otherwise each see the other and leave none. A tenant already deleted (its
  -- memberships going with it) has nothing to lock and nothing to keep.
  if exists (select 1 from app_private.citus_table_of_shard(tg_table_name)) then
    perform pg_advisory_xact_lock(hashtextextended('tenantgraph:owners:' || old.tenant_id::text, 0));
    v_tenant_exists := exists (select 1 from app_public.tenants where id = old.tenant_id);
  else
    perform 1 from app_public.tenants where id = old.tenant_id for update;
    v_tenant_exists := found;
  end if;
  if v_tenant_exists and not exists (
    select 1 from app_public.memberships
    where tenant_id = old.tenant_id and role = 'owner' and user_id <> old.user_id
  ) then
    raise exception 'A tenant needs an owner: make someone else owner first (transferOwnership), or delete the tenant.'
      using errcode = 'TGO01';
  end if;
  return coalesce(new, old);
end;
$function$;
comment on function app_private.tg_memberships__keep_an_owner() is 'Trigger: refuses to demote, remove or let leave the last owner of a tenant (SQLSTATE TGO01).';

CREATE OR REPLACE FUNCTION app_private.uuid_setting(name text)
 RETURNS uuid
 LANGUAGE sql
 STABLE
AS $function$
  select case
    when pg_catalog.current_setting(name, true) operator(pg_catalog.~*) '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then pg_catalog.current_setting(name, true)::uuid
  end
$function$;
comment on function app_private.uuid_setting(text) is 'The transaction-local setting `name` as a uuid, or NULL when it is unset or not a uuid.';

CREATE OR REPLACE FUNCTION app_public."current_user"()
 RETURNS app_public.users
 LANGUAGE sql
 STABLE
AS $function$
  select * from app_public.users where id = app_public.current_user_id()
$function$;
comment on function app_public."current_user"() is 'The signed-in user, or null if the request has no token or the user has no account yet.';
grant execute on function app_public."current_user"() to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.accept_invitation(secret text)
 RETURNS app_public.memberships
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_invitation app_public.invitations := app_private.invitation_by_secret(accept_invitation.secret);
  v_user_id uuid := app_public.current_user_id();
  v_email text := current_setting('app.current_user_email', true);
  v_membership app_public.memberships;
begin
  -- The user's first tenant: their account starts here. The verified address becomes
  -- theirs unless another account has it already (then they keep none, and learn nothing).
  begin
    insert into app_public.users (id, email) values (v_user_id, v_email) on conflict (id) do nothing;
  exception when unique_violation then
    insert into app_public.users (id) values (v_user_id) on conflict (id) do nothing;
  end;
  insert into app_public.memberships (tenant_id, user_id, role)
    values (v_invitation.tenant_id, v_user_id, v_invitation.role)
    on conflict (tenant_id, user_id) do nothing
    returning * into v_membership;
  if not found then
    raise exception 'You are already a member of this tenant.' using errcode = 'TGI07';
  end if;
  update app_public.invitations set status = 'accepted', responded_at = now()
    where tenant_id = v_invitation.tenant_id and id = v_invitation.id;
  return v_membership;
end;
$function$;
comment on function app_public.accept_invitation(text) is '@resultFieldName membership
Accepts the invitation whose secret you received by mail: you join its tenant in its role. Your token''s verified email must be the address invited. Then switch to the tenant with the `X-Tenant` header.';
grant execute on function app_public.accept_invitation(text) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.create_api_key(name text, role app_public.membership_role DEFAULT 'member'::app_public.membership_role, expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS app_public.new_api_key
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_caller_role app_public.membership_role := app_public.current_tenant_role();
  v_secret text := 'tgk_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
  v_key app_public.api_keys;
begin
  -- A person, owner or admin of the tenant: keys do not make keys.
  if app_public.current_user_id() is null or v_caller_role is null or v_caller_role not in ('owner', 'admin') then
    raise exception 'Only owners and admins of the current tenant may create API keys.' using errcode = 'TG403';
  end if;
  if create_api_key.role < v_caller_role or create_api_key.role = 'owner' then
    raise exception 'A key may act with a role up to your own, and at most admin.' using errcode = 'TGR01';
  end if;
  if create_api_key.expires_at is not null and create_api_key.expires_at <= now() then
    raise exception 'The expiry must be in the future.' using errcode = 'P0001';
  end if;
  insert into app_public.api_keys (tenant_id, name, role, prefix, created_by, expires_at)
    values (app_public.current_tenant_id(), create_api_key.name, create_api_key.role, left(v_secret, 12), app_public.current_user_id(), create_api_key.expires_at)
    returning * into v_key;
  insert into app_private.api_key_secrets (tenant_id, api_key_id, secret_hash)
    values (v_key.tenant_id, v_key.id, sha256(convert_to(v_secret, 'UTF8')));
  return row(v_key.id, v_key.name, v_key.role, v_key.prefix, v_key.expires_at, v_secret)::app_public.new_api_key;
end;
$function$;
comment on function app_public.create_api_key(text,app_public.membership_role,timestamp with time zone) is '@resultFieldName apiKey
Creates an API key for the current tenant (owners and admins), acting with a role up to your own and at most admin, until `expiresAt` if given. The secret is in the result, this once: it is never shown again.';
grant execute on function app_public.create_api_key(text,app_public.membership_role,timestamp with time zone) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.create_product(name text, price numeric, category_id uuid DEFAULT NULL::uuid)
 RETURNS app_public.products
 LANGUAGE sql
AS $function$
  -- The check is a value of the insert (Citus plans no INSERT … SELECT … WHERE here), and
  -- the insert's VALUES are evaluated before any row is written.
  insert into app_public.products (name, price, category_id)
  values (
    case when app_public.require_tenant('products') then create_product.name end,
    create_product.price,
    create_product.category_id
  )
  returning *
$function$;
comment on function app_public.create_product(text,numeric,uuid) is '@resultFieldName product
Creates a product in the current tenant. Needs the `member` role or higher; the category, if given, must be one of the tenant''s own.';
grant execute on function app_public.create_product(text,numeric,uuid) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.create_tenant(name text, slug text)
 RETURNS app_public.tenants
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_user_id uuid := app_public.current_user_id();
  v_tenant app_public.tenants;
begin
  if v_user_id is null then
    raise exception 'Sign in to create a tenant.' using errcode = 'TG401';
  end if;

  begin
    insert into app_public.users (id, email)
      values (v_user_id, nullif(current_setting('app.current_user_email', true), ''))
      on conflict (id) do nothing;
  exception when unique_violation then
    insert into app_public.users (id) values (v_user_id) on conflict (id) do nothing;
  end;

  insert into app_public.tenants (name, slug)
    values (create_tenant.name, create_tenant.slug)
    returning * into v_tenant;

  insert into app_public.memberships (tenant_id, user_id, role)
    values (v_tenant.id, v_user_id, 'owner');

  return v_tenant;
end;
$function$;
comment on function app_public.create_tenant(text,text) is '@resultFieldName tenant
Creates a tenant with the signed-in user as its owner. The slug must be unique. Then act in it with the header `X-Tenant: <slug>` (or a token whose tenant claim is its id).';
grant execute on function app_public.create_tenant(text,text) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.current_memberships()
 RETURNS SETOF app_public.memberships
 LANGUAGE plpgsql
 STABLE
AS $function$
begin
  return query select * from app_public.memberships where user_id = app_public.current_user_id();
end;
$function$;
comment on function app_public.current_memberships() is 'The signed-in user''s memberships in every tenant: the tenants they can switch to.';
grant execute on function app_public.current_memberships() to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.current_tenant()
 RETURNS app_public.tenants
 LANGUAGE sql
 STABLE
AS $function$
  select * from app_public.tenants where id = app_public.current_tenant_id()
$function$;
comment on function app_public.current_tenant() is 'The tenant this request acts in (the token''s tenant claim, if the user is a member of it), or null.';
grant execute on function app_public.current_tenant() to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.current_tenant_id()
 RETURNS uuid
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  return (select a.tenant_id from app_private.tenant_access() a);
end;
$function$;
comment on function app_public.current_tenant_id() is '@behavior -queryField
The tenant this request acts in: the token''s tenant claim if the user is a member of it, else NULL.';
grant execute on function app_public.current_tenant_id() to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.current_tenant_role()
 RETURNS app_public.membership_role
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  return (select a.role from app_private.tenant_access() a);
end;
$function$;
comment on function app_public.current_tenant_role() is '@behavior -queryField
The current user''s role in the current tenant, or NULL.';
grant execute on function app_public.current_tenant_role() to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.current_user_id()
 RETURNS uuid
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
begin
  return app_private.uuid_setting('app.current_user_id');
end;
$function$;
comment on function app_public.current_user_id() is '@behavior -queryField
The signed-in user''s id (the verified JWT `sub`), or NULL for an anonymous request.';
grant execute on function app_public.current_user_id() to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.decline_invitation(secret text)
 RETURNS app_public.invitations
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_invitation app_public.invitations := app_private.invitation_by_secret(decline_invitation.secret);
begin
  update app_public.invitations set status = 'declined', responded_at = now()
    where tenant_id = v_invitation.tenant_id and id = v_invitation.id
    returning * into v_invitation;
  return v_invitation;
end;
$function$;
comment on function app_public.decline_invitation(text) is '@resultFieldName invitation
Declines the invitation whose secret you received by mail; its link stops working. Your token''s verified email must be the address invited.';
grant execute on function app_public.decline_invitation(text) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.delete_current_user()
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_user_id uuid := app_public.current_user_id();
  v_sole text;
begin
  if v_user_id is null or app_private.uuid_setting('app.current_api_key_id') is not null then
    raise exception 'Sign in as the person whose account this is.' using errcode = 'TG401';
  end if;
  select string_agg(t.slug, ', ' order by t.slug) into v_sole
    from app_public.memberships m join app_public.tenants t on t.id = m.tenant_id
    where m.user_id = v_user_id and m.role = 'owner'
      and not exists (select 1 from app_public.memberships o where o.tenant_id = m.tenant_id and o.role = 'owner' and o.user_id <> v_user_id);
  if v_sole is not null then
    raise exception 'You are the only owner of %: make another member owner (transferOwnership) or delete the tenant (deleteTenant) first.', v_sole
      using errcode = 'TGO02';
  end if;
  -- Memberships go with the account (on delete cascade); references elsewhere become null.
  delete from app_public.users where id = v_user_id;
  return found;
end;
$function$;
comment on function app_public.delete_current_user() is '@resultFieldName deleted
Deletes your own account and your memberships. Refused while you are the only owner of a tenant: hand it over or delete it first. Audit events keep the id of who did what (no name, no address) until AUDIT_RETENTION_DAYS.';
grant execute on function app_public.delete_current_user() to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.delete_tenant(confirm_slug text)
 RETURNS app_public.deleted_tenant
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_tenant app_public.tenants;
  v_user_ids uuid[];
begin
  if app_public.current_user_id() is null or app_public.current_tenant_role() is distinct from 'owner' then
    raise exception 'Only an owner of the current tenant may delete it.' using errcode = 'TG403';
  end if;
  select * into v_tenant from app_public.tenants where id = app_public.current_tenant_id() for update;
  if delete_tenant.confirm_slug is distinct from v_tenant.slug then
    raise exception 'To delete the tenant, type its slug (%) as confirmSlug.', v_tenant.slug using errcode = 'TGD01';
  end if;
  select coalesce(array_agg(m.user_id), '{}') into v_user_ids from app_public.memberships m where m.tenant_id = v_tenant.id;
  insert into app_private.tenant_erasures (erased_tenant_id, user_ids) values (v_tenant.id, v_user_ids);
  -- Closed at once: nobody acts in it any more, no key works, no invitation opens it.
  update app_public.api_keys set revoked_at = now() where tenant_id = v_tenant.id and revoked_at is null;
  update app_public.invitations set status = 'revoked', responded_at = now() where tenant_id = v_tenant.id and status = 'pending';
  delete from app_public.memberships where tenant_id = v_tenant.id;
  perform graphile_worker.add_job('erase_tenant', json_build_object('tenantId', v_tenant.id), max_attempts := 10, job_key := 'erase_tenant:' || v_tenant.id);
  return row(v_tenant.id, v_tenant.slug, now())::app_public.deleted_tenant;
end;
$function$;
comment on function app_public.delete_tenant(text) is '@resultFieldName deletedTenant
Deletes the current tenant (owners only; type its slug as `confirmSlug`): it closes at once, and a job erases every row of it, and every member who belongs to no other tenant. Its audit trail is kept, pseudonymised, for OFFBOARDED_AUDIT_RETENTION_DAYS. Export it first if you want a copy.';
grant execute on function app_public.delete_tenant(text) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.invitation_preview(secret text)
 RETURNS app_public.invitation_preview
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_invitation app_public.invitations;
  v_email text := nullif(current_setting('app.current_user_email', true), '');
  v_preview app_public.invitation_preview;
begin
  if app_public.current_user_id() is null then
    raise exception 'Sign in to see an invitation.' using errcode = 'TG401';
  end if;
  select i.* into v_invitation
    from app_private.invitation_secrets s
    join app_public.invitations i on i.tenant_id = s.tenant_id and i.id = s.invitation_id
    where s.secret_hash = sha256(convert_to(coalesce(invitation_preview.secret, ''), 'UTF8'));
  if not found then
    raise exception 'No invitation has this secret; use the link from the newest invitation mail.' using errcode = 'TGI01';
  end if;
  -- Whose it is, before anything about it: someone else's link tells nothing more.
  if v_email is null then
    raise exception 'Your sign-in has no verified email address; verify it with your identity provider and sign in again.' using errcode = 'TGI05';
  end if;
  if lower(v_email) <> lower(v_invitation.email::text) then
    raise exception 'This invitation was sent to another email address.' using errcode = 'TGI06';
  end if;
  if v_invitation.status = 'revoked' then
    raise exception 'This invitation was revoked.' using errcode = 'TGI02';
  end if;
  if v_invitation.status <> 'pending' then
    raise exception 'This invitation was already answered.' using errcode = 'TGI03';
  end if;
  if v_invitation.expires_at < now() then
    raise exception 'This invitation has expired; ask for it to be sent again.' using errcode = 'TGI04';
  end if;
  select t.name, t.slug, coalesce(u.display_name, u.email::text), v_invitation.role, v_invitation.email, v_invitation.expires_at
    into v_preview
    from app_public.tenants t
    left join app_public.users u on u.id = v_invitation.invited_by
    where t.id = v_invitation.tenant_id;
  return v_preview;
end;
$function$;
comment on function app_public.invitation_preview(text) is 'The invitation whose secret you received by mail: tenant, inviter, role and expiry, so you can decide before `acceptInvitation` or `declineInvitation`; looking answers nothing. Only for the address invited (your token''s verified email). SECURITY DEFINER: the secrets and the tenant are out of your reach until you are a member.';
grant execute on function app_public.invitation_preview(text) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.invite_member(email public.citext, role app_public.membership_role DEFAULT 'member'::app_public.membership_role)
 RETURNS app_public.invitations
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_caller_role app_public.membership_role := app_public.current_tenant_role();
  v_invitation app_public.invitations;
begin
  if v_tenant_id is null or v_caller_role not in ('owner', 'admin') then
    raise exception 'Only owners and admins of the current tenant may invite.' using errcode = 'TG403';
  end if;
  -- The enum runs owner < admin < member < viewer: nobody grants more than they hold.
  if invite_member.role < v_caller_role then
    raise exception 'You may invite with a role up to your own (%).', v_caller_role using errcode = 'TGR01';
  end if;
  insert into app_public.invitations (tenant_id, email, role, invited_by, expires_at)
    values (v_tenant_id, invite_member.email, invite_member.role, app_public.current_user_id(), now() + interval '7 days')
    returning * into v_invitation;
  perform app_private.queue_invitation_mail(v_invitation.tenant_id, v_invitation.id);
  return v_invitation;
end;
$function$;
comment on function app_public.invite_member(public.citext,app_public.membership_role) is '@resultFieldName invitation
Invites an email address into the current tenant with a role no higher than your own (owners and admins only). The invitee gets a mail with a secret link, valid for 7 days.';
grant execute on function app_public.invite_member(public.citext,app_public.membership_role) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.is_fellow_member(user_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_tenant uuid := app_public.current_tenant_id();
  v_shard regclass;
  v_found boolean;
begin
  if v_tenant is null or user_id is null then
    return false;
  end if;
  if app_private.citus_enabled() then
    v_shard := app_private.citus_local_shard('app_public.memberships', v_tenant);
    if v_shard is not null then
      execute format('select exists (select 1 from %s m where m.tenant_id = $1 and m.user_id = $2)', v_shard)
        into v_found using v_tenant, user_id;
      return v_found;
    elsif not citus_is_coordinator() then
      return false;
    end if;
  end if;
  return exists (
    select 1 from app_public.memberships m
    where m.tenant_id = v_tenant and m.user_id = is_fellow_member.user_id
  );
end;
$function$;
comment on function app_public.is_fellow_member(uuid) is '@behavior -queryField
Whether the user is a member of the tenant the request acts in: the users policy on Citus, where policies may not hold sub-selects. SECURITY DEFINER to read memberships whatever the caller''s role.';
grant execute on function app_public.is_fellow_member(uuid) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.is_member_of(tenant_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_user uuid := app_private.uuid_setting('app.current_user_id');
  v_shard regclass;
  v_found boolean;
begin
  if tenant_id is null or v_user is null then
    return false;
  end if;
  if app_private.citus_enabled() then
    v_shard := app_private.citus_local_shard('app_public.memberships', tenant_id);
    if v_shard is not null then
      execute format('select exists (select 1 from %s m where m.tenant_id = $1 and m.user_id = $2)', v_shard)
        into v_found using tenant_id, v_user;
      return v_found;
    elsif not citus_is_coordinator() then
      return false; -- not this worker's tenant: the coordinator answers for it
    end if;
  end if;
  return exists (
    select 1 from app_public.memberships m
    where m.tenant_id = is_member_of.tenant_id and m.user_id = v_user
  );
end;
$function$;
comment on function app_public.is_member_of(uuid) is '@behavior -queryField
Whether the signed-in user is a member of the tenant: the tenants policy on Citus, where policies may not hold sub-selects. SECURITY DEFINER to read memberships whatever the caller''s role.';
grant execute on function app_public.is_member_of(uuid) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.request_tenant_export()
 RETURNS app_public.tenant_exports
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_export app_public.tenant_exports;
begin
  -- A person who owns the tenant; not an API key (keys act at most as admin anyway).
  if app_public.current_user_id() is null or app_public.current_tenant_role() is distinct from 'owner' then
    raise exception 'Only an owner of the current tenant may export it.' using errcode = 'TG403';
  end if;
  if exists (select 1 from app_public.tenant_exports e where e.tenant_id = app_public.current_tenant_id() and e.status in ('pending', 'running')) then
    raise exception 'An export of this tenant is already queued or running: wait for it (tenantExports).' using errcode = '23505';
  end if;
  insert into app_public.tenant_exports (tenant_id, requested_by)
    values (app_public.current_tenant_id(), app_public.current_user_id())
    returning * into v_export;
  perform graphile_worker.add_job(
    'export_tenant',
    json_build_object('tenantId', v_export.tenant_id, 'exportId', v_export.id),
    max_attempts := 3
  );
  return v_export;
end;
$function$;
comment on function app_public.request_tenant_export() is '@resultFieldName tenantExport
Exports the current tenant (owners only): returns at once with `status: pending`; poll `tenantExports` until it is `ready`, then download `GET /exports/<rowId>`.';
grant execute on function app_public.request_tenant_export() to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.require_tenant(table_name text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if app_public.current_tenant_id() is null then
    raise exception 'new row violates row-level security policy for table "%"', require_tenant.table_name
      using errcode = '42501';
  end if;
  return true;
end;
$function$;
comment on function app_public.require_tenant(text) is '@behavior -queryField
True, or refuses (42501, as row level security would) a request that acts in no tenant, before a write to `table_name`: on Citus an insert with no tenant fails first on the coordinator, with an internal error (docs/citus.md).';
grant execute on function app_public.require_tenant(text) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.resend_invitation(invitation_id uuid)
 RETURNS app_public.invitations
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_invitation app_public.invitations;
begin
  update app_public.invitations i
    set expires_at = now() + interval '7 days', invited_by = app_public.current_user_id()
    where i.tenant_id = app_public.current_tenant_id() and i.id = resend_invitation.invitation_id
      and i.status = 'pending' and app_public.current_tenant_role() in ('owner', 'admin')
      and i.role >= app_public.current_tenant_role()
    returning * into v_invitation;
  if not found then
    raise exception 'No pending invitation you may resend has this id.' using errcode = 'TG404';
  end if;
  perform app_private.queue_invitation_mail(v_invitation.tenant_id, v_invitation.id);
  return v_invitation;
end;
$function$;
comment on function app_public.resend_invitation(uuid) is '@resultFieldName invitation
Sends a pending invitation again with a new secret, valid for 7 more days; the old link stops working (owners and admins).';
grant execute on function app_public.resend_invitation(uuid) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.revoke_api_key(api_key_id uuid)
 RETURNS app_public.api_keys
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_key app_public.api_keys;
begin
  update app_public.api_keys k set revoked_at = now()
    where k.tenant_id = app_public.current_tenant_id() and k.id = revoke_api_key.api_key_id and k.revoked_at is null
      and app_public.current_user_id() is not null and app_public.current_tenant_role() in ('owner', 'admin')
      and k.role >= app_public.current_tenant_role()
    returning * into v_key;
  if not found then
    raise exception 'No API key you may revoke has this id.' using errcode = 'TG404';
  end if;
  return v_key;
end;
$function$;
comment on function app_public.revoke_api_key(uuid) is '@resultFieldName apiKey
Revokes an API key of the current tenant (owners and admins): it stops working within API_KEY_CACHE_SECONDS.';
grant execute on function app_public.revoke_api_key(uuid) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.revoke_invitation(invitation_id uuid)
 RETURNS app_public.invitations
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_invitation app_public.invitations;
begin
  update app_public.invitations i
    set status = 'revoked', responded_at = now()
    where i.tenant_id = app_public.current_tenant_id() and i.id = revoke_invitation.invitation_id
      and i.status = 'pending' and app_public.current_tenant_role() in ('owner', 'admin')
      and i.role >= app_public.current_tenant_role()
    returning * into v_invitation;
  if not found then
    raise exception 'No pending invitation you may revoke has this id.' using errcode = 'TG404';
  end if;
  return v_invitation;
end;
$function$;
comment on function app_public.revoke_invitation(uuid) is '@resultFieldName invitation
Revokes a pending invitation of the current tenant (owners and admins): its link stops working.';
grant execute on function app_public.revoke_invitation(uuid) to :DATABASE_VISITOR;

CREATE OR REPLACE FUNCTION app_public.transfer_ownership(to_user_id uuid)
 RETURNS app_public.memberships
 LANGUAGE plpgsql
AS $function$
declare
  v_membership app_public.memberships;
begin
  if app_public.current_tenant_role() is distinct from 'owner' then
    raise exception 'Only an owner can hand over ownership.' using errcode = 'TG403';
  end if;
  update app_public.memberships set role = 'owner'
    where tenant_id = app_public.current_tenant_id() and user_id = transfer_ownership.to_user_id
    returning * into v_membership;
  if not found then
    raise exception 'That user is not a member of this tenant: invite them first.' using errcode = 'TG404';
  end if;
  if transfer_ownership.to_user_id <> app_public.current_user_id() then
    update app_public.memberships set role = 'admin'
      where tenant_id = app_public.current_tenant_id() and user_id = app_public.current_user_id();
  end if;
  return v_membership;
end;
$function$;
comment on function app_public.transfer_ownership(uuid) is '@resultFieldName membership
Makes another member of the current tenant its owner and you an admin, in one step (owners only). To share ownership instead, update their membership''s role to owner.';
grant execute on function app_public.transfer_ownership(uuid) to :DATABASE_VISITOR;

create table app_private.api_key_secrets (
  tenant_id uuid not null,
  api_key_id uuid not null,
  secret_hash bytea not null
);
alter table app_private.api_key_secrets add constraint api_key_secrets_pkey PRIMARY KEY (tenant_id, api_key_id);
alter table app_private.api_key_secrets add constraint api_key_secrets_tenant_id_api_key_id_fkey FOREIGN KEY (tenant_id, api_key_id) REFERENCES app_public.api_keys(tenant_id, id) ON DELETE CASCADE;
CREATE INDEX api_key_secrets_secret_hash_idx ON app_private.api_key_secrets USING btree (secret_hash);
alter table app_private.api_key_secrets enable row level security;
alter table app_private.api_key_secrets force row level security;
create policy none_for_requests on app_private.api_key_secrets for all
  using (false);
comment on table app_private.api_key_secrets is '@tenantExport omit
SHA-256 of each API key. A key is 244 random bits, so a fast hash is enough. (Credentials never travel in an export: create new keys after an import.)';

create table app_private.citus_tables (
  relation text not null,
  kind text not null,
  recorded_at timestamp with time zone default now() not null
);
alter table app_private.citus_tables add constraint citus_tables_pkey PRIMARY KEY (relation);
alter table app_private.citus_tables add constraint citus_tables_kind_check CHECK ((kind = ANY (ARRAY['distributed'::text, 'reference'::text])));
alter table app_private.citus_tables enable row level security;
alter table app_private.citus_tables force row level security;
create policy none_for_requests on app_private.citus_tables for all
  using (false);
comment on table app_private.citus_tables is 'Every table the migrations passed to app_private.distribute or app_private.reference, schema-qualified, on plain PostgreSQL too: the schema guard''s list of tables that Citus will distribute (citus_not_distributed). Not a tenant table; requests never read it.';
comment on column app_private.citus_tables.relation is 'The table, schema-qualified as regclass prints it with search_path pg_catalog.';
comment on column app_private.citus_tables.kind is 'distributed (by tenant_id, co-located with memberships) or reference (a copy on every node).';
comment on column app_private.citus_tables.recorded_at is 'When a migration last passed the table to distribute() or reference().';
comment on policy none_for_requests on app_private.citus_tables is 'Requests never read or write the list; migrations run as the owner.';

create table app_private.invitation_secrets (
  tenant_id uuid not null,
  invitation_id uuid not null,
  secret_hash bytea not null
);
alter table app_private.invitation_secrets add constraint invitation_secrets_pkey PRIMARY KEY (tenant_id, invitation_id);
alter table app_private.invitation_secrets add constraint invitation_secrets_tenant_id_invitation_id_fkey FOREIGN KEY (tenant_id, invitation_id) REFERENCES app_public.invitations(tenant_id, id) ON DELETE CASCADE;
CREATE INDEX invitation_secrets_secret_hash_idx ON app_private.invitation_secrets USING btree (secret_hash);
alter table app_private.invitation_secrets enable row level security;
alter table app_private.invitation_secrets force row level security;
create policy none_for_requests on app_private.invitation_secrets for all
  using (false);
comment on table app_private.invitation_secrets is '@tenantExport omit
SHA-256 of each invitation''s secret, written by the mail job (send_invitation_email) in the transaction that sends the mail; the secret itself is in the mail only. The secret is 256 random bits, so a fast hash is enough. (Credentials never travel in an export: resend pending invitations after an import.)';

create table app_private.tenant_erasures (
  erased_tenant_id uuid not null,
  requested_at timestamp with time zone default now() not null,
  erased_at timestamp with time zone,
  user_ids uuid[],
  user_id_hashes bytea[],
  retained_until timestamp with time zone
);
alter table app_private.tenant_erasures add constraint tenant_erasures_pkey PRIMARY KEY (erased_tenant_id);
alter table app_private.tenant_erasures enable row level security;
alter table app_private.tenant_erasures force row level security;
create policy none_for_requests on app_private.tenant_erasures for all
  using (false);
comment on table app_private.tenant_erasures is 'One row per off-boarded tenant: when it was asked for and done, the SHA-256 of the ids of the people removed with it, and until when its audit events are kept (pseudonymised). Deleted with those events.';
comment on column app_private.tenant_erasures.user_ids is 'The members at the time of the request, until the erasure job has run.';
comment on column app_private.tenant_erasures.user_id_hashes is 'SHA-256 of each removed user''s id (as text): npm run tenant:verify-erased scans for them.';
comment on column app_private.tenant_erasures.retained_until is 'The tenant''s audit events (pseudonymised) and this row are deleted after this.';

create table app_public.api_keys (
  tenant_id uuid default app_public.current_tenant_id() not null,
  id uuid default gen_random_uuid() not null,
  name text not null,
  role app_public.membership_role not null,
  prefix text not null,
  created_by uuid,
  created_at timestamp with time zone default now() not null,
  expires_at timestamp with time zone,
  revoked_at timestamp with time zone,
  last_used_at timestamp with time zone
);
alter table app_public.api_keys add constraint api_keys_pkey PRIMARY KEY (tenant_id, id);
alter table app_public.api_keys add constraint api_keys_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100)));
alter table app_public.api_keys add constraint api_keys_role_check CHECK ((role <> 'owner'::app_public.membership_role));
alter table app_public.api_keys add constraint api_keys_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;
alter table app_public.api_keys add constraint api_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;
CREATE INDEX api_keys_created_by_idx ON app_public.api_keys USING btree (created_by);
CREATE INDEX api_keys_tenant_id_created_at_idx ON app_public.api_keys USING btree (tenant_id, created_at);
CREATE TRIGGER _100_revoke_when_creator_is_gone BEFORE UPDATE OF created_by ON app_public.api_keys FOR EACH ROW EXECUTE FUNCTION app_private.tg_api_keys__revoke_when_creator_is_gone();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE OF name, role, expires_at, revoked_at ON app_public.api_keys FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();
alter table app_public.api_keys enable row level security;
alter table app_public.api_keys force row level security;
create policy select_by_admin on app_public.api_keys for select
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role]))));
comment on table app_public.api_keys is '@behavior -insert -update -delete
A credential for the tenant''s scripts and integrations: requests with `Authorization: Bearer <key>` act in this tenant with this role. Create with `createApiKey` (the secret is shown once), end with `revokeApiKey`. Visible to owners and admins.';
comment on column app_public.api_keys.tenant_id is '@behavior -insert -update
The tenant the key acts in.';
comment on column app_public.api_keys.id is 'The key''s id, unique within its tenant.';
comment on column app_public.api_keys.name is 'What the key is for, e.g. "nightly export".';
comment on column app_public.api_keys.role is 'The role the key acts with: at most `admin`, and no higher than its creator''s (a demotion brings it down).';
comment on column app_public.api_keys.prefix is 'The first characters of the key, to tell keys apart; the rest is never stored.';
comment on column app_public.api_keys.created_by is 'Who created the key (and was shown its secret). The key acts no higher than their role in the tenant, and is revoked when they leave it.';
comment on column app_public.api_keys.created_at is 'When the key was created.';
comment on column app_public.api_keys.expires_at is 'After this, the key no longer works; none: until revoked.';
comment on column app_public.api_keys.revoked_at is 'When the key was revoked; a revoked key no longer works.';
comment on column app_public.api_keys.last_used_at is 'When the key was last used (to the minute).';
comment on constraint api_keys_role_check on app_public.api_keys is 'An API key acts at most as an admin.';
grant select on table app_public.api_keys to :DATABASE_VISITOR;

create table app_public.audit_events (
  tenant_id uuid not null,
  id bigint generated always as identity not null,
  occurred_at timestamp with time zone default now() not null,
  actor_kind text not null,
  actor_user_id uuid,
  actor_api_key_id uuid,
  request_id text,
  operation text not null,
  table_name text not null,
  row_key jsonb not null,
  changes jsonb not null
);
alter table app_public.audit_events add constraint audit_events_pkey PRIMARY KEY (tenant_id, id);
alter table app_public.audit_events add constraint audit_events_actor_kind_check CHECK ((actor_kind = ANY (ARRAY['user'::text, 'api_key'::text, 'system'::text])));
alter table app_public.audit_events add constraint audit_events_operation_check CHECK ((operation = ANY (ARRAY['insert'::text, 'update'::text, 'delete'::text])));
CREATE INDEX audit_events_occurred_at_idx ON app_public.audit_events USING btree (occurred_at);
CREATE INDEX audit_events_tenant_id_actor_api_key_id_idx ON app_public.audit_events USING btree (tenant_id, actor_api_key_id, id);
CREATE INDEX audit_events_tenant_id_actor_user_id_idx ON app_public.audit_events USING btree (tenant_id, actor_user_id, id);
CREATE INDEX audit_events_tenant_id_occurred_at_idx ON app_public.audit_events USING btree (tenant_id, occurred_at);
CREATE INDEX audit_events_tenant_id_operation_idx ON app_public.audit_events USING btree (tenant_id, operation, id);
CREATE INDEX audit_events_tenant_id_table_name_idx ON app_public.audit_events USING btree (tenant_id, table_name, id);
alter table app_public.audit_events enable row level security;
alter table app_public.audit_events force row level security;
create policy select_by_admin on app_public.audit_events for select
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role]))));
comment on table app_public.audit_events is '@behavior -insert -update -delete
@tenantExport history
Who changed what in the tenant: one event per inserted, updated or deleted row, written by the database itself. Owners and admins read them; nobody can change them. Newest first: `orderBy: ID_DESC`.';
comment on column app_public.audit_events.tenant_id is '@behavior -insert -update
The tenant whose row changed.';
comment on column app_public.audit_events.id is 'Increases with every event: ordering by it is ordering by time.';
comment on column app_public.audit_events.occurred_at is 'When the transaction that made the change began.';
comment on column app_public.audit_events.actor_kind is 'Who made the change: `user` (a person''s token), `api_key`, or `system` (migrations, jobs, operators).';
comment on column app_public.audit_events.actor_user_id is 'The user who made the change, when it was a person.';
comment on column app_public.audit_events.actor_api_key_id is 'The API key that made the change, when it was a machine client.';
comment on column app_public.audit_events.request_id is 'The request id (the X-Request-Id header and the request log''s id) the change came with.';
comment on column app_public.audit_events.operation is '`insert`, `update` or `delete`.';
comment on column app_public.audit_events.table_name is 'The table whose row changed, e.g. `products`.';
comment on column app_public.audit_events.row_key is 'The changed row''s primary key, as a JSON object.';
comment on column app_public.audit_events.changes is 'The changed columns: `{"column": {"old": …, "new": …}}` (inserts have only `new`, deletes only `old`); columns the table keeps secret show `{"hidden": true}`.';
grant select on table app_public.audit_events to :DATABASE_VISITOR;

create table app_public.categories (
  tenant_id uuid default app_public.current_tenant_id() not null,
  id uuid default gen_random_uuid() not null,
  name text not null,
  created_at timestamp with time zone default now() not null
);
alter table app_public.categories add constraint categories_pkey PRIMARY KEY (tenant_id, id);
alter table app_public.categories add constraint categories_tenant_id_name_key UNIQUE (tenant_id, name);
alter table app_public.categories add constraint categories_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)));
alter table app_public.categories add constraint categories_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;
CREATE INDEX categories_tenant_id_created_at_idx ON app_public.categories USING btree (tenant_id, created_at);
CREATE TRIGGER _100_clear_products BEFORE DELETE ON app_public.categories FOR EACH ROW EXECUTE FUNCTION app_private.tg_categories__clear_products();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.categories FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();
CREATE TRIGGER _950_notify_delete AFTER DELETE ON app_public.categories REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__notify_changes('tenant', 'tenant_id');
CREATE TRIGGER _950_notify_insert AFTER INSERT ON app_public.categories REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__notify_changes('tenant', 'tenant_id');
CREATE TRIGGER _950_notify_update AFTER UPDATE ON app_public.categories REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__notify_changes('tenant', 'tenant_id');
alter table app_public.categories enable row level security;
alter table app_public.categories force row level security;
create policy delete_by_admin on app_public.categories for delete
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role]))));
create policy insert_by_member on app_public.categories for insert
  with check (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role, 'member'::app_public.membership_role]))));
create policy select_own_tenant on app_public.categories for select
  using ((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)));
create policy update_by_member on app_public.categories for update
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role, 'member'::app_public.membership_role]))))
  with check ((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)));
comment on table app_public.categories is 'A grouping of a tenant''s products. Names are unique within a tenant.';
comment on column app_public.categories.tenant_id is '@behavior -insert -update
The tenant the category belongs to; always the tenant of the request that created it.';
comment on column app_public.categories.id is 'The category''s id, unique within its tenant.';
comment on column app_public.categories.name is 'The category''s name, unique within the tenant.';
comment on column app_public.categories.created_at is 'When the category was created.';
comment on constraint categories_tenant_id_name_key on app_public.categories is 'A tenant cannot have two categories with the same name.';
grant select, insert (name), update (name), delete on table app_public.categories to :DATABASE_VISITOR;

create table app_public.invitations (
  tenant_id uuid default app_public.current_tenant_id() not null,
  id uuid default gen_random_uuid() not null,
  email public.citext not null,
  role app_public.membership_role not null,
  status app_public.invitation_status default 'pending'::app_public.invitation_status not null,
  invited_by uuid,
  created_at timestamp with time zone default now() not null,
  expires_at timestamp with time zone not null,
  responded_at timestamp with time zone
);
alter table app_public.invitations add constraint invitations_pkey PRIMARY KEY (tenant_id, id);
alter table app_public.invitations add constraint invitations_email_check CHECK ((email OPERATOR(public.~) '^[^@[:space:]]+@[^@[:space:]]+$'::public.citext));
alter table app_public.invitations add constraint invitations_invited_by_fkey FOREIGN KEY (invited_by) REFERENCES app_public.users(id) ON DELETE SET NULL;
alter table app_public.invitations add constraint invitations_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;
CREATE INDEX invitations_invited_by_idx ON app_public.invitations USING btree (invited_by);
CREATE UNIQUE INDEX invitations_one_pending_per_email ON app_public.invitations USING btree (tenant_id, email) WHERE (status = 'pending'::app_public.invitation_status);
CREATE INDEX invitations_tenant_id_created_at_idx ON app_public.invitations USING btree (tenant_id, created_at);
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.invitations FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();
alter table app_public.invitations enable row level security;
alter table app_public.invitations force row level security;
create policy select_by_admin on app_public.invitations for select
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role]))));
comment on table app_public.invitations is '@behavior -insert -update -delete
An invitation to join a tenant, sent by email. Create with `inviteMember`; manage with `revokeInvitation` and `resendInvitation`. Visible to the tenant''s owners and admins.';
comment on column app_public.invitations.tenant_id is '@behavior -insert -update
The tenant the invitee is invited into.';
comment on column app_public.invitations.id is 'The invitation''s id, unique within its tenant.';
comment on column app_public.invitations.email is 'The address invited: only a user whose identity provider verified this address may accept.';
comment on column app_public.invitations.role is 'The role the invitee gets on accepting.';
comment on column app_public.invitations.status is 'Pending, accepted, declined or revoked.';
comment on column app_public.invitations.invited_by is 'Who sent (or last resent) the invitation.';
comment on column app_public.invitations.created_at is 'When the invitation was first sent.';
comment on column app_public.invitations.expires_at is 'After this, the invitation can no longer be accepted.';
comment on column app_public.invitations.responded_at is 'When it was accepted, declined or revoked.';
comment on constraint invitations_email_check on app_public.invitations is 'That is not an email address.';
grant select on table app_public.invitations to :DATABASE_VISITOR;

create table app_public.memberships (
  tenant_id uuid default app_public.current_tenant_id() not null,
  user_id uuid not null,
  role app_public.membership_role default 'member'::app_public.membership_role not null,
  created_at timestamp with time zone default now() not null
);
alter table app_public.memberships add constraint memberships_pkey PRIMARY KEY (tenant_id, user_id);
alter table app_public.memberships add constraint memberships_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;
alter table app_public.memberships add constraint memberships_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;
CREATE INDEX memberships_user_id_idx ON app_public.memberships USING btree (user_id);
CREATE TRIGGER _200_keep_an_owner BEFORE DELETE OR UPDATE OF role ON app_public.memberships FOR EACH ROW EXECUTE FUNCTION app_private.tg_memberships__keep_an_owner();
CREATE TRIGGER _300_api_keys_follow_their_creator AFTER DELETE OR UPDATE OF role ON app_public.memberships FOR EACH ROW EXECUTE FUNCTION app_private.tg_memberships__api_keys_follow_their_creator();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.memberships FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();
CREATE TRIGGER _950_notify_delete AFTER DELETE ON app_public.memberships REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__notify_changes('user', 'user_id');
CREATE TRIGGER _950_notify_insert AFTER INSERT ON app_public.memberships REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__notify_changes('user', 'user_id');
CREATE TRIGGER _950_notify_update AFTER UPDATE ON app_public.memberships REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__notify_changes('user', 'user_id');
alter table app_public.memberships enable row level security;
alter table app_public.memberships force row level security;
create policy delete_by_admin on app_public.memberships for delete
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role])) AND ((role <> 'owner'::app_public.membership_role) OR (( SELECT app_public.current_tenant_role() AS current_tenant_role) = 'owner'::app_public.membership_role))));
create policy delete_self on app_public.memberships for delete
  using ((user_id = ( SELECT app_public.current_user_id() AS current_user_id)));
create policy select_own_tenant_or_self on app_public.memberships for select
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) OR (user_id = ( SELECT app_public.current_user_id() AS current_user_id))));
create policy update_by_admin on app_public.memberships for update
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role])) AND ((role <> 'owner'::app_public.membership_role) OR (( SELECT app_public.current_tenant_role() AS current_tenant_role) = 'owner'::app_public.membership_role))))
  with check (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND ((role <> 'owner'::app_public.membership_role) OR (( SELECT app_public.current_tenant_role() AS current_tenant_role) = 'owner'::app_public.membership_role))));
comment on table app_public.memberships is '@behavior -insert
Who belongs to which tenant, and in which role. People join by accepting an invitation (`acceptInvitation`) or by creating a tenant; members leave by deleting their own membership.';
comment on column app_public.memberships.tenant_id is '@behavior -insert -update
The tenant.';
comment on column app_public.memberships.user_id is 'The member.';
comment on column app_public.memberships.role is 'What the member may do in the tenant.';
comment on column app_public.memberships.created_at is 'When the user joined the tenant.';
grant select, update (role), delete on table app_public.memberships to :DATABASE_VISITOR;

create table app_public.products (
  tenant_id uuid default app_public.current_tenant_id() not null,
  id uuid default gen_random_uuid() not null,
  category_id uuid,
  name text not null,
  price numeric(10,2) not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null
);
alter table app_public.products add constraint products_pkey PRIMARY KEY (tenant_id, id);
alter table app_public.products add constraint products_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)));
alter table app_public.products add constraint products_price_check CHECK (((price >= (0)::numeric) AND (price <> 'NaN'::numeric)));
alter table app_public.products add constraint products_tenant_id_category_id_fkey FOREIGN KEY (tenant_id, category_id) REFERENCES app_public.categories(tenant_id, id);
alter table app_public.products add constraint products_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;
CREATE INDEX products_tenant_id_category_id_idx ON app_public.products USING btree (tenant_id, category_id);
CREATE INDEX products_tenant_id_created_at_idx ON app_public.products USING btree (tenant_id, created_at);
CREATE INDEX products_tenant_id_name_idx ON app_public.products USING btree (tenant_id, name);
CREATE INDEX products_tenant_id_price_idx ON app_public.products USING btree (tenant_id, price);
CREATE TRIGGER _100_set_updated_at BEFORE UPDATE ON app_public.products FOR EACH ROW EXECUTE FUNCTION app_private.tg__set_updated_at();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.products FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();
CREATE TRIGGER _950_notify_delete AFTER DELETE ON app_public.products REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__notify_changes('tenant', 'tenant_id');
CREATE TRIGGER _950_notify_insert AFTER INSERT ON app_public.products REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__notify_changes('tenant', 'tenant_id');
CREATE TRIGGER _950_notify_update AFTER UPDATE ON app_public.products REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__notify_changes('tenant', 'tenant_id');
alter table app_public.products enable row level security;
alter table app_public.products force row level security;
create policy delete_by_admin on app_public.products for delete
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role]))));
create policy insert_by_member on app_public.products for insert
  with check (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role, 'member'::app_public.membership_role]))));
create policy select_own_tenant on app_public.products for select
  using ((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)));
create policy update_by_member on app_public.products for update
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = ANY (ARRAY['owner'::app_public.membership_role, 'admin'::app_public.membership_role, 'member'::app_public.membership_role]))))
  with check ((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)));
comment on table app_public.products is '@behavior -insert
Something a tenant sells. Create products with `createProduct`.';
comment on column app_public.products.tenant_id is '@behavior -insert -update
The tenant the product belongs to; always the tenant of the request that created it.';
comment on column app_public.products.id is 'The product''s id, unique within its tenant.';
comment on column app_public.products.category_id is 'The product''s category, if any: one of the same tenant''s categories.';
comment on column app_public.products.name is 'The product''s name, 1 to 200 characters.';
comment on column app_public.products.price is 'The price, at least 0 and below 100,000,000, with two decimal places.';
comment on column app_public.products.created_at is 'When the product was created.';
comment on column app_public.products.updated_at is 'When the product was last changed.';
comment on constraint products_price_check on app_public.products is 'A price must be a number of at least 0.';
comment on constraint products_tenant_id_category_id_fkey on app_public.products is '@foreignFieldName products
@fieldName category
The product''s category, always one of the same tenant''s.';
grant select, insert (category_id, name, price), update (category_id, name, price), delete on table app_public.products to :DATABASE_VISITOR;

create table app_public.tenant_exports (
  tenant_id uuid default app_public.current_tenant_id() not null,
  id uuid default gen_random_uuid() not null,
  requested_by uuid,
  status text default 'pending'::text not null,
  created_at timestamp with time zone default now() not null,
  finished_at timestamp with time zone,
  expires_at timestamp with time zone,
  byte_size bigint,
  sha256 text,
  row_counts jsonb,
  error text
);
alter table app_public.tenant_exports add constraint tenant_exports_pkey PRIMARY KEY (tenant_id, id);
alter table app_public.tenant_exports add constraint tenant_exports_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, 'ready'::text, 'failed'::text, 'expired'::text])));
alter table app_public.tenant_exports add constraint tenant_exports_requested_by_fkey FOREIGN KEY (requested_by) REFERENCES app_public.users(id) ON DELETE SET NULL;
alter table app_public.tenant_exports add constraint tenant_exports_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;
CREATE INDEX tenant_exports_expires_at_idx ON app_public.tenant_exports USING btree (expires_at) WHERE (status = 'ready'::text);
CREATE UNIQUE INDEX tenant_exports_one_open_per_tenant ON app_public.tenant_exports USING btree (tenant_id) WHERE (status = ANY (ARRAY['pending'::text, 'running'::text]));
CREATE INDEX tenant_exports_requested_by_idx ON app_public.tenant_exports USING btree (requested_by);
CREATE INDEX tenant_exports_tenant_id_created_at_idx ON app_public.tenant_exports USING btree (tenant_id, created_at);
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.tenant_exports FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();
alter table app_public.tenant_exports enable row level security;
alter table app_public.tenant_exports force row level security;
create policy select_by_owner on app_public.tenant_exports for select
  using (((tenant_id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = 'owner'::app_public.membership_role)));
comment on table app_public.tenant_exports is '@behavior -insert -update -delete
@tenantExport omit
An export of the tenant''s data, requested by an owner with `requestTenantExport`: a job writes the archive; when `status` is `ready`, download it from `GET /exports/<rowId>` with the same Authorization header until `expiresAt`. Visible to owners. (Not itself exported: it describes files on this server.)';
comment on column app_public.tenant_exports.tenant_id is '@behavior -insert -update
The tenant exported.';
comment on column app_public.tenant_exports.id is 'The export''s id; the download is `GET /exports/<id>`.';
comment on column app_public.tenant_exports.requested_by is 'The owner who asked for it.';
comment on column app_public.tenant_exports.status is '`pending` (queued), `running`, `ready` (download it), `failed` (see `error`), or `expired` (the file is gone).';
comment on column app_public.tenant_exports.created_at is 'When it was requested.';
comment on column app_public.tenant_exports.finished_at is 'When the archive was written, or the job gave up.';
comment on column app_public.tenant_exports.expires_at is 'After this the archive is deleted and can no longer be downloaded (EXPORT_TTL_HOURS).';
comment on column app_public.tenant_exports.byte_size is 'The archive''s size in bytes.';
comment on column app_public.tenant_exports.sha256 is 'The SHA-256 of the archive, hex: compare it after downloading.';
comment on column app_public.tenant_exports.row_counts is 'Rows exported per table, as in the archive''s manifest.';
comment on column app_public.tenant_exports.error is 'Why the export failed, when it did.';
comment on constraint tenant_exports_status_check on app_public.tenant_exports is 'Not a status of an export.';
comment on index app_public.tenant_exports_one_open_per_tenant is 'An export of this tenant is already queued or running: wait for it.';
grant select on table app_public.tenant_exports to :DATABASE_VISITOR;

create table app_public.tenants (
  id uuid default gen_random_uuid() not null,
  slug text not null,
  name text not null,
  settings jsonb default '{}'::jsonb not null,
  created_at timestamp with time zone default now() not null
);
alter table app_public.tenants add constraint tenants_pkey PRIMARY KEY (id);
alter table app_public.tenants add constraint tenants_slug_key UNIQUE (slug);
alter table app_public.tenants add constraint tenants_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)));
alter table app_public.tenants add constraint tenants_settings_check CHECK ((jsonb_typeof(settings) = 'object'::text));
alter table app_public.tenants add constraint tenants_slug_check CHECK ((slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'::text));
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.tenants FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit();
alter table app_public.tenants enable row level security;
alter table app_public.tenants force row level security;
create policy delete_by_owner on app_public.tenants for delete
  using (((id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = 'owner'::app_public.membership_role)));
create policy select_if_member_or_current on app_public.tenants for select
  using (((id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) OR (id IN ( SELECT m.tenant_id
   FROM app_public.memberships m
  WHERE (m.user_id = ( SELECT app_public.current_user_id() AS current_user_id))))));
create policy update_by_owner on app_public.tenants for update
  using (((id = ( SELECT app_public.current_tenant_id() AS current_tenant_id)) AND (( SELECT app_public.current_tenant_role() AS current_tenant_role) = 'owner'::app_public.membership_role)));
comment on table app_public.tenants is '@behavior -insert -delete
An organisation using the product. Every row of tenant data belongs to exactly one tenant. Owners delete it with `deleteTenant`.';
comment on column app_public.tenants.slug is 'A short, URL-safe, globally unique name: lower-case letters, digits and inner hyphens, at most 63 characters.';
comment on column app_public.tenants.name is 'The tenant''s display name.';
comment on column app_public.tenants.settings is 'Free-form tenant preferences, a JSON object.';
comment on column app_public.tenants.created_at is 'When the tenant was created.';
grant select, update (name, settings), delete on table app_public.tenants to :DATABASE_VISITOR;

create table app_public.users (
  id uuid not null,
  email public.citext,
  display_name text,
  created_at timestamp with time zone default now() not null
);
alter table app_public.users add constraint users_pkey PRIMARY KEY (id);
alter table app_public.users add constraint users_email_key UNIQUE (email);
alter table app_public.users add constraint users_display_name_check CHECK (((length(display_name) >= 1) AND (length(display_name) <= 200)));
alter table app_public.users add constraint users_email_check CHECK ((email OPERATOR(public.~) '^[^@[:space:]]+@[^@[:space:]]+$'::public.citext));
alter table app_public.users enable row level security;
alter table app_public.users force row level security;
create policy select_self_or_fellow_member on app_public.users for select
  using (((id = ( SELECT app_public.current_user_id() AS current_user_id)) OR (id IN ( SELECT m.user_id
   FROM app_public.memberships m))));
create policy update_self on app_public.users for update
  using ((id = ( SELECT app_public.current_user_id() AS current_user_id)));
comment on table app_public.users is '@behavior -insert -delete
A person who signs in. Their id is the `sub` of the JWT their identity provider issues.';
comment on column app_public.users.id is 'The `sub` claim of the user''s JWT.';
comment on column app_public.users.email is 'The user''s email address as their identity provider verified it, unique without regard to case; none if unverified or held by another account.';
comment on column app_public.users.display_name is 'How the user is shown to the other members of their tenants.';
comment on column app_public.users.created_at is 'When the user first created or joined a tenant.';
grant select, update (display_name) on table app_public.users to :DATABASE_VISITOR;
