--! Previous: sha1:f1199be9ed0eeba7cd4c7ff3a8244992d5e742ae
--! Hash: sha1:cc63d0f3a8dd569fa147d1905145ca4d487099e4
--! Message: create_product refuses a request in no tenant before inserting

-- create_product refuses a request that acts in no tenant with the code row level security
-- gives it on plain PostgreSQL (42501, FORBIDDEN in the API), before the insert. On Citus
-- the insert would fail first, on the coordinator, with "cannot perform an INSERT with
-- NULL in the partition column" (an internal error to the API): the tenant_id default is
-- NULL there, and row level security only runs on the shard.
create or replace function app_public.create_product(name text, price numeric, category_id uuid default null)
  returns app_public.products
  language plpgsql
as $$
declare
  v_product app_public.products;
begin
  if app_public.current_tenant_id() is null then
    raise exception 'new row violates row-level security policy for table "products"' using errcode = '42501';
  end if;
  insert into app_public.products (name, price, category_id)
    values (create_product.name, create_product.price, create_product.category_id)
    returning * into v_product;
  return v_product;
end;
$$;
