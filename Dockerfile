FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CLAIMDESK_DATA_DIR=/app/var
WORKDIR /app
COPY requirements/runtime.txt requirements/runtime.txt
# The pinned versions first (a layer of its own: it changes only when the lock does), then the desk.
RUN pip install --no-cache-dir -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY shared shared
COPY claimdesk claimdesk
COPY bot bot
COPY backoffice backoffice
COPY migrations migrations
RUN pip install --no-cache-dir --no-deps -e . \
    && useradd --system --home /app claimdesk && mkdir -p /app/var && chown claimdesk /app/var
USER claimdesk
EXPOSE 8080 8081
CMD ["claimdesk", "run"]
