# PostgreSQL 15 under Patroni, from Debian 12's own packages (the same ones the failover
# test runs: tests/failover). Used by the `ha` profile of docker-compose.yml.
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       postgresql-15 patroni python3-psycopg2 \
    && rm -rf /var/lib/apt/lists/*
COPY patroni.yml post-bootstrap.sh /etc/patroni/
RUN chmod 755 /etc/patroni/post-bootstrap.sh \
    && mkdir -p /var/lib/postgresql/data && chown -R postgres:postgres /var/lib/postgresql
USER postgres
EXPOSE 5432 8008
CMD ["patroni", "/etc/patroni/patroni.yml"]
