# The monitor's image: the worker, the simulator and the CLI tools.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install --no-cache-dir ".[rocksdb]"
ENV MONITOR_WEB_HOST=0.0.0.0 \
    MONITOR_DATA_DIR=/data \
    MONITOR_STORE=rocksdb://
VOLUME /data
EXPOSE 6066
ENTRYPOINT ["monitor"]
CMD ["worker"]
