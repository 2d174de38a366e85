# bdnex-core as a service beside Komga or Kavita (README, "Run as a service").
#
#   docker build -t bdnex-core .            (podman build reads this file too)
#   docker run --rm -v bdnex-data:/data -v /srv/comics:/library bdnex-core tag /library --dry-run
#
# BASE: any Debian-based image with python3 (3.11 or later) and its venv module. The default is the
# official Python slim image; CI builds from a base made of Debian's own packages instead.
ARG BASE=python:3.12-slim-bookworm

FROM ${BASE} AS build
# pip reads PyPI in this stage only: its virtualenv is all the final image takes from it
# (PIP_CERT, PIP_INDEX_URL: for a build behind a proxy with its own certificate authority)
ARG PIP_CERT=""
ARG PIP_INDEX_URL=""
COPY pyproject.toml README.md schema.sql /src/
COPY bdnex_core /src/bdnex_core
COPY plugins/komga /src/plugins/komga
COPY plugins/kavita /src/plugins/kavita
RUN set -eu; \
    [ -n "$PIP_CERT" ] || unset PIP_CERT; \
    [ -n "$PIP_INDEX_URL" ] || unset PIP_INDEX_URL; \
    python3 -m venv /opt/bdnex; \
    /opt/bdnex/bin/pip install --no-cache-dir --disable-pip-version-check --quiet \
        "/src[notify,postgresql]" /src/plugins/komga /src/plugins/kavita; \
    /opt/bdnex/bin/pip uninstall --yes --quiet setuptools pip

FROM ${BASE}
# CBR through bsdtar, CB7 through 7-Zip (the core reads CBZ itself)
RUN set -eu; \
    apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends 7zip libarchive-tools >/dev/null; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log
COPY --from=build /opt/bdnex /opt/bdnex
# /data: configuration (config.yaml), database, cache and session logs (BDNEX_HOME); writable by any
# --user UID:GID, so that a fresh volume is too. The heartbeat of a long-running command stays in the
# container (/tmp), where `bdnex-core health` reads it.
RUN mkdir -p /data /library && chmod 1777 /data
ENV PATH=/opt/bdnex/bin:$PATH \
    BDNEX_HOME=/data \
    BDNEX_HEALTH_FILE=/tmp/bdnex-health.json \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
VOLUME /data
WORKDIR /data
# SIGTERM (docker/podman stop) is taken as Ctrl-C: a tag run finishes the files in flight and pauses
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=20s --start-period=2m --retries=3 CMD ["bdnex-core", "health"]
ENTRYPOINT ["bdnex-core"]
CMD ["--help"]
