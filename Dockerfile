# qudag-server: one binary (deno compile, with the compile task's narrow
# permission flags) plus the native crypto library, run as a non-root user
# with its data on one volume at /data. The build context is an allow-list
# (.dockerignore): keys and secrets never reach it.

# 1. The native crypto library (Rust cdylib), built as `deno task build:native` builds it: for x86-64-v3 (its
#    .cargo/config.toml) and, beside it, for AVX-512 (x86-64-v4), which the node opens where the CPU has it.
FROM rust:1-slim-bookworm AS native
WORKDIR /src/native
COPY native/Cargo.toml native/Cargo.lock ./
COPY native/.cargo/ .cargo/
COPY native/src/ src/
COPY scripts/build_native.sh /src/scripts/build_native.sh
RUN sh /src/scripts/build_native.sh --locked

# 2. The single binary. npm brings Deno itself, exactly as package-lock.json pins it (every platform's
#    @deno/* package is in the lock, so npm ci accepts it). The compile task leaves node_modules' own
#    Deno binary and the type packages out of the embedded files (101 MB -> 7 MB).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY deno.json main.ts ./
COPY src/ src/
COPY wasm/qudag_core.wasm wasm/qudag_core.wasm
RUN ./node_modules/.bin/deno task compile

# 3. Runtime: /app/qudag-server, `qudag` on the PATH, the genesis at /etc/qudag/genesis.json (fly.toml
#    [[files]]), key files at /keys (fly.toml [[files]] from secrets), data at /data.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home qudag \
 && mkdir -p /data /etc/qudag /keys /app \
 && chown qudag:qudag /data
# Both builds (the glob: where the AVX-512 one could not be built, the image still builds with the other).
COPY --from=native /src/native/target/release/libqudag_native*.so /app/
COPY --from=build /src/dist/qudag-server /app/qudag-server
COPY scripts/fly/qudag /usr/local/bin/qudag
# glibc's allocator: two arenas and fixed mmap/trim thresholds (128 KiB), so buffers of a peer frame's or a
# snapshot's size go back to the system when freed instead of fragmenting the heap. bench:soak, 5 minutes of 100
# transfers/s on 4 local nodes: largest RSS growth per node 26-36 % with glibc's defaults, 8-29 % with these.
ENV MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_TRIM_THRESHOLD_=131072
ENV QUDAG_DATA_DIR=/data \
    QUDAG_GENESIS_FILE=/etc/qudag/genesis.json \
    QUDAG_NATIVE_LIB=/app/libqudag_native.so \
    QUDAG_HTTP_HOST=:: \
    QUDAG_METRICS_HOST=:: \
    NETWORK_MODE=testnet
USER qudag
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080 8081 9090 4001
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/app/qudag-server", "health", "--node", "http://127.0.0.1:8080"]
ENTRYPOINT ["/app/qudag-server"]
CMD ["start"]
