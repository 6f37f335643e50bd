--! Previous: sha1:15587c66e67a042cbadc2a93f2a40d5d3c8f4cd1
--! Hash: sha1:7ddc2a3c6d84383f7fb270ab8a49cdaa7515ab9b
--! Message: categories

-- Categories: the first tenant table. Like every tenant table, tenant_id comes first in
-- the primary key and in every unique and foreign key, so a row can only ever point at
-- rows of its own tenant (and the table can be distributed by tenant_id with Citus).
drop table if exists app_public.categories cascade;

create table app_public.categories (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, name)
);
comment on table app_public.categories is 'A grouping of a tenant''s products. Names are unique within a tenant.';
comment on column app_public.categories.tenant_id is E'@behavior -insert -update\nThe tenant the category belongs to; always the tenant of the request that created it.';
comment on column app_public.categories.id is 'The category''s id, unique within its tenant.';
comment on column app_public.categories.name is 'The category''s name, unique within the tenant.';
comment on column app_public.categories.created_at is 'When the category was created.';
comment on constraint categories_tenant_id_name_key on app_public.categories is
  'A tenant cannot have two categories with the same name.';

create index categories_tenant_id_created_at_idx on app_public.categories (tenant_id, created_at);

alter table app_public.categories enable row level security;
alter table app_public.categories force row level security;

create policy select_own_tenant on app_public.categories for select
  using (tenant_id = (select app_public.current_tenant_id()));
create policy insert_by_member on app_public.categories for insert
  with check (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin', 'member'));
create policy update_by_member on app_public.categories for update
  using (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin', 'member'))
  with check (tenant_id = (select app_public.current_tenant_id()));
create policy delete_by_admin on app_public.categories for delete
  using (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin'));

grant select, insert (name), update (name), delete on app_public.categories to :DATABASE_VISITOR;
