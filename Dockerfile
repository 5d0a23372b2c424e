# One image for every WhoElse service in docker-compose.yml: the directory, each council node and the
# one-off init job. Its entrypoint is the `whoelse` command; services choose a subcommand, or a script in
# docker/ that runs `whoelse` subcommands in order.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/whoelse
# Dependencies first, from pyproject.toml alone, so a change to the source reuses this layer instead of
# reinstalling every dependency.
COPY pyproject.toml /opt/whoelse/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY . /opt/whoelse
RUN pip install --no-deps . \
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
