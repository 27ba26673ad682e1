# syntax=docker/dockerfile:1
# DeepIntShield: multi-stage build. Build stage compiles TypeScript (and the
# native better-sqlite3 addon); the runtime stage carries production
# dependencies only and runs as a non-root user.

FROM node:20-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev

FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    DEEPINTSHIELD_CONFIG=/etc/deepintshield/config.json
WORKDIR /app
RUN groupadd --system --gid 10001 deepintshield \
 && useradd --system --uid 10001 --gid deepintshield --home-dir /app --shell /usr/sbin/nologin deepintshield \
 && mkdir -p /data /etc/deepintshield \
 && chown deepintshield:deepintshield /data
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root config.example.json /etc/deepintshield/config.json
USER 10001:10001
WORKDIR /data
EXPOSE 8080 10101/tcp 10101/udp
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains (see docs/operations.md); give `docker stop -t 45` or more.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["start"]
