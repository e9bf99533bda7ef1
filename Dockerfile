# DocuVault container image: one binary on debian:bookworm-slim.
#
#   docker build -t docuvault .
#   docker run -p 8080:8080 -v docuvault-data:/data docuvault            # embedded defaults
#   docker compose up -d                                                 # PostgreSQL + MinIO + Redis
#   docker run --rm docuvault migrate | openapi | --help                 # other subcommands
#
# The runtime image runs as uid/gid 10001, keeps its state under /data (SQLite file, local
# objects, and the generated secret key when SECRET_KEY is not set) and listens on
# 0.0.0.0:8080. Needs BuildKit (the default builder since Docker 23; `DOCKER_BUILDKIT=1`
# on Docker 20.10). No `# syntax=` line on purpose: the builder's built-in Dockerfile
# frontend is enough, so the build needs no frontend image from a registry.
#
# Where the binary comes from (build argument DOCUVAULT_BINARY):
#   source    (default) compiled from this context in the `binary-source` stage;
#   prebuilt  copied from `./docuvault` at the root of the build context. CI uses this
#             with a context directory holding only the release binary it already built:
#               docker build --build-arg DOCUVAULT_BINARY=prebuilt -f Dockerfile CTXDIR
#             The binary must be built for glibc <= bookworm's (2.36).
# Only the selected stage is built (BuildKit skips unused stages).
ARG DOCUVAULT_BINARY=source

############################ build from source ################
FROM rust:1.95-bookworm AS binary-source
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target/ between builds. The binary is copied out of
# the cache mount so the next stage can see it.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin docuvault \
 && install -D -m 0755 target/release/docuvault /out/docuvault \
 && /out/docuvault --version

############################ or take a prebuilt binary ########
FROM scratch AS binary-prebuilt
COPY docuvault /out/docuvault

FROM binary-${DOCUVAULT_BINARY} AS binary

############################ runtime ##########################
FROM debian:bookworm-slim AS runtime
LABEL org.opencontainers.image.title="DocuVault" \
      org.opencontainers.image.description="Self-hosted multi-user document vault" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"
# ca-certificates: TLS to S3/SMTP/AI providers; curl: the HEALTHCHECK below;
# tesseract-ocr (+ English, German and orientation data) and poppler-utils (pdftoppm renders
# scanned PDF pages, pdftotext reads PDFs the built-in parser cannot): OCR of scans.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
      tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-osd poppler-utils \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 docuvault \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app \
      --shell /usr/sbin/nologin docuvault \
 && mkdir -p /app /data \
 && chown 10001:10001 /app /data
COPY --from=binary /out/docuvault /usr/local/bin/docuvault
# Fails the build if the binary cannot run on this base (e.g. built against a newer glibc).
RUN ["/usr/local/bin/docuvault", "--version"]
WORKDIR /app
ENV DOCUVAULT__DATA_DIR=/data \
    DOCUVAULT__SERVER__HOST=0.0.0.0
USER 10001:10001
VOLUME /data
EXPOSE 8080
# /health is 200 when database, storage and queue are reachable, 503 otherwise.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${DOCUVAULT__SERVER__PORT:-8080}/health" || exit 1
# docuvault drains in-flight requests on SIGTERM (server.shutdown_timeout_secs, 30 s);
# give it that long before Docker's SIGKILL: `docker stop -t 35` / compose stop_grace_period.
STOPSIGNAL SIGTERM
# The binary is the entrypoint and `serve` the default command, so
# `docker run IMAGE migrate` runs another subcommand.
ENTRYPOINT ["/usr/local/bin/docuvault"]
CMD ["serve"]
