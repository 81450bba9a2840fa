# slo-service container. `docker run -p 8080:8080 IMAGE` starts the demo (a simulated model server, data within a
# minute); `docker run IMAGE serve` runs the config mounted at /etc/slo-service (docs/operations.md, Container).
# The base image is pinned by version and digest (multi-arch index): rebuilds get the same Python and Debian.
FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SLO_SERVICE_HOST=0.0.0.0 \
    SLO_SERVICE_PORT=8080 \
    SLO_SERVICE_DATABASE_URL=sqlite:////data/slo-service.db \
    SLO_SERVICE_DATA_DIR=/data \
    SLO_SERVICE_CONFIG='["/etc/slo-service"]'

# The runtime user owns /data only: the code and the config stay root's, read-only to the service.
RUN groupadd --system --gid 10001 slo && useradd --system --uid 10001 --gid slo --home-dir /data --no-create-home slo \
    && mkdir -p /app /data /etc/slo-service && chown slo:slo /data

WORKDIR /app
# 1. Dependencies, in a layer of their own: it is rebuilt only when pyproject.toml changes, not on every code
# change. A stub package lets pip resolve and install them; the stub itself is removed again.
COPY pyproject.toml README.md ./
RUN mkdir slo_service && printf '"""stub"""\n__version__ = "0"\n' > slo_service/__init__.py \
    && pip install . && pip uninstall --yes slo-service && rm -rf slo_service build ./*.egg-info

# 2. The code. Editable (--no-deps: everything is installed above) keeps alembic/ beside the package, where
# `slo-service db upgrade` finds it; the demo reads examples/.
COPY alembic.ini ./
COPY alembic ./alembic
COPY examples ./examples
COPY slo_service ./slo_service
RUN pip install --no-deps -e . && python -m compileall -q slo_service
COPY examples/slo-service.yaml /etc/slo-service/slo-service.yaml

USER slo
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"

# serve and demo migrate the database before they start.
ENTRYPOINT ["slo-service"]
CMD ["demo"]
