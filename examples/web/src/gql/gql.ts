/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query InvitationPreview($secret: String!) {\n  invitationPreview(secret: $secret) {\n    tenantName\n    tenantSlug\n    inviter\n    role\n    email\n    expiresAt\n  }\n}\n\nmutation AcceptInvitation($secret: String!) {\n  acceptInvitation(input: {secret: $secret}) {\n    membership {\n      id\n      role\n    }\n  }\n}\n\nmutation DeclineInvitation($secret: String!) {\n  declineInvitation(input: {secret: $secret}) {\n    invitation {\n      id\n      status\n    }\n  }\n}": typeof types.InvitationPreviewDocument,
    "query Products($first: Int!, $after: Cursor, $filter: ProductFilter) {\n  products(\n    first: $first\n    after: $after\n    filter: $filter\n    orderBy: [NAME_ASC, PRIMARY_KEY_ASC]\n  ) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}\n\nquery ProductStats($filter: ProductFilter) {\n  products(filter: $filter) {\n    aggregates {\n      sum {\n        price\n      }\n      average {\n        price\n      }\n    }\n    groupedAggregates(groupBy: [CATEGORY_ID]) {\n      keys\n      sum {\n        price\n      }\n      average {\n        price\n      }\n    }\n  }\n}\n\nquery Categories {\n  categories(first: 100, orderBy: NAME_ASC) {\n    nodes {\n      id\n      rowId\n      name\n    }\n  }\n}\n\nmutation CreateProduct($name: String!, $price: BigFloat!, $categoryId: UUID) {\n  createProduct(input: {name: $name, price: $price, categoryId: $categoryId}) {\n    product {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}\n\nmutation UpdateProduct($id: ID!, $patch: ProductPatch!) {\n  updateProductById(input: {id: $id, patch: $patch}) {\n    product {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}": typeof types.ProductsDocument,
    "subscription ProductChanged {\n  productChanged {\n    event\n    productId\n  }\n}": typeof types.ProductChangedDocument,
    "query Session {\n  currentUser {\n    id\n    displayName\n    email\n  }\n  currentTenant {\n    id\n    slug\n    name\n  }\n  currentMemberships {\n    nodes {\n      id\n      role\n      tenant {\n        id\n        slug\n        name\n      }\n    }\n  }\n}": typeof types.SessionDocument,
    "mutation CreateTenant($name: String!, $slug: String!) {\n  createTenant(input: {name: $name, slug: $slug}) {\n    tenant {\n      id\n      slug\n      name\n    }\n  }\n}": typeof types.CreateTenantDocument,
};
const documents: Documents = {
    "query InvitationPreview($secret: String!) {\n  invitationPreview(secret: $secret) {\n    tenantName\n    tenantSlug\n    inviter\n    role\n    email\n    expiresAt\n  }\n}\n\nmutation AcceptInvitation($secret: String!) {\n  acceptInvitation(input: {secret: $secret}) {\n    membership {\n      id\n      role\n    }\n  }\n}\n\nmutation DeclineInvitation($secret: String!) {\n  declineInvitation(input: {secret: $secret}) {\n    invitation {\n      id\n      status\n    }\n  }\n}": types.InvitationPreviewDocument,
    "query Products($first: Int!, $after: Cursor, $filter: ProductFilter) {\n  products(\n    first: $first\n    after: $after\n    filter: $filter\n    orderBy: [NAME_ASC, PRIMARY_KEY_ASC]\n  ) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}\n\nquery ProductStats($filter: ProductFilter) {\n  products(filter: $filter) {\n    aggregates {\n      sum {\n        price\n      }\n      average {\n        price\n      }\n    }\n    groupedAggregates(groupBy: [CATEGORY_ID]) {\n      keys\n      sum {\n        price\n      }\n      average {\n        price\n      }\n    }\n  }\n}\n\nquery Categories {\n  categories(first: 100, orderBy: NAME_ASC) {\n    nodes {\n      id\n      rowId\n      name\n    }\n  }\n}\n\nmutation CreateProduct($name: String!, $price: BigFloat!, $categoryId: UUID) {\n  createProduct(input: {name: $name, price: $price, categoryId: $categoryId}) {\n    product {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}\n\nmutation UpdateProduct($id: ID!, $patch: ProductPatch!) {\n  updateProductById(input: {id: $id, patch: $patch}) {\n    product {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}": types.ProductsDocument,
    "subscription ProductChanged {\n  productChanged {\n    event\n    productId\n  }\n}": types.ProductChangedDocument,
    "query Session {\n  currentUser {\n    id\n    displayName\n    email\n  }\n  currentTenant {\n    id\n    slug\n    name\n  }\n  currentMemberships {\n    nodes {\n      id\n      role\n      tenant {\n        id\n        slug\n        name\n      }\n    }\n  }\n}": types.SessionDocument,
    "mutation CreateTenant($name: String!, $slug: String!) {\n  createTenant(input: {name: $name, slug: $slug}) {\n    tenant {\n      id\n      slug\n      name\n    }\n  }\n}": types.CreateTenantDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query InvitationPreview($secret: String!) {\n  invitationPreview(secret: $secret) {\n    tenantName\n    tenantSlug\n    inviter\n    role\n    email\n    expiresAt\n  }\n}\n\nmutation AcceptInvitation($secret: String!) {\n  acceptInvitation(input: {secret: $secret}) {\n    membership {\n      id\n      role\n    }\n  }\n}\n\nmutation DeclineInvitation($secret: String!) {\n  declineInvitation(input: {secret: $secret}) {\n    invitation {\n      id\n      status\n    }\n  }\n}"): (typeof documents)["query InvitationPreview($secret: String!) {\n  invitationPreview(secret: $secret) {\n    tenantName\n    tenantSlug\n    inviter\n    role\n    email\n    expiresAt\n  }\n}\n\nmutation AcceptInvitation($secret: String!) {\n  acceptInvitation(input: {secret: $secret}) {\n    membership {\n      id\n      role\n    }\n  }\n}\n\nmutation DeclineInvitation($secret: String!) {\n  declineInvitation(input: {secret: $secret}) {\n    invitation {\n      id\n      status\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Products($first: Int!, $after: Cursor, $filter: ProductFilter) {\n  products(\n    first: $first\n    after: $after\n    filter: $filter\n    orderBy: [NAME_ASC, PRIMARY_KEY_ASC]\n  ) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}\n\nquery ProductStats($filter: ProductFilter) {\n  products(filter: $filter) {\n    aggregates {\n      sum {\n        price\n      }\n      average {\n        price\n      }\n    }\n    groupedAggregates(groupBy: [CATEGORY_ID]) {\n      keys\n      sum {\n        price\n      }\n      average {\n        price\n      }\n    }\n  }\n}\n\nquery Categories {\n  categories(first: 100, orderBy: NAME_ASC) {\n    nodes {\n      id\n      rowId\n      name\n    }\n  }\n}\n\nmutation CreateProduct($name: String!, $price: BigFloat!, $categoryId: UUID) {\n  createProduct(input: {name: $name, price: $price, categoryId: $categoryId}) {\n    product {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}\n\nmutation UpdateProduct($id: ID!, $patch: ProductPatch!) {\n  updateProductById(input: {id: $id, patch: $patch}) {\n    product {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}"): (typeof documents)["query Products($first: Int!, $after: Cursor, $filter: ProductFilter) {\n  products(\n    first: $first\n    after: $after\n    filter: $filter\n    orderBy: [NAME_ASC, PRIMARY_KEY_ASC]\n  ) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}\n\nquery ProductStats($filter: ProductFilter) {\n  products(filter: $filter) {\n    aggregates {\n      sum {\n        price\n      }\n      average {\n        price\n      }\n    }\n    groupedAggregates(groupBy: [CATEGORY_ID]) {\n      keys\n      sum {\n        price\n      }\n      average {\n        price\n      }\n    }\n  }\n}\n\nquery Categories {\n  categories(first: 100, orderBy: NAME_ASC) {\n    nodes {\n      id\n      rowId\n      name\n    }\n  }\n}\n\nmutation CreateProduct($name: String!, $price: BigFloat!, $categoryId: UUID) {\n  createProduct(input: {name: $name, price: $price, categoryId: $categoryId}) {\n    product {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}\n\nmutation UpdateProduct($id: ID!, $patch: ProductPatch!) {\n  updateProductById(input: {id: $id, patch: $patch}) {\n    product {\n      id\n      name\n      price\n      categoryId\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription ProductChanged {\n  productChanged {\n    event\n    productId\n  }\n}"): (typeof documents)["subscription ProductChanged {\n  productChanged {\n    event\n    productId\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Session {\n  currentUser {\n    id\n    displayName\n    email\n  }\n  currentTenant {\n    id\n    slug\n    name\n  }\n  currentMemberships {\n    nodes {\n      id\n      role\n      tenant {\n        id\n        slug\n        name\n      }\n    }\n  }\n}"): (typeof documents)["query Session {\n  currentUser {\n    id\n    displayName\n    email\n  }\n  currentTenant {\n    id\n    slug\n    name\n  }\n  currentMemberships {\n    nodes {\n      id\n      role\n      tenant {\n        id\n        slug\n        name\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateTenant($name: String!, $slug: String!) {\n  createTenant(input: {name: $name, slug: $slug}) {\n    tenant {\n      id\n      slug\n      name\n    }\n  }\n}"): (typeof documents)["mutation CreateTenant($name: String!, $slug: String!) {\n  createTenant(input: {name: $name, slug: $slug}) {\n    tenant {\n      id\n      slug\n      name\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;