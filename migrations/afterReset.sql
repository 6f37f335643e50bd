-- Runs as the superuser right after graphile-migrate (re)creates the database, which it
-- creates owned by :DATABASE_OWNER. Only what needs more than the owner's rights is here.
begin;

-- Case-insensitive text for emails. Creating an extension needs a superuser.
create extension if not exists citext with schema public;

-- Nothing by default: each migration grants a role exactly what it needs.
revoke all on database :DATABASE_NAME from public;
revoke all on schema public from public;
alter schema public owner to :DATABASE_OWNER;

-- The API logs in as the authenticator; it may connect and nothing more.
grant connect on database :DATABASE_NAME to :DATABASE_AUTHENTICATOR;

commit;
