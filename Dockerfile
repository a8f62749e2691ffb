# qudag-server: one binary (deno compile) + the native crypto library, run as a
# non-root user with its data on one volume at /data.

# 1. The native crypto library (Rust cdylib).
FROM rust:1-slim-bookworm AS native
WORKDIR /src/native
COPY native/ ./
RUN cargo build --release --locked

# 2. The single binary. npm brings Deno itself (pinned in package.json).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY deno.json main.ts ./
COPY src/ src/
COPY wasm/ wasm/
RUN ./node_modules/.bin/deno task compile

# 3. Runtime.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home /data qudag && mkdir -p /data /etc/qudag && chown qudag /data
COPY --from=native /src/native/target/release/libqudag_native.so /app/libqudag_native.so
COPY --from=build /src/dist/qudag-server /app/qudag-server
ENV QUDAG_DATA_DIR=/data \
    QUDAG_NATIVE_LIB=/app/libqudag_native.so \
    QUDAG_HTTP_HOST=0.0.0.0 \
    QUDAG_METRICS_HOST=0.0.0.0 \
    NETWORK_MODE=testnet
USER qudag
VOLUME ["/data"]
EXPOSE 8080 8081 9090 4001
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/app/qudag-server", "status", "--node", "http://127.0.0.1:8080", "--json"]
ENTRYPOINT ["/app/qudag-server"]
CMD ["start"]
