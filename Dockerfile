# imhotep's production image: a release build on the official Rust image, run as a non-root user on
# Debian slim. Build with `docker build -t imhotep .`; scripts/build-release.sh is the same build without Docker.

# ---- build ----------------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# Dependencies first, with dummy sources: this layer is reused until Cargo.toml, Cargo.lock or
# build.rs change, so editing the code does not recompile every crate.
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir -p src migrations \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/.fingerprint/imhotep-* target/release/deps/imhotep-* target/release/deps/libimhotep-*

# The crate itself. Migrations, templates and the common-password list are embedded at compile time.
COPY assets ./assets
COPY migrations ./migrations
COPY src ./src
RUN cargo build --release --locked

# ---- runtime --------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 imhotep \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin imhotep

# config/default.toml and config/production.toml are read relative to the working directory.
WORKDIR /app
COPY --from=build /src/target/release/imhotep /usr/local/bin/imhotep
COPY config ./config
RUN chown imhotep:imhotep /app

USER 10001:10001
ENV HOST=0.0.0.0 PORT=8080 IMHOTEP_ENV=production
EXPOSE 8080
ENTRYPOINT ["imhotep"]
CMD ["serve"]
