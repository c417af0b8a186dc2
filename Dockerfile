# relbot: one replica. Non-root, git for syncs, healthcheck on /healthz (--health-port in
# Socket Mode, the HTTP port otherwise). See docs/deploy.md.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 relbot

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install --no-cache-dir . && rm -rf /root/.cache

USER relbot
WORKDIR /home/relbot
ENV RELBOT_CONFIG=/etc/relbot/relbot.yml \
    RELBOT_DATA_DIR=/home/relbot/data \
    RELBOT_HEALTH_PORT=8080 \
    PYTHONUNBUFFERED=1
EXPOSE 3000 8080

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('RELBOT_HEALTH_PORT','8080'), timeout=4)"

# Socket Mode by default (SLACK_APP_TOKEN set); HTTP: command ["run", "--http", ...]
ENTRYPOINT ["relbot"]
CMD ["run", "--host", "0.0.0.0", "--health-port", "8080"]
