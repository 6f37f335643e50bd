// What GraphiQL (Ruru) shows someone opening it for the first time: the README's first
// query, ready to run, after a note that a request without a token is anonymous and
// where a token comes from. test/web-app.test.ts checks the query against README.md.

/** The first `graphql` block of README.md. */
export const README_QUERY = `{
  currentTenant { name }
  products(orderBy: PRICE_DESC) {
    totalCount
    nodes { name price category { name } }
    aggregates { sum { price } average { price } max { price } }
    groupedAggregates(groupBy: [CATEGORY_ID]) { keys sum { price } }
  }
}`;

function tokenHint(development: boolean): string {
  const source = development
    ? '`npm start` printed one for each demo user (GET /dev/demo-users lists them too)'
    : 'your identity provider issues it';
  return [
    '# No token yet: a request without an Authorization header is anonymous and may',
    '# read no tenant data (FORBIDDEN). Open Headers below and add',
    '#   {"Authorization": "Bearer <token>"}',
    `# where ${source}.`,
  ].join('\n');
}

export function graphiqlConfig(development: boolean): NonNullable<GraphileConfig.Preset['ruru']> {
  return {
    clientConfig: {
      defaultQuery: `${tokenHint(development)}\n\n${README_QUERY}\n`,
      // GraphiQL reads headers as JSON with comments.
      defaultHeaders: '{\n  // "Authorization": "Bearer <token>"\n}\n',
    },
  };
}
