# One image for every WhoElse service in docker-compose.yml: the directory, each council node and the
# one-off init job. Its entrypoint is the `whoelse` command; services choose a subcommand, or a script in
# docker/ that runs `whoelse` subcommands in order.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/whoelse
COPY . /opt/whoelse
RUN pip install . \
    && chmod 0755 docker/*.sh \
    && whoelse --help > /dev/null

# The services run unprivileged; only the init job runs as root, to prepare fresh volumes.
RUN useradd --system --create-home --uid 10001 whoelse \
    && mkdir -p /node /directory /data \
    && chown whoelse:whoelse /node /directory /data
USER whoelse

# directory (mutual TLS), a node's federation port (mutual TLS), a node's practitioner port (TLS)
EXPOSE 7000 7101 7201
ENTRYPOINT ["whoelse"]
CMD ["--help"]
