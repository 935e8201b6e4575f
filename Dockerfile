# One image for every hubsense server process (ingest, API, analytics scheduler, simulator).
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 hubsense
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hubsense ./hubsense
COPY edge ./edge
COPY ingest ./ingest
COPY analytics ./analytics
COPY dashboards ./dashboards
COPY simulators ./simulators
COPY firmware-config ./firmware-config
RUN pip install --no-cache-dir ".[all]"
USER hubsense
ENV NUMBA_CACHE_DIR=/tmp/numba-cache
ENTRYPOINT []
CMD ["hubsense", "--help"]
