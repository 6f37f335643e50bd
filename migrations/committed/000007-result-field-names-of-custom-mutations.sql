--! Previous: sha1:92573dd78cd44196a8ea5f8aee887ef3be085694
--! Hash: sha1:57321ab917f8d72881d3ccb7c0c9438e067fc2b7
--! Message: result field names of custom mutations

-- Name the results of the custom mutations for what they are: createProduct returns
-- `product` and createTenant returns `tenant`, like the generated mutations do.
comment on function app_public.create_product(text, numeric, uuid) is
  E'@resultFieldName product\nCreates a product in the current tenant. Needs the `member` role or higher; the category, if given, must be one of the tenant''s own.';
comment on function app_public.create_tenant(text, text) is
  E'@resultFieldName tenant\nCreates a tenant with the signed-in user as its owner. The slug must be unique. Then ask your identity provider for a token whose tenant claim is the new tenant''s id.';
