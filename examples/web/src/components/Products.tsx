import { useEffect, useState } from 'react';
import { useQuery, useSubscription } from 'urql';
import { PRODUCT_RESULTS } from '../client.ts';
import {
  CategoriesDocument,
  ProductChangedDocument,
  ProductsDocument,
  type ProductFilter,
} from '../gql/graphql.ts';
import { ErrorNotice } from './ErrorNotice.tsx';
import { ProductForm, type Product } from './ProductForm.tsx';
import { Stats } from './Stats.tsx';

const PAGE_SIZE = 5;
// Typing waits this long before it queries: the aggregates request MAX_GROUPS groups' worth of budget.
const FILTER_DELAY_MS = 300;

export function Products() {
  const [search, setSearch] = useState('');
  const [name, setName] = useState('');
  // The cursors of the pages read so far: the last one is the page shown.
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [editing, setEditing] = useState<Product | null>(null);
  useEffect(() => {
    if (search.trim() === name) return;
    const timer = setTimeout(() => {
      setName(search.trim());
      setCursors([null]);
    }, FILTER_DELAY_MS);
    return () => clearTimeout(timer);
  }, [search, name]);

  const filter: ProductFilter | undefined = name ? { name: { includesInsensitive: name } } : undefined;
  const after = cursors.at(-1) ?? null;
  const [{ data, error, fetching }, refetch] = useQuery({
    query: ProductsDocument,
    variables: { first: PAGE_SIZE, after, filter },
    context: PRODUCT_RESULTS,
  });
  // Live: anyone's change in the tenant (counted; SUBSCRIBED is not one) refetches the
  // page shown, a few rows. Not the price statistics: their aggregates cost MAX_GROUPS
  // groups' worth of the tenant's budget, which every open page refetching them on
  // every change would spend at once; they follow this user's own changes.
  const [live] = useSubscription(
    { query: ProductChangedDocument },
    (changes: number = 0, { productChanged }) =>
      productChanged.event === 'SUBSCRIBED' ? changes : changes + 1,
  );
  useEffect(() => {
    if (live.data) refetch({ requestPolicy: 'network-only' });
  }, [live.data, refetch]);
  const [categories] = useQuery({ query: CategoriesDocument });
  const categoryList = (categories.data?.categories?.nodes ?? []).flatMap((category) =>
    category ? [category] : [],
  );
  const categoryNames = new Map(categoryList.map((category) => [category.rowId, category.name]));
  const products = (data?.products?.nodes ?? []).flatMap((product) => (product ? [product] : []));
  const pageInfo = data?.products?.pageInfo;

  return (
    <div className="layout">
      <section aria-label="Products">
        <input
          type="search"
          placeholder="Filter by name"
          aria-label="Filter by name"
          value={search}
          onChange={(event) => setSearch(event.target.value)}
        />
        <ErrorNotice error={error ?? live.error} />
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Category</th>
              <th className="number">Price</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {products.map((product) => (
              <tr key={product.id}>
                <td>{product.name}</td>
                <td>{product.categoryId ? categoryNames.get(product.categoryId) : '–'}</td>
                <td className="number">{product.price}</td>
                <td>
                  <button
                    type="button"
                    onClick={() => setEditing(product)}
                    aria-label={`Edit ${product.name}`}
                  >
                    Edit
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <nav>
          <button
            type="button"
            disabled={cursors.length === 1}
            onClick={() => setCursors(cursors.slice(0, -1))}
          >
            Previous
          </button>
          <span>
            {fetching
              ? 'Loading…'
              : `Page ${cursors.length} of ${Math.max(1, Math.ceil((data?.products?.totalCount ?? 0) / PAGE_SIZE))}, ${data?.products?.totalCount ?? 0} products`}
          </span>
          <button
            type="button"
            disabled={!pageInfo?.hasNextPage}
            onClick={() => pageInfo?.endCursor && setCursors([...cursors, pageInfo.endCursor])}
          >
            Next
          </button>
        </nav>
      </section>
      <aside>
        <Stats filter={filter} categoryNames={categoryNames} />
        <ProductForm
          key={editing?.id ?? 'new'}
          product={editing}
          categories={categoryList}
          onDone={() => setEditing(null)}
        />
      </aside>
    </div>
  );
}
