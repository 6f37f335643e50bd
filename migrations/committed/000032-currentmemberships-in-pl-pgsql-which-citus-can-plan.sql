--! Previous: sha1:9382ec1c8819bdf89edd76ee1d00d544c7657610
--! Hash: sha1:f1199be9ed0eeba7cd4c7ff3a8244992d5e742ae
--! Message: currentMemberships in PL/pgSQL, which Citus can plan

-- currentMemberships in PL/pgSQL: Citus cannot plan the inlined SQL function's query
-- ("parameterized queries for SQL functions referencing distributed tables are not
-- supported"). The same rows, through the same policies (it runs as the caller); a
-- user's memberships are few, so losing the inlining costs nothing that shows.
create or replace function app_public.current_memberships()
  returns setof app_public.memberships
  language plpgsql
  stable
as $$
begin
  return query select * from app_public.memberships where user_id = app_public.current_user_id();
end;
$$;
