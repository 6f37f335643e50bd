// Isolation through the API: tenant B, holding a valid token and A's global ids,
// attacks A's data the ways a client can. B never sees or changes anything of A's.
import { gql } from 'graphql-request';
import { beforeAll, describe, expect, test } from 'vitest';
import { graphqlErrors, tokenFor, useApi } from './support/api.ts';
import { snapshot, victimAndAttacker, type TenantFixture } from './support/fixtures.ts';

const api = useApi();
let a: TenantFixture;
let b: TenantFixture;
let aIds: { products: string[]; category: string };
let before: Awaited<ReturnType<typeof snapshot>>;
const asB = () => api.client(tokenFor({ userId: b.users.owner, tenantId: b.id }));

beforeAll(async () => {
  ({ a, b, aIds, before } = await victimAndAttacker(api, tokenFor));
});

describe("tenant B, with A's global ids in hand", () => {
  test("lists, filters and aggregates only B's own products", async () => {
    const result: any = await asB().request(
      gql`
        query ($aTenant: UUID!) {
          all: products {
            totalCount
            nodes {
              tenantId
            }
          }
          filtered: products(filter: { tenantId: { equalTo: $aTenant } }) {
            totalCount
          }
          conditioned: products(condition: { tenantId: $aTenant }) {
            totalCount
          }
          aggregates: products {
            aggregates {
              sum {
                price
              }
            }
            groupedAggregates(groupBy: [TENANT_ID]) {
              keys
            }
          }
          categories {
            nodes {
              tenantId
            }
          }
        }
      `,
      { aTenant: a.id },
    );
    expect(result.all.totalCount).toBe(2);
    expect(new Set(result.all.nodes.map((n: any) => n.tenantId))).toEqual(new Set([b.id]));
    expect(result.filtered.totalCount).toBe(0);
    expect(result.conditioned.totalCount).toBe(0);
    expect(result.aggregates.groupedAggregates).toEqual([{ keys: [b.id] }]);
    expect(result.categories.nodes).toEqual([{ tenantId: b.id }]);
  });

  test("fetches nothing by A's global ids", async () => {
    for (const id of aIds.products) {
      const result: any = await asB().request(
        gql`
          query ($id: ID!) {
            productById(id: $id) {
              name
            }
            node(id: $id) {
              id
            }
          }
        `,
        { id },
      );
      expect(result).toEqual({ productById: null, node: null });
    }
  });

  test("cannot update or delete A's products or categories by global id", async () => {
    const client = asB();
    for (const id of aIds.products) {
      // Updates and deletes of a row one may not change answer alike.
      const updated = await graphqlErrors(
        client.request(
          gql`
            mutation ($id: ID!) {
              updateProductById(input: { id: $id, patch: { price: "0" } }) {
                product {
                  id
                }
              }
            }
          `,
          { id },
        ),
      );
      expect(updated[0]).toMatchObject({
        message: 'Nothing you may change has this id.',
        extensions: { code: 'NOT_FOUND' },
      });
      const removed = await graphqlErrors(
        client.request(
          gql`
            mutation ($id: ID!) {
              deleteProductById(input: { id: $id }) {
                deletedProductId
              }
            }
          `,
          { id },
        ),
      );
      expect(removed[0]).toMatchObject({
        message: 'Nothing you may change has this id.',
        extensions: { code: 'NOT_FOUND' },
      });
    }
    const category = await graphqlErrors(
      client.request(
        gql`
          mutation ($id: ID!) {
            deleteCategoryById(input: { id: $id }) {
              deletedCategoryId
            }
          }
        `,
        { id: aIds.category },
      ),
    );
    expect(category[0]!.extensions?.code).toBe('NOT_FOUND');
    const renamed = await graphqlErrors(
      client.request(
        gql`
          mutation ($id: ID!) {
            updateCategoryById(input: { id: $id, patch: { name: "Mine" } }) {
              category {
                id
              }
            }
          }
        `,
        { id: aIds.category },
      ),
    );
    expect(renamed[0]!.extensions?.code).toBe('NOT_FOUND');
    expect(await snapshot(a.id)).toEqual(before);
  });

  test("cannot create a product in A's category", async () => {
    const errors = await graphqlErrors(
      asB().request(
        gql`
          mutation ($c: UUID) {
            createProduct(input: { name: "Planted", price: "1", categoryId: $c }) {
              product {
                id
              }
            }
          }
        `,
        { c: a.categoryId },
      ),
    );
    expect(errors[0]!.extensions?.code).toBe('INVALID_REFERENCE');
    expect(await snapshot(a.id)).toEqual(before);
  });

  test("cannot see A's memberships, users or tenant row", async () => {
    const result: any = await asB().request(
      gql`
        query ($a: UUID!) {
          memberships {
            nodes {
              tenantId
            }
          }
          tenant(rowId: $a) {
            name
          }
          tenants {
            nodes {
              rowId
            }
          }
          users {
            nodes {
              rowId
            }
          }
        }
      `,
      { a: a.id },
    );
    expect(new Set(result.memberships.nodes.map((n: any) => n.tenantId))).toEqual(new Set([b.id]));
    expect(result.tenant).toBeNull();
    expect(result.tenants.nodes).toEqual([{ rowId: b.id }]);
    expect(result.users.nodes.map((n: any) => n.rowId).sort()).toEqual(Object.values(b.users).sort());
  });
});
