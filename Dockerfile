# Production image of the hub: one image, its role chosen by the command (worker, connect...).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY connectors ./connectors
COPY projections ./projections
RUN pip install --no-cache-dir . && useradd --create-home hub && mkdir -p /data && chown hub /data
USER hub
ENV HUB_DATA_DIR=/data HUB_API_HOST=0.0.0.0 HUB_LOG_FORMAT=json
ENTRYPOINT ["hub"]
CMD ["worker"]
