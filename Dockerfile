# One image for every Python service (migrate, connector, consumer, marts,
# generator); docker compose gives each its own command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# The marts service mounts a named volume on /home/cdc/marts-data. A new volume takes the owner of the
# image's folder; were the folder missing, Docker would create it for root and the cdc user could not write.
RUN useradd --create-home --uid 10001 cdc && install -d -o cdc -g cdc /home/cdc/marts-data
WORKDIR /app

# Dependencies in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY README.md ./
COPY cdc ./cdc
COPY core ./core
COPY connectors ./connectors
COPY consumer ./consumer
COPY generator ./generator
COPY marts ./marts
RUN pip install --no-deps .

USER cdc
ENV MARTS_DATA_DIR=/home/cdc/marts-data
CMD ["cdc", "--help"]
