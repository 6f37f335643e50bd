--! Previous: sha1:57321ab917f8d72881d3ccb7c0c9438e067fc2b7
--! Hash: sha1:486b2028f41a9fae547b714c871f85e497aa8e41
--! Message: price must not be NaN

-- numeric accepts 'NaN', and in PostgreSQL NaN sorts above every number, so it passed
-- `price >= 0`. A price must be a real, non-negative amount.
alter table app_public.products drop constraint products_price_check;
alter table app_public.products add constraint products_price_check check (price >= 0 and price <> 'NaN');
comment on constraint products_price_check on app_public.products is 'A price must be a number of at least 0.';
