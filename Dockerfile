# Production image of the hub: one image for every service, its role chosen by the command
# (worker, connect, topics ensure). Build context: this folder, trimmed by .dockerignore.
FROM python:3.11-slim

WORKDIR /app
# Dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt

# Then the package itself, the whole of it: hand-picked folders once left one out.
COPY . .
RUN pip install --no-cache-dir --no-deps . \
 && useradd --create-home --uid 10001 hub && mkdir -p /data && chown hub /data

USER hub
ENV HUB_DATA_DIR=/data HUB_API_HOST=0.0.0.0 HUB_LOG_FORMAT=json
EXPOSE 6066
# Workers answer /health on the API port (503 while the broker is unreachable). Services
# without a web server (connect, topics) switch this off in docker-compose.yml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:6066/health', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["hub"]
CMD ["worker"]
