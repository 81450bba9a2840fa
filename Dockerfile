# slo-service container: slim Python, non-root, migrations run before the service starts.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SLO_SERVICE_HOST=0.0.0.0 \
    SLO_SERVICE_PORT=8080 \
    SLO_SERVICE_DATABASE_URL=sqlite:////data/slo-service.db \
    SLO_SERVICE_SPILL_DIR=/data/spill \
    SLO_SERVICE_CONFIG='["/etc/slo-service"]'

RUN groupadd --system --gid 10001 slo && useradd --system --uid 10001 --gid slo --home /app slo \
    && mkdir -p /app /data /etc/slo-service && chown slo:slo /data

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY slo_service ./slo_service
COPY alembic ./alembic
COPY examples/slo-service.yaml /etc/slo-service/slo-service.yaml
# Editable install keeps alembic/ beside the package, where `slo-service db upgrade` finds it.
RUN pip install -e . && chown -R slo:slo /app

USER slo
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"

# Migrations first (also done by serve; explicit so a failing migration stops the container early).
CMD ["sh", "-c", "slo-service db upgrade && exec slo-service serve"]
