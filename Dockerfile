# tokentrail's server side (collector, UI, SQL interface): `pip install tokentrail[server]`
# in a slim Python image, run as an unprivileged user. deploy/README.md shows the roles:
#   docker run ... tokentrail serve --no-collector --clickhouse http://user:pw@ch:8123
# No Docker engine can run where this repository is tested: tests/deploy checks this file
# (base images, user, ports, what is copied) but has never built it.

# --- build: the wheel, from the source tree only (.dockerignore keeps the rest out) ---
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tokentrail ./tokentrail
COPY instrumentation ./instrumentation
COPY emulator ./emulator
COPY collector ./collector
COPY web ./web
COPY analysis ./analysis
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /dist .

# --- run: the wheel with its server extra, nothing else ---------------------------
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /dist /tmp/dist
RUN pip install "$(ls /tmp/dist/tokentrail-*.whl)[server]" && rm -rf /tmp/dist \
    && useradd --system --uid 10001 --gid 0 --home-dir /var/lib/tokentrail \
       --create-home --shell /usr/sbin/nologin tokentrail \
    && mkdir -p /var/lib/tokentrail/data && chown -R 10001:0 /var/lib/tokentrail \
    && chmod -R g=u /var/lib/tokentrail
# In a container the servers listen on every interface, so tokentrail refuses to start
# until the tokens are set (TOKENTRAIL_INGEST_TOKEN, TOKENTRAIL_UI_TOKEN, and
# TOKENTRAIL_SQL_TOKEN for an embedded store's SQL interface).
ENV TOKENTRAIL_HOST=0.0.0.0 \
    TOKENTRAIL_DATA=/var/lib/tokentrail/data
USER 10001:0
WORKDIR /var/lib/tokentrail
VOLUME ["/var/lib/tokentrail/data"]
# OTLP/gRPC, OTLP/HTTP, UI, SQL interface (embedded store only)
EXPOSE 4317 4318 8765 8123
ENTRYPOINT ["tokentrail"]
CMD ["serve"]
