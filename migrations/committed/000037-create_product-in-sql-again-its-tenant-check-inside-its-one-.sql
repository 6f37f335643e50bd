--! Previous: sha1:6ee689042d52894456320d83d9338e337e56a4f3
--! Hash: sha1:67ccc19ae94bd5f3f3abf4052612e32700595064
--! Message: create_product in SQL again, its tenant check inside its one statement

-- create_product in SQL again, with migration 000033's refusal of a request in no tenant
-- inside its one statement, before any row is written. A PL/pgSQL function (and a SQL
-- function of two statements) checks the row it returns against the table as it is when it
-- runs; a query planned before a concurrent `alter table products add column` committed
-- expects the old row, and the call failed ("Returned row contains 8 attributes, but query
-- expects 7": test/live-migration.test.ts, a column added while clients create products).
-- A one-statement SQL function's row is fitted to the row the calling query expects, as
-- before 000033 (checked here with a concurrent ALTER for each form).
drop function if exists app_public.require_tenant(text);
create function app_public.require_tenant(table_name text) returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if app_public.current_tenant_id() is null then
    raise exception 'new row violates row-level security policy for table "%"', require_tenant.table_name
      using errcode = '42501';
  end if;
  return true;
end;
$$;
comment on function app_public.require_tenant(text) is E'@behavior -queryField\nTrue, or refuses (42501, as row level security would) a request that acts in no tenant, before a write to `table_name`: on Citus an insert with no tenant fails first on the coordinator, with an internal error (docs/citus.md).';
grant execute on function app_public.require_tenant(text) to :DATABASE_VISITOR;

create or replace function app_public.create_product(name text, price numeric, category_id uuid default null)
  returns app_public.products
  language sql volatile
as $$
  -- The check is a value of the insert (Citus plans no INSERT … SELECT … WHERE here), and
  -- the insert's VALUES are evaluated before any row is written.
  insert into app_public.products (name, price, category_id)
  values (
    case when app_public.require_tenant('products') then create_product.name end,
    create_product.price,
    create_product.category_id
  )
  returning *
$$;
