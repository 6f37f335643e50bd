--! Previous: sha1:7ddc2a3c6d84383f7fb270ab8a49cdaa7515ab9b
--! Hash: sha1:7d4e0ed2f56e4cea3654d96080230787ccb28293
--! Message: products and create_product

-- Products, and create_product: the way the API creates them.
drop function if exists app_public.create_product(text, numeric, uuid);
drop table if exists app_public.products cascade;

create table app_public.products (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants on delete cascade,
  id uuid not null default gen_random_uuid(),
  category_id uuid,
  name text not null check (length(name) between 1 and 200),
  price numeric(10, 2) not null check (price >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  -- tenant_id is part of the key, so a product can only reference its own tenant's
  -- categories; deleting a category leaves its products uncategorised.
  foreign key (tenant_id, category_id) references app_public.categories (tenant_id, id) on delete set null (category_id)
);
comment on table app_public.products is E'@behavior -insert\nSomething a tenant sells. Create products with `createProduct`.';
comment on column app_public.products.tenant_id is E'@behavior -insert -update\nThe tenant the product belongs to; always the tenant of the request that created it.';
comment on column app_public.products.id is 'The product''s id, unique within its tenant.';
comment on column app_public.products.category_id is 'The product''s category, if any: one of the same tenant''s categories.';
comment on column app_public.products.name is 'The product''s name, 1 to 200 characters.';
comment on column app_public.products.price is 'The price, at least 0 and below 100,000,000, with two decimal places.';
comment on column app_public.products.created_at is 'When the product was created.';
comment on column app_public.products.updated_at is 'When the product was last changed.';
comment on constraint products_price_check on app_public.products is 'A price cannot be negative.';
comment on constraint products_tenant_id_category_id_fkey on app_public.products is
  E'@foreignFieldName products\n@fieldName category\nThe product''s category, always one of the same tenant''s.';

-- One index per ordering the API offers, each led by tenant_id: every query is
-- filtered by tenant (by the policies), so these serve both the filter and the order.
create index products_tenant_id_category_id_idx on app_public.products (tenant_id, category_id);
create index products_tenant_id_name_idx on app_public.products (tenant_id, name);
create index products_tenant_id_price_idx on app_public.products (tenant_id, price);
create index products_tenant_id_created_at_idx on app_public.products (tenant_id, created_at);

create trigger _100_set_updated_at before update on app_public.products
  for each row execute function app_private.tg__set_updated_at();

alter table app_public.products enable row level security;
alter table app_public.products force row level security;

create policy select_own_tenant on app_public.products for select
  using (tenant_id = (select app_public.current_tenant_id()));
create policy insert_by_member on app_public.products for insert
  with check (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin', 'member'));
create policy update_by_member on app_public.products for update
  using (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin', 'member'))
  with check (tenant_id = (select app_public.current_tenant_id()));
create policy delete_by_admin on app_public.products for delete
  using (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin'));

grant select, insert (name, price, category_id), update (name, price, category_id), delete on app_public.products to :DATABASE_VISITOR;

-- SECURITY INVOKER (the default): the insert runs as the caller, under the policies.
create function app_public.create_product(name text, price numeric, category_id uuid default null)
  returns app_public.products
  language sql volatile
as $$
  insert into app_public.products (name, price, category_id)
  values (create_product.name, create_product.price, create_product.category_id)
  returning *
$$;
comment on function app_public.create_product(text, numeric, uuid) is
  'Creates a product in the current tenant. Needs the `member` role or higher; the category, if given, must be one of the tenant''s own.';

grant execute on function app_public.create_product(text, numeric, uuid) to :DATABASE_VISITOR;
