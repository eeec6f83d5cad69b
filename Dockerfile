# promptpulse server. Build: docker build -t promptpulse .
# Run:   docker run -p 8000:8000 -e DATABASE_URL=postgresql://user:pass@host/db promptpulse
# Without DATABASE_URL it keeps a SQLite file in /data: mount a volume there, or it is lost with
# the container.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md CHANGELOG.md ./
COPY src ./src
COPY migrations ./migrations
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels '.[server,postgres]'

FROM python:3.11-slim
# setpriv (util-linux) drops from root to promptpulse in the entrypoint: fail the build without it
RUN useradd --create-home --uid 10001 promptpulse && mkdir /data && chown promptpulse /data \
 && setpriv --version
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels 'promptpulse[server,postgres]' \
 && rm -rf /wheels
COPY docker/entrypoint /usr/local/bin/promptpulse-entrypoint
ENV PROMPTPULSE_HOME=/data \
    HOST=0.0.0.0 \
    PORT=8000 \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/health', timeout=4)"
# No USER: the container starts as root so that the entrypoint can hand a volume mounted over
# /data (root's, on Railway) to promptpulse; it then runs the command as promptpulse. Commands
# run in the container later go through it too: docker exec CONTAINER promptpulse-entrypoint
# promptpulse-server create-user NAME
ENTRYPOINT ["promptpulse-entrypoint"]
# migrates the database, then serves; HOST and PORT come from the environment
CMD ["promptpulse-server", "serve"]
