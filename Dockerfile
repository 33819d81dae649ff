# The API image for docker-compose.yml (production-like: an external PostgreSQL, no embedded database).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY api api
COPY schema schema
COPY auth auth
COPY domain domain
COPY store store
RUN PIP_CONSTRAINT=/app/constraints.txt pip install --no-cache-dir . \
 && useradd --system --home /app hrss && mkdir -p /data && chown hrss /data
USER hrss
ENV HRSS_DATA_DIR=/data HRSS_HOST=0.0.0.0 PORT=8000
EXPOSE 8000
CMD ["hrss-credit", "serve", "--migrate"]
