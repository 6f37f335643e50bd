import { useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
import {
  CreateProductDocument,
  UpdateProductDocument,
  type CategoriesQuery,
  type ProductsQuery,
} from '../gql/graphql.ts';
import { ErrorNotice } from './ErrorNotice.tsx';

/** A product as the list reads it (Products.tsx). */
export type Product = NonNullable<NonNullable<ProductsQuery['products']>['nodes'][number]>;
type Category = NonNullable<NonNullable<CategoriesQuery['categories']>['nodes'][number]>;

/**
 * Creates a product, or edits `product`. Shown to every role: the API decides who may
 * write, and its refusal (FORBIDDEN for a viewer) is shown like any other error.
 */
export function ProductForm({
  product,
  categories,
  onDone,
}: {
  product: Product | null;
  categories: Category[];
  onDone: () => void;
}) {
  const [name, setName] = useState(product?.name ?? '');
  const [price, setPrice] = useState(product?.price ?? '');
  const [categoryId, setCategoryId] = useState(product?.categoryId ?? '');
  const [notice, setNotice] = useState<string>();
  const [created, create] = useMutation(CreateProductDocument);
  const [updated, update] = useMutation(UpdateProductDocument);
  const state = product ? updated : created;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setNotice(undefined);
    const values = { name, price, categoryId: categoryId || null };
    if (product) {
      const result = await update({ id: product.id, patch: values });
      if (result.error) return;
      if (!result.data?.updateProductById?.product)
        return setNotice('Nothing changed: this product is not one you may change.');
      onDone();
    } else {
      const result = await create(values);
      if (result.error) return;
      setNotice(`Created ${result.data?.createProduct?.product?.name}.`);
      setName('');
      setPrice('');
    }
  }

  return (
    <form aria-label={product ? 'Edit product' : 'New product'} onSubmit={(event) => void submit(event)}>
      <h2>{product ? `Edit ${product.name}` : 'New product'}</h2>
      <label>
        Name <input name="name" value={name} onChange={(event) => setName(event.target.value)} />
      </label>
      <label>
        Price{' '}
        <input
          name="price"
          inputMode="decimal"
          value={price}
          onChange={(event) => setPrice(event.target.value)}
        />
      </label>
      <label>
        Category{' '}
        <select name="category" value={categoryId} onChange={(event) => setCategoryId(event.target.value)}>
          <option value="">No category</option>
          {categories.map((category) => (
            <option key={category.id} value={category.rowId}>
              {category.name}
            </option>
          ))}
        </select>
      </label>
      <div className="actions">
        <button type="submit" disabled={state.fetching}>
          {product ? 'Save' : 'Create'}
        </button>
        {product && (
          <button type="button" onClick={onDone}>
            Cancel
          </button>
        )}
      </div>
      <ErrorNotice error={state.error} />
      {notice && <p role="status">{notice}</p>}
    </form>
  );
}
