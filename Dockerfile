# syntax=docker/dockerfile:1
# nhi-operator image: the operator bundle (dist/nhi-operator.js) as a non-root user on a slim
# Node.js 24 base.
#
#   docker build -t ghcr.io/nhi-operator/nhi-operator:$(node -p 'require("./package.json").version') .
#
# Stage 1 installs every dependency from the lock, compiles src/ to dist/ with tsc and bundles the
# operator into dist/nhi-operator.js with esbuild (src/dev/bundle.ts: half the heap at start), then
# prunes the dev dependencies; stage 2 copies only package.json, dist/ and the production
# node_modules. nhictl is in the image too, from tsc's dist/, e.g.
# `node dist/cli/main.js audit verify /var/lib/nhi-operator/<file>`.
# Install scripts are skipped: nothing the operator runs needs one (the two packages that have one,
# esbuild and node, are dev-only tools), and the compiler ships as a per-platform optional package.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# npm ci refuses the current lock because vite's optional dependency napi-windows-process-start-time
# is not in the registry (npm/cli#9846); npm install --no-save then installs the locked versions, as
# scripts/bootstrap.sh does. Drop the fallback once `npm ci` accepts the lock.
RUN npm ci --ignore-scripts || npm install --ignore-scripts --no-save
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle-operator.ts ./scripts/
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM ${NODE_IMAGE}
# Two malloc arenas, fixed mmap and trim thresholds: src/dev/node/images.ts says why.
ENV NODE_ENV=production MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
# Any non-root uid works: the files are root-owned and world-readable, and the operator writes only
# to its audit volume (/var/lib/nhi-operator) and /tmp. Numeric, so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080
# A 4 MiB young generation: src/dev/node/images.ts (OPERATOR_NODE_FLAGS) says why.
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/nhi-operator.js"]
