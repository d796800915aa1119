# syntax=docker/dockerfile:1
#
#   docker build -t maintenance .
#   docker run -d --name maintenance -p 8000:8000 -v maint:/data maintenance
#
# Templates, locales, static files and migrations are compiled into the binary; the image
# holds the binary alone. State (database, photos, signing key) lives in the /data volume.

FROM rust:1-slim-bookworm AS build
# gcc builds the bundled SQLite, ring and aws-lc (cc builder); cmake is aws-lc's fallback.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mounts keep downloaded crates and compiled dependencies between builds; the
# target folder is a cache, so the binary is copied out of it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin maintenance \
 && install -m 0755 target/release/maintenance /usr/local/bin/maintenance

FROM debian:bookworm-slim
# The LLM API and SMTP over TLS check certificates against the system's roots.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 maintenance \
 && useradd --system --uid 10001 --gid maintenance --home-dir /data --shell /usr/sbin/nologin maintenance \
 && install -d -o maintenance -g maintenance -m 0700 /data
COPY --from=build /usr/local/bin/maintenance /usr/local/bin/maintenance

ENV DATABASE_URL=/data/maintenance.db \
    HOST=0.0.0.0 \
    PORT=8000
VOLUME /data
WORKDIR /data
USER maintenance
EXPOSE 8000
# Configuration, database and migrations, free disk, and /health answering; the full
# integrity check reads the whole file, so it is left to `maintenance check` run by hand.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s \
  CMD ["maintenance", "check", "--serving", "--no-llm", "--no-integrity"]
# docker stop sends SIGTERM: the server drains and checkpoints (allow it: docker stop -t 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["maintenance"]
CMD ["serve"]
