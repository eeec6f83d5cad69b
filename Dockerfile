# promptpulse server. Build: docker build -t promptpulse .
# Run:   docker run -p 8000:8000 -e DATABASE_URL=postgresql://user:pass@host/db promptpulse
# Without DATABASE_URL it keeps a SQLite file in /data (mount a volume there).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md CHANGELOG.md ./
COPY src ./src
COPY migrations ./migrations
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels '.[server,postgres]'

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 promptpulse && mkdir /data && chown promptpulse /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels 'promptpulse[server,postgres]' \
 && rm -rf /wheels
USER promptpulse
ENV PROMPTPULSE_HOME=/data \
    HOST=0.0.0.0 \
    PORT=8000 \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/health', timeout=4)"
# migrates the database, then serves; HOST and PORT come from the environment
CMD ["promptpulse-server", "serve"]
