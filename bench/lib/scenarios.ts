// The GraphQL requests the benchmark sends. Each request is for a tenant picked at
// random, with that tenant's member's own token.
import { NAME_WORDS } from './load-data.ts';

export interface BenchTenant {
  n: number;
  tenantId: string;
  userId: string;
  productId: string;
  categoryId: string;
  /** HS256 token of the tenant's member (role `member`: may create products). */
  token: string;
  /** The global id (`Product.id`) of productId. */
  productNodeId: string;
}

/** Values of one request that also appear in its SQL; the database ceiling substitutes them. */
export interface RequestValues {
  tenant: string;
  user: string;
  product: string;
  category: string;
  name: string;
  word: string;
}

export interface Scenario {
  name: string;
  title: string;
  query: string;
  variables(tenant: BenchTenant, values: RequestValues): Record<string, unknown>;
  /** Cheap check of every response body during load. */
  quickCheck(body: string): boolean;
  /** Full check of one response before measuring. */
  check(data: any): string | undefined;
}

let serial = 0;

export function requestValues(tenant: BenchTenant, random: () => number = Math.random): RequestValues {
  serial += 1;
  return {
    tenant: tenant.tenantId,
    user: tenant.userId,
    product: tenant.productId,
    category: tenant.categoryId,
    name: `bench ${process.pid}-${serial}`,
    word: NAME_WORDS[Math.floor(random() * NAME_WORDS.length)]!,
  };
}

const noErrors = (body: string) => !body.includes('"errors"');

export const SCENARIOS: Scenario[] = [
  {
    name: 'list',
    title: 'List 50 products with category names',
    query: `query ListProducts {
  products(first: 50, orderBy: NAME_ASC) {
    nodes { id name price category { name } }
  }
}`,
    variables: () => ({}),
    quickCheck: (body) => noErrors(body) && body.includes('"nodes":[{'),
    check: (data) => {
      const nodes = data?.products?.nodes;
      if (!Array.isArray(nodes) || nodes.length === 0) return 'no products listed';
      if (!nodes.some((node: any) => typeof node.category?.name === 'string')) return 'no category names';
      return undefined;
    },
  },
  {
    name: 'byId',
    title: 'Product by global id',
    query: `query ProductById($id: ID!) {
  productById(id: $id) { id name price createdAt category { name } }
}`,
    variables: (tenant) => ({ id: tenant.productNodeId }),
    quickCheck: (body) => noErrors(body) && !body.includes('"productById":null'),
    check: (data) => (data?.productById?.id ? undefined : 'product not found'),
  },
  {
    name: 'aggregates',
    title: 'Aggregates: sum and average price, overall and by category',
    query: `query ProductAggregates {
  products {
    aggregates { sum { price } average { price } }
    groupedAggregates(groupBy: [CATEGORY_ID]) { keys sum { price } average { price } }
  }
}`,
    variables: () => ({}),
    quickCheck: (body) => noErrors(body) && body.includes('"groupedAggregates":[{'),
    check: (data) => {
      if (!data?.products?.aggregates?.sum?.price) return 'no sum';
      if (!Array.isArray(data.products.groupedAggregates) || data.products.groupedAggregates.length === 0)
        return 'no groups';
      return undefined;
    },
  },
  {
    name: 'create',
    title: 'createProduct',
    query: `mutation CreateProduct($input: CreateProductInput!) {
  createProduct(input: $input) { product { id name price } }
}`,
    variables: (_tenant, values) => ({
      input: { name: values.name, price: '9.99', categoryId: values.category },
    }),
    quickCheck: (body) => noErrors(body) && body.includes('"product":{'),
    check: (data) => (data?.createProduct?.product?.id ? undefined : 'no product created'),
  },
  {
    name: 'filter',
    title: 'Filter (name contains a word, price below 500) ordered by price, with totalCount',
    query: `query FilterProducts($word: String!, $max: BigFloat!) {
  products(filter: { name: { includesInsensitive: $word }, price: { lessThan: $max } }, orderBy: PRICE_DESC, first: 20) {
    totalCount
    nodes { id name price }
  }
}`,
    variables: (_tenant, values) => ({ word: values.word, max: '500' }),
    quickCheck: (body) => noErrors(body) && body.includes('"totalCount":'),
    check: (data) =>
      typeof data?.products?.totalCount === 'number' && Array.isArray(data.products.nodes)
        ? undefined
        : 'no result',
  },
];

export function scenarioNamed(name: string): Scenario {
  const scenario = SCENARIOS.find((candidate) => candidate.name === name);
  if (!scenario)
    throw new Error(`Unknown scenario ${name}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return scenario;
}
