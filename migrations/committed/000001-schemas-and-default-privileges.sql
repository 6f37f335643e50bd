--! Previous: -
--! Hash: sha1:86d86e373af3cf34c058d6678e91dbc7e81a6c87
--! Message: schemas and default privileges

-- Two schemas. app_public is the API: PostGraphile exposes every table, view and
-- function in it. app_private holds helpers the API never shows.
drop schema if exists app_public cascade;
drop schema if exists app_private cascade;

create schema app_public;
comment on schema app_public is 'The tenantgraph API: each table and function here becomes part of the GraphQL schema.';

create schema app_private;
comment on schema app_private is 'Internal helpers and triggers; never exposed through GraphQL, never granted to the request roles.';

-- Objects this owner creates grant nothing to PUBLIC (functions would otherwise be
-- executable by everyone); each migration grants each role exactly what it needs.
alter default privileges revoke all on tables from public;
alter default privileges revoke all on sequences from public;
alter default privileges revoke all on functions from public;
alter default privileges revoke all on types from public;

-- A request with a verified token reaches the API schema (and public, for citext).
-- The anonymous role gets nothing at all: tenant data is out of its reach by grants,
-- not only by policies.
grant usage on schema public, app_public to :DATABASE_VISITOR;
