# The atlas service image: API, Celery worker and migrations all run from it.
# CPU by default; the compose `gpu` profile builds it with a CUDA wheel index instead.
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# A C compiler: the atlas builds its CPU kernels (atlas/networks/kernels) on first use.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

# torch first, from the PyTorch index, so the project's install finds it satisfied.
RUN pip install --index-url "${TORCH_INDEX}" torch==2.13.0

COPY pyproject.toml README.md alembic.ini ./
COPY atlas ./atlas
COPY api ./api
COPY worker ./worker
COPY migrations ./migrations
# The shipped charts, for the compose `charts` service to import.
COPY charts ./charts
# Editable: migrations and alembic.ini are found beside the source, where the store looks.
RUN pip install -e . \
    && useradd --create-home --uid 1000 atlas \
    && mkdir -p /data && chown atlas /data

USER atlas
ENV ATLAS_DATA_DIR=/data
EXPOSE 8000
CMD ["atlas", "serve", "--host", "0.0.0.0", "--port", "8000"]
