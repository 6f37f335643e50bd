# syntax=docker/dockerfile:1
# tenantgraph API image. It expects an external PostgreSQL (DATABASE_URL and friends);
# the embedded PostgreSQL of `npm start` is for development and is left out here.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional drops the embedded PostgreSQL binaries; --omit=dev the test tools.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# The sources compiled to JavaScript (npm run build): Node's type stripping would cost
# every process about 26 MB.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY bench/api-process.ts ./bench/
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=5678
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json .gmrc schema.graphql trusted-documents.json ./
COPY migrations ./migrations
COPY --from=build /app/dist/src ./dist/src
USER node
EXPOSE 5678
# The health check asks the port the API really listens on, whatever PORT is set to.
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 5678) + '/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly (not npm) so SIGTERM reaches the server and it drains gracefully, with
# npm start's flags (package.json; test/runtime-flags.test.ts keeps them equal): 16 MB
# semi-spaces instead of V8's 64 keep the process near 230 MB RSS under load (about 320
# without; the price is some 8% of CPU per request), and the old space is capped at 256 MB
# (docs/production.md, "Memory"). API_PROCESSES=auto runs one API
# process per core the container may use (docs/production.md, "Many cores").
CMD ["node", "--max-old-space-size=256", "--max-semi-space-size=16", "dist/src/main.js"]
