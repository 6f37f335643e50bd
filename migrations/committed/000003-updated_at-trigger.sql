--! Previous: sha1:eee9b75b9ab3841620324b2e9f466df3c81284e0
--! Hash: sha1:15587c66e67a042cbadc2a93f2a40d5d3c8f4cd1
--! Message: updated_at trigger

-- Keeps updated_at true on every update, whoever writes the row.
drop function if exists app_private.tg__set_updated_at() cascade;

create function app_private.tg__set_updated_at() returns trigger
  language plpgsql
  set search_path to pg_catalog, pg_temp
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function app_private.tg__set_updated_at() is
  'Trigger: sets updated_at to the transaction time. Attach as BEFORE UPDATE FOR EACH ROW.';
