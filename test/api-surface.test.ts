// The GraphQL surface, used the way a frontend client uses it: graphql-request over
// real HTTP, with a token per user.
import { randomUUID } from 'node:crypto';
import { gql } from 'graphql-request';
import { beforeAll, describe, expect, test } from 'vitest';
import { graphqlErrors, tokenFor, useApi } from './support/api.ts';
import { asOwner } from './support/db.ts';
import { createTenant, snapshot, type TenantFixture } from './support/fixtures.ts';

// Introspection is on here only to inspect the input types; production turns it off.
const api = useApi({ limits: { introspection: true } });
let t: TenantFixture;
let ownerToken: string;
let memberToken: string;
let viewerToken: string;

beforeAll(async () => {
  t = await createTenant('surface');
  // A second category and more products, for ordering, filters and groups.
  await asOwner(async (db) => {
    await db.query("insert into app_public.categories (tenant_id, id, name) values ($1, $2, 'Toys')", [
      t.id,
      randomUUID(),
    ]);
    await db.query(
      `insert into app_public.products (tenant_id, category_id, name, price)
       select $1, (select id from app_public.categories where tenant_id = $1 and name = 'Toys'), 'Toy ' || n, n
       from generate_series(1, 5) n`,
      [t.id],
    );
  });
  ownerToken = tokenFor({ userId: t.users.owner, tenantId: t.id });
  memberToken = tokenFor({ userId: t.users.member, tenantId: t.id });
  viewerToken = tokenFor({ userId: t.users.viewer, tenantId: t.id });
});

describe('reading products', () => {
  test('pages through products in a chosen order', async () => {
    const page = gql`
      query Page($after: Cursor) {
        products(first: 3, after: $after, orderBy: [PRICE_ASC, ROW_ID_ASC]) {
          totalCount
          pageInfo {
            hasNextPage
            endCursor
          }
          nodes {
            name
            price
          }
        }
      }
    `;
    const first: any = await api.client(viewerToken).request(page);
    expect(first.products.totalCount).toBe(7);
    expect(first.products.nodes).toEqual([
      { name: 'Toy 1', price: '1.00' },
      { name: 'Toy 2', price: '2.00' },
      { name: 'Toy 3', price: '3.00' },
    ]);
    const second: any = await api
      .client(viewerToken)
      .request(page, { after: first.products.pageInfo.endCursor });
    expect(second.products.nodes.map((p: any) => p.name)).toEqual(['Toy 4', 'Toy 5', 'Hammer']);
  });

  test('filters with condition and with connection-filter operators', async () => {
    const result: any = await api.client(viewerToken).request(gql`
      {
        byCondition: products(condition: { name: "Hammer" }) {
          nodes {
            name
          }
        }
        byFilter: products(
          filter: { price: { greaterThanOrEqualTo: "4" }, name: { startsWith: "Toy" } }
          orderBy: NAME_DESC
        ) {
          nodes {
            name
          }
        }
      }
    `);
    expect(result.byCondition.nodes).toEqual([{ name: 'Hammer' }]);
    expect(result.byFilter.nodes).toEqual([{ name: 'Toy 5' }, { name: 'Toy 4' }]);
  });

  test('follows product.category and category.products', async () => {
    const result: any = await api.client(viewerToken).request(gql`
      {
        products(condition: { name: "Hammer" }) {
          nodes {
            category {
              name
            }
          }
        }
        categories(orderBy: NAME_ASC) {
          nodes {
            name
            products {
              totalCount
            }
          }
        }
      }
    `);
    expect(result.products.nodes[0].category).toEqual({ name: 'Tools' });
    expect(result.categories.nodes).toEqual([
      { name: 'Tools', products: { totalCount: 1 } },
      { name: 'Toys', products: { totalCount: 5 } },
    ]);
  });

  test('fetches a product by its global id, through productById and node', async () => {
    const list: any = await api.client(viewerToken).request(gql`
      {
        products(condition: { name: "Hammer" }) {
          nodes {
            id
          }
        }
      }
    `);
    const id = list.products.nodes[0].id;
    const result: any = await api.client(viewerToken).request(
      gql`
        query ($id: ID!) {
          productById(id: $id) {
            name
          }
          node(id: $id) {
            ... on Product {
              price
            }
          }
        }
      `,
      { id },
    );
    expect(result).toEqual({ productById: { name: 'Hammer' }, node: { price: '12.50' } });
  });

  test('aggregates: sum, average, max, totals and groups by category', async () => {
    const result: any = await api.client(viewerToken).request(gql`
      {
        products {
          totalCount
          aggregates {
            sum {
              price
            }
            average {
              price
            }
            max {
              price
            }
          }
          groupedAggregates(groupBy: [CATEGORY_ID]) {
            keys
            sum {
              price
            }
          }
        }
        categories {
          nodes {
            rowId
            name
          }
        }
      }
    `);
    expect(result.products.totalCount).toBe(7);
    expect(Number(result.products.aggregates.sum.price)).toBe(52.5);
    expect(Number(result.products.aggregates.average.price)).toBeCloseTo(7.5);
    expect(result.products.aggregates.max.price).toBe('25.00');
    const categoryIds = Object.fromEntries(result.categories.nodes.map((c: any) => [c.name, c.rowId]));
    const sums = Object.fromEntries(
      result.products.groupedAggregates.map((g: any) => [g.keys[0] ?? 'none', Number(g.sum.price)]),
    );
    expect(sums).toEqual({ [categoryIds.Tools]: 12.5, [categoryIds.Toys]: 15, none: 25 });
  });
});

describe('writing products', () => {
  test('createProduct fills tenantId from the token, and tenantId is in no input type', async () => {
    const result: any = await api.client(memberToken).request(
      gql`
        mutation ($categoryId: UUID) {
          createProduct(input: { name: "Chisel", price: "7.25", categoryId: $categoryId }) {
            product {
              tenantId
              name
              price
              category {
                name
              }
            }
          }
        }
      `,
      { categoryId: t.categoryId },
    );
    expect(result.createProduct.product).toEqual({
      tenantId: t.id,
      name: 'Chisel',
      price: '7.25',
      category: { name: 'Tools' },
    });

    const types: any = await api.client(memberToken).request(gql`
      {
        __schema {
          types {
            name
            kind
            inputFields {
              name
            }
          }
        }
      }
    `);
    const inputs = types.__schema.types.filter(
      (type: any) =>
        type.kind === 'INPUT_OBJECT' &&
        /(Input|Patch)$/.test(type.name) &&
        !/Filter|Condition|Having/.test(type.name),
    );
    const withTenant = inputs.filter((type: any) =>
      type.inputFields.some((field: any) => field.name === 'tenantId'),
    );
    expect(inputs.length).toBeGreaterThan(5);
    expect(withTenant.map((type: any) => type.name)).toEqual([]);
  });

  test('updates and deletes a product by global id', async () => {
    const created: any = await api.client(memberToken).request(gql`
      mutation {
        createProduct(input: { name: "Temp", price: "1" }) {
          product {
            id
          }
        }
      }
    `);
    const id = created.createProduct.product.id;
    const updated: any = await api.client(memberToken).request(
      gql`
        mutation ($id: ID!) {
          updateProductById(input: { id: $id, patch: { price: "2.50", name: "Temp 2" } }) {
            product {
              name
              price
            }
          }
        }
      `,
      { id },
    );
    expect(updated.updateProductById.product).toEqual({ name: 'Temp 2', price: '2.50' });
    const deleted: any = await api.client(ownerToken).request(
      gql`
        mutation ($id: ID!) {
          deleteProductById(input: { id: $id }) {
            deletedProductId
          }
        }
      `,
      { id },
    );
    expect(deleted.deleteProductById.deletedProductId).toBe(id);
    const gone: any = await api.client(ownerToken).request(
      gql`
        query ($id: ID!) {
          productById(id: $id) {
            name
          }
        }
      `,
      { id },
    );
    expect(gone.productById).toBeNull();
  });

  test('categories: create, rename, delete', async () => {
    const client = api.client(ownerToken);
    const created: any = await client.request(gql`
      mutation {
        createCategory(input: { category: { name: "Garden" } }) {
          category {
            id
            name
            tenantId
          }
        }
      }
    `);
    const { id } = created.createCategory.category;
    expect(created.createCategory.category.tenantId).toBe(t.id);
    const renamed: any = await client.request(
      gql`
        mutation ($id: ID!) {
          updateCategoryById(input: { id: $id, patch: { name: "Garden & Patio" } }) {
            category {
              name
            }
          }
        }
      `,
      { id },
    );
    expect(renamed.updateCategoryById.category.name).toBe('Garden & Patio');
    const deleted: any = await client.request(
      gql`
        mutation ($id: ID!) {
          deleteCategoryById(input: { id: $id }) {
            deletedCategoryId
          }
        }
      `,
      { id },
    );
    expect(deleted.deleteCategoryById.deletedCategoryId).toBe(id);
  });
});

describe('who am I', () => {
  test('currentUser, currentTenant and currentMemberships', async () => {
    const result: any = await api.client(ownerToken).request(gql`
      {
        currentUser {
          rowId
          email
        }
        currentTenant {
          rowId
          slug
        }
        currentMemberships {
          nodes {
            role
            tenant {
              slug
            }
          }
        }
      }
    `);
    expect(result.currentUser.rowId).toBe(t.users.owner);
    expect(result.currentTenant).toEqual({ rowId: t.id, slug: t.slug });
    expect(result.currentMemberships.nodes).toEqual([{ role: 'owner', tenant: { slug: t.slug } }]);
  });

  test('a signed-in user without a tenant creates one, then works in it with a new token', async () => {
    const userId = randomUUID();
    const slug = `signup-${userId.slice(0, 8)}`;
    const signup = api.client(tokenFor({ userId, email: `${slug}@example.test`, emailVerified: true }));
    const before: any = await signup.request(gql`
      {
        currentTenant {
          rowId
        }
        currentUser {
          rowId
        }
      }
    `);
    expect(before).toEqual({ currentTenant: null, currentUser: null });

    const created: any = await signup.request(
      gql`
        mutation ($slug: String!) {
          createTenant(input: { name: "Signup Ltd", slug: $slug }) {
            tenant {
              rowId
              slug
            }
          }
        }
      `,
      { slug },
    );
    const tenantId = created.createTenant.tenant.rowId;
    const inTenant = api.client(tokenFor({ userId, tenantId }));
    const after: any = await inTenant.request(gql`
      mutation {
        createProduct(input: { name: "First", price: "1" }) {
          product {
            tenantId
          }
        }
      }
    `);
    expect(after.createProduct.product.tenantId).toBe(tenantId);
    const me: any = await inTenant.request(gql`
      {
        currentUser {
          email
        }
        currentTenant {
          slug
        }
      }
    `);
    expect(me).toEqual({ currentUser: { email: `${slug}@example.test` }, currentTenant: { slug } });
  });
});

describe('errors users must see, with stable codes', () => {
  test("a negative price: INVALID_VALUE with the constraint's own words, and nothing written", async () => {
    const before = await snapshot(t.id);
    const errors = await graphqlErrors(
      api.client(memberToken).request(gql`
        mutation {
          createProduct(input: { name: "Bad", price: "-1" }) {
            product {
              id
            }
          }
        }
      `),
    );
    expect(errors[0]).toMatchObject({
      message: 'A price must be a number of at least 0.',
      extensions: { code: 'INVALID_VALUE' },
    });
    expect(await snapshot(t.id)).toEqual(before);
  });

  test('a price too large for numeric(10,2): INVALID_VALUE', async () => {
    const errors = await graphqlErrors(
      api.client(memberToken).request(gql`
        mutation {
          createProduct(input: { name: "Big", price: "123456789012" }) {
            product {
              id
            }
          }
        }
      `),
    );
    expect(errors[0]!.extensions?.code).toBe('INVALID_VALUE');
  });

  test('a duplicate category name: ALREADY_EXISTS', async () => {
    const errors = await graphqlErrors(
      api.client(ownerToken).request(gql`
        mutation {
          createCategory(input: { category: { name: "Tools" } }) {
            category {
              id
            }
          }
        }
      `),
    );
    expect(errors[0]).toMatchObject({
      message: 'A tenant cannot have two categories with the same name.',
      extensions: { code: 'ALREADY_EXISTS' },
    });
  });

  test('an unknown category: INVALID_REFERENCE', async () => {
    const errors = await graphqlErrors(
      api.client(memberToken).request(
        gql`
          mutation ($c: UUID) {
            createProduct(input: { name: "Orphan", price: "1", categoryId: $c }) {
              product {
                id
              }
            }
          }
        `,
        { c: randomUUID() },
      ),
    );
    expect(errors[0]!.extensions?.code).toBe('INVALID_REFERENCE');
  });

  test('a viewer creating a product: FORBIDDEN', async () => {
    const errors = await graphqlErrors(
      api.client(viewerToken).request(gql`
        mutation {
          createProduct(input: { name: "Nope", price: "1" }) {
            product {
              id
            }
          }
        }
      `),
    );
    expect(errors[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  });

  test('a taken tenant slug: ALREADY_EXISTS', async () => {
    const errors = await graphqlErrors(
      api.client(tokenFor({ userId: randomUUID() })).request(
        gql`
          mutation ($s: String!) {
            createTenant(input: { name: "Copy", slug: $s }) {
              tenant {
                rowId
              }
            }
          }
        `,
        { s: t.slug },
      ),
    );
    expect(errors[0]!.extensions?.code).toBe('ALREADY_EXISTS');
  });

  test('no SQL or internals in any error message', async () => {
    const errors = await graphqlErrors(
      api.client(memberToken).request(gql`
        mutation {
          createProduct(input: { name: "", price: "1" }) {
            product {
              id
            }
          }
        }
      `),
    );
    expect(errors[0]!.extensions?.code).toBe('INVALID_VALUE');
    expect(JSON.stringify(errors)).not.toMatch(/select|insert|app_public|relation|constraint "/i);
  });
});
