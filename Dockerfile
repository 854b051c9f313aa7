# The ACN server on CPU: `acn serve` on 0.0.0.0:8000 with the data directory as a volume.
# NOTE: no Docker engine runs where this file was written, so this image has never been built.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ACN_DATA_DIR=/data \
    ACN_HOST=0.0.0.0 \
    ACN_PORT=8000

RUN useradd --create-home --uid 10001 acn \
    && mkdir /data \
    && chown acn:acn /data

WORKDIR /app
# The CPU build of torch first, from PyTorch's CPU index, so that the project install does not pull a CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md alembic.ini ./
COPY training ./training
COPY cli ./cli
COPY server ./server
COPY migrations ./migrations
COPY web ./web
# Editable, so that the server finds migrations/ and web/ beside its package directory.
RUN pip install -e .

USER acn
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
ENTRYPOINT ["acn", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8000"]
