# syntax=docker/dockerfile:1
# tenantgraph API image. It expects an external PostgreSQL (DATABASE_URL and friends);
# the embedded PostgreSQL of `npm start` is for development and is left out here.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional drops the embedded PostgreSQL binaries; --omit=dev the test tools.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=5678
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json .gmrc schema.graphql trusted-documents.json ./
COPY migrations ./migrations
COPY src ./src
USER node
EXPOSE 5678
# The health check asks the port the API really listens on, whatever PORT is set to.
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 5678) + '/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly (not npm) so SIGTERM reaches the server and it drains gracefully.
# A 256 MB old space and 16 MB semi-spaces keep the process near 220 MB RSS under load,
# also while a noisy tenant floods it (bench/README.md, "Noisy neighbour"); V8's default
# young generation alone would take it past 300 MB. Smaller old spaces make the garbage
# collector thrash.
CMD ["node", "--max-old-space-size=256", "--max-semi-space-size=16", "src/main.ts"]
