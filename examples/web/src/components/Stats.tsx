import { useQuery } from 'urql';
import { PRODUCT_RESULTS } from '../client.ts';
import { ProductStatsDocument, type ProductFilter } from '../gql/graphql.ts';
import { ErrorNotice } from './ErrorNotice.tsx';

// BigFloat arrives as a decimal string; averages have many digits.
const money = (value: string | null | undefined) => (value == null ? '–' : Number(value).toFixed(2));

/** Sum and average of the price, per category and overall, over what the filter matches. */
export function Stats({
  filter,
  categoryNames,
}: {
  filter: ProductFilter | undefined;
  categoryNames: Map<string, string>;
}) {
  const [{ data, error }] = useQuery({
    query: ProductStatsDocument,
    variables: { filter },
    context: PRODUCT_RESULTS,
  });
  const overall = data?.products?.aggregates;
  const groups = data?.products?.groupedAggregates ?? [];
  return (
    <section aria-label="Prices">
      <h2>Prices</h2>
      <ErrorNotice error={error} />
      <table>
        <thead>
          <tr>
            <th>Category</th>
            <th className="number">Sum</th>
            <th className="number">Average</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((group) => {
            const categoryId = group.keys?.[0];
            return (
              <tr key={categoryId ?? 'none'}>
                <td>{categoryId ? (categoryNames.get(categoryId) ?? categoryId) : 'No category'}</td>
                <td className="number">{money(group.sum?.price)}</td>
                <td className="number">{money(group.average?.price)}</td>
              </tr>
            );
          })}
        </tbody>
        <tfoot>
          <tr>
            <th>All</th>
            <td className="number">{money(overall?.sum?.price)}</td>
            <td className="number">{money(overall?.average?.price)}</td>
          </tr>
        </tfoot>
      </table>
    </section>
  );
}
