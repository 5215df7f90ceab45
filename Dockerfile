# Production image of the hub: one image, its role chosen by the command (worker, connect...).
FROM python:3.11-slim
WORKDIR /app
# The whole package from the build context (.dockerignore keeps out what is not source):
# hand-picked folders once left a package out and the worker could not start.
COPY . .
RUN pip install --no-cache-dir . && useradd --create-home hub && mkdir -p /data && chown hub /data
USER hub
ENV HUB_DATA_DIR=/data HUB_API_HOST=0.0.0.0 HUB_LOG_FORMAT=json
ENTRYPOINT ["hub"]
CMD ["worker"]
