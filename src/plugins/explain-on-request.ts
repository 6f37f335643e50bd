// In development, the plans and SQL of an operation (grafast's explain) only when the
// request asks for them with `X-GraphQL-Explain: plan,sql`, as GraphiQL (Ruru) does when
// its explain tool is on. Explain stays enabled in the preset, so Ruru offers the tool;
// without the header a response is as small as in production (the README's example
// answered 15.5 KB with explain, 0.7 KB without).
import { version } from '../version.ts';

const HEADER = 'x-graphql-explain';

function requestedExplain(requestContext: Partial<Grafast.RequestContext> | undefined): string[] {
  const value = requestContext?.expressv4?.req.headers[HEADER];
  const header = Array.isArray(value) ? value.join(',') : value;
  return header
    ? header
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)
    : [];
}

export const ExplainOnRequestPlugin: GraphileConfig.Plugin = {
  name: 'ExplainOnRequestPlugin',
  version,
  grafast: {
    middleware: {
      execute(next, event) {
        const { args } = event;
        const asked = requestedExplain(args.requestContext);
        const preset = args.resolvedPreset;
        if (preset?.grafast?.explain) {
          args.resolvedPreset = {
            ...preset,
            grafast: { ...preset.grafast, explain: asked.length > 0 ? asked : false },
          };
        }
        return next();
      },
    },
  },
};
